/**
 * The invariants, checked once the healed system has settled:
 *
 * - converged: every till equals the hub (settle.ts).
 * - exact single-writer state: each order, note and counter on the hub is what
 *   its only writer last wrote — nothing lost, nothing applied twice (counter
 *   totals and sequence numbers), no deleted one back.
 * - no anomalies: no writer found its own document changed under it.
 * - every acknowledged till write to a shared menu document reached the hub
 *   (seen by the hub observer), or is recorded as a conflict loser on its
 *   till, or was superseded by a later write of the same till to it.
 * - every final menu document is one known write's content; every missing one
 *   was deleted by someone.
 * - on the hub, engine writes to one document carry increasing versions (a
 *   stale update never overwrites a newer write or a tombstone); an engine only
 *   pushes writes made on its own till (no echoes); nothing that failed shows up.
 */
import type { Document } from 'mongodb';
import type { Journal, WriteRecord } from './journal.ts';
import type { HubObserver } from './observer.ts';
import { docKey, type SettleResult } from './settle.ts';
import type { Writer } from './traffic.ts';

export interface Violation {
  check: string;
  detail: string;
}

export interface CheckInput {
  journal: Journal;
  writers: Writer[];
  observer: HubObserver;
  settle: SettleResult;
  /** The hub's POS documents at the end, by collection and id (raw, with `_sync`). */
  hubDocs: Map<string, Map<string, Document>>;
  /** Each till's conflict log. */
  conflicts: Map<string, Document[]>;
}

export interface CheckResult {
  violations: Violation[];
  /** Till menu writes whose arrival could not be verified (observer gap). */
  unverified: number;
  /**
   * Till menu deletes made while that till's own change history was being lost (the truncate
   * fault: its agent stopped, its oplog cut) that left no trace: a document deleted, changed and
   * deleted again in the gap is as the till last synced it, so reconciliation — which finds what
   * differs from the last synced state — has nothing to find. No engine can see these.
   */
  lostWithHistory: number;
  /** Till menu writes accounted for, by how. */
  accounted: Record<string, number>;
}

export function runChecks(input: CheckInput): CheckResult {
  const violations: Violation[] = [];
  const add = (check: string, detail: string): void => {
    violations.push({ check, detail });
  };
  if (!input.settle.converged) {
    for (const d of input.settle.differences.slice(0, 20)) add('converged', d);
  }
  checkSingleWriter(input, add);
  for (const a of input.journal.anomalies) add('own document changed under its writer', `${a.writer} ${a.c} ${a.id}: ${a.what}`);
  const menu = checkMenuWrites(input, add);
  checkMenuFinal(input, add);
  for (const r of input.observer.regressions)
    add('hub versions only go forward', `${r.c} ${r.id}: ${r.what} went from ${r.from} back to ${r.to}`);
  for (const s of input.observer.staleStamps) {
    add(
      'hub versions only go forward',
      `${s.c} ${s.id}: ${s.device} stamped version ${s.v} (an earlier HQ write's) onto the content ${s.w ?? '?'} a till had pushed; that push's version and origin are overwritten and it is re-versioned as an HQ write`,
    );
  }
  for (const e of input.observer.echoes) add('no echoes', `${e.device} pushed ${e.c} ${e.id} carrying write ${e.w}, made elsewhere`);
  const byW = new Map(input.journal.writes.map((w) => [w.w, w]));
  for (const w of input.observer.arrived) {
    const write = byW.get(w);
    if (!write) add('nothing from nowhere', `write id ${w} reached the hub but no writer made it`);
    else if (write.applied === false)
      add('nothing from nowhere', `write ${w} (${write.kind} ${write.id}) failed on ${write.writer} yet reached the hub`);
  }
  return { violations, ...menu };
}

function checkSingleWriter(input: CheckInput, add: (check: string, detail: string) => void): void {
  for (const writer of input.writers) {
    for (const [id, expected] of writer.expected) {
      const c = id.startsWith('ctr-') ? 'counters' : id.startsWith('o-') ? 'orders' : 'notes';
      const actual = input.hubDocs.get(c)?.get(id) ?? null;
      if (expected === null) {
        if (actual !== null) add('deleted stays deleted', `${c} ${id} was deleted by ${writer.name} but the hub holds ${docKey(actual)}`);
        continue;
      }
      if (actual === null) {
        add('nothing lost', `${c} ${id}: the hub has no document; ${writer.name} last wrote ${docKey(expected)}`);
        continue;
      }
      if (docKey(actual) === docKey(expected)) continue;
      if (c === 'counters') {
        add(
          'exactly once',
          `${id}: hub n=${String(actual.n)} seq=${String(actual.seq)}, expected n=${String(expected.n)} seq=${String(expected.seq)} (last write ${String(expected.w)}, hub shows ${String(actual.w)})`,
        );
      } else {
        add('nothing lost', `${c} ${id}: hub ${docKey(actual)}, ${writer.name} last wrote ${docKey(expected)}`);
      }
    }
  }
}

