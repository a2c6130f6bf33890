/**
 * The end of a run: wait until every till's outbox is empty and every till's
 * POS collections equal the hub's (without the hub's `_sync` and engine
 * collections), and stay so for a few seconds.
 */
import { EJSON } from 'bson';
import type { Db, Document } from 'mongodb';

const STABLE_MS = 3_000;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface TillView {
  name: string;
  pos: Db;
  engine: Db;
}

/** collection -> document id (as JSON) -> canonical JSON of the document without `_sync`. */
export type Snapshot = Map<string, Map<string, string>>;

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = canonical((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** A document as compared: `_sync` removed, keys sorted, BSON types in relaxed extended JSON. */
export function docKey(doc: Document): string {
  const { _sync: _meta, ...rest } = doc;
  return JSON.stringify(canonical(EJSON.serialize(rest, { relaxed: true })));
}

export async function snapshot(db: Db): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  for (const name of names.sort()) {
    if (name.startsWith('_tillsync') || name.startsWith('system.')) continue;
    const docs = new Map<string, string>();
    for (const doc of await db.collection(name).find({}).toArray()) docs.set(JSON.stringify(EJSON.serialize(doc._id)), docKey(doc));
    out.set(name, docs);
  }
  return out;
}

/** What differs between a till and the hub, one line per collection (empty: equal). */
export function differences(till: string, hub: Snapshot, local: Snapshot): string[] {
  const lines: string[] = [];
  for (const name of new Set([...hub.keys(), ...local.keys()])) {
    const h = hub.get(name) ?? new Map<string, string>();
    const l = local.get(name) ?? new Map<string, string>();
    const missing = [...h.keys()].filter((k) => !l.has(k));
    const extra = [...l.keys()].filter((k) => !h.has(k));
    const differing = [...l.keys()].filter((k) => h.has(k) && h.get(k) !== l.get(k));
    if (missing.length + extra.length + differing.length === 0) continue;
    const first = differing[0];
    lines.push(
      `${till} ${name}: missing ${missing.length} [${missing.slice(0, 3).join(', ')}], extra ${extra.length} [${extra.slice(0, 3).join(', ')}], differing ${differing.length}` +
        (first ? ` e.g. ${first}: till ${l.get(first)} hub ${h.get(first)}` : ''),
    );
  }
  return lines;
}

export interface SettleResult {
  converged: boolean;
  /** Milliseconds from the start of the wait to the first of the stable equal snapshots. */
  ms: number;
  differences: string[];
  outboxes: Record<string, number>;
  hub: Snapshot;
}

export async function waitQuiescent(hubDb: Db, tills: TillView[], timeoutMs: number): Promise<SettleResult> {
  const started = Date.now();
  let equalSince: number | undefined;
  let equalDigest = '';
  let last: SettleResult = { converged: false, ms: 0, differences: ['not compared yet'], outboxes: {}, hub: new Map() };
  while (Date.now() - started < timeoutMs) {
    try {
      const outboxes: Record<string, number> = {};
      for (const t of tills) outboxes[t.name] = await t.engine.collection('outbox').countDocuments();
      const hub = await snapshot(hubDb);
      const diffs: string[] = [];
      for (const t of tills) diffs.push(...differences(t.name, hub, await snapshot(t.pos)));
      const pending = Object.entries(outboxes).filter(([, n]) => n > 0);
      for (const [name, n] of pending) diffs.push(`${name} outbox still holds ${n} change(s)`);
      last = { converged: false, ms: Date.now() - started, differences: diffs, outboxes, hub };
      if (diffs.length === 0) {
        const digest = JSON.stringify([...hub].map(([c, docs]) => [c, [...docs]]));
        if (equalSince === undefined || digest !== equalDigest) {
          equalSince = Date.now();
          equalDigest = digest;
        } else if (Date.now() - equalSince >= STABLE_MS) {
          return { ...last, converged: true, ms: equalSince - started };
        }
      } else equalSince = undefined;
    } catch (err) {
      last = { ...last, differences: [`could not compare: ${(err as Error).message}`] };
      equalSince = undefined;
    }
    await sleep(500);
  }
  return last;
}