function checkMenuWrites(input: CheckInput, add: (check: string, detail: string) => void): Omit<CheckResult, 'violations'> {
  const accounted: Record<string, number> = { 'reached the hub': 0, 'conflict loser': 0, 'superseded on its till': 0 };
  let unverified = 0;
  let lostWithHistory = 0;
  const historyLost = captureHistoryLost(input.journal.events);
  const losers = new Map<string, Set<string>>();
  const deleteLosers = new Set<string>();
  for (const [till, records] of input.conflicts) {
    const set = new Set<string>();
    for (const r of records) {
      const doc = (r.local as { document?: Document | null } | undefined)?.document;
      if (doc && typeof doc.w === 'string') set.add(doc.w);
      if (doc === null && r.collection === 'menu') deleteLosers.add(`${till}\u0000${String(r.documentId)}`);
    }
    losers.set(till, set);
  }
  const tombstones = input.observer.arrivals.filter((a) => a.op === 'tombstone' && a.c === 'menu');
  const byDoc = new Map<string, WriteRecord[]>();
  for (const w of input.journal.writes) {
    if (w.c !== 'menu') continue;
    const key = `${w.writer}\u0000${w.id}`;
    const list = byDoc.get(key);
    if (list) list.push(w);
    else byDoc.set(key, [w]);
  }
  const lastGapEnd = Math.max(0, ...input.observer.gaps.map((g) => g.to));
  for (const w of input.journal.writes) {
    if (w.c !== 'menu' || w.writer === 'hq' || w.applied !== true) continue;
    let how: string | undefined;
    if (w.kind === 'menu-delete') {
      if (tombstones.some((t) => t.id === w.id && t.device === w.writer && t.at >= w.issuedAt)) how = 'reached the hub';
      else if (deleteLosers.has(`${w.writer}\u0000${w.id}`)) how = 'conflict loser';
    } else if (input.observer.arrived.has(w.w)) how = 'reached the hub';
    else if (losers.get(w.writer)?.has(w.w)) how = 'conflict loser';
    if (!how) {
      const later = (byDoc.get(`${w.writer}\u0000${w.id}`) ?? []).some((o) => o !== w && o.issuedAt >= w.doneAt && o.applied !== false);
      if (later) how = 'superseded on its till';
    }
    if (how) {
      accounted[how] = (accounted[how] ?? 0) + 1;
      continue;
    }
    if (w.doneAt <= lastGapEnd) {
      unverified += 1;
      continue;
    }
    if (w.kind === 'menu-delete' && (historyLost.get(w.writer) ?? []).some((g) => w.issuedAt >= g.from && w.doneAt <= g.to)) {
      lostWithHistory += 1;
      continue;
    }
    add(
      'every write reaches the hub or loses a recorded conflict',
      `${w.writer} ${w.kind} ${w.id} (write ${w.w}${w.skewed ? ', made with a skewed clock' : ''}) was acknowledged at ${new Date(w.doneAt).toISOString()} but never reached the hub and no conflict names it`,
    );
  }
  return { unverified, lostWithHistory, accounted };
}

/** Per till, the spells in which its capture's change history was being lost (truncate faults on its own server). */
export function captureHistoryLost(
  events: ReadonlyArray<Record<string, unknown> & { at: number }>,
): Map<string, Array<{ from: number; to: number }>> {
  const spells = new Map<string, Array<{ from: number; to: number }>>();
  const open = new Map<string, number>();
  for (const e of events) {
    if (e.fault !== 'truncate' || !Array.isArray(e.targets)) continue;
    const targets = e.targets as string[];
    const till = targets.find((t) => t.startsWith('agent:'))?.slice('agent:'.length);
    if (!till || !targets.includes(`server:${till}`)) continue; // the hub's history: the pull's, not capture's
    if (e.phase === 'begin') open.set(till, e.at);
    else if (e.phase === 'end' && open.has(till)) {
      const list = spells.get(till) ?? [];
      list.push({ from: open.get(till) as number, to: e.at });
      spells.set(till, list);
      open.delete(till);
    }
  }
  return spells;
}

function checkMenuFinal(input: CheckInput, add: (check: string, detail: string) => void): void {
  const menu = input.hubDocs.get('menu') ?? new Map<string, Document>();
  const writes = input.journal.writes.filter((w) => w.c === 'menu' && w.applied !== false);
  const ids = new Set(writes.map((w) => w.id));
  for (const id of ids) {
    const doc = menu.get(id);
    const mine = writes.filter((w) => w.id === id);
    if (!doc) {
      if (!mine.some((w) => w.kind === 'menu-delete')) add('no document vanishes', `menu ${id} is gone from the hub but nobody deleted it`);
      continue;
    }
    const winner = mine.find((w) => w.w === doc.w);
    if (!winner) {
      add('final content is a real write', `menu ${id} on the hub names write ${String(doc.w)}, which no writer made to it`);
      continue;
    }
    const wrong = Object.entries(winner.fields ?? {}).filter(([k, v]) => doc[k] !== v);
    if (wrong.length > 0)
      add(
        'final content is a real write',
        `menu ${id}: write ${winner.w} set ${wrong.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')} but the hub has ${docKey(doc)}`,
      );
  }
}
