/**
 * Reconciliation: what the engine does when change history cannot tell it
 * what happened — first contact with a hub that already has data, a till that
 * joins late, or a stream whose history is gone (286, an expired token).
 *
 * The caller takes the stream position first; this compares both sides
 * document by document (each pair decided by `core/reconcile-pair.ts`) and
 * moves only the difference. Writes made during the scan reach the other side
 * through the streams, which resume from the position taken before it.
 *
 * The scan is not a snapshot: a document only the till has is looked up on
 * the hub again before it is taken as deleted there (it may have arrived
 * during the scan).
 */
import { decideHubDocument, decideTillOnly, type FoundChange, type PairOutcome, type UnversionedClock } from '../core/reconcile-pair.ts';
import { encodeVersion, MAX_COUNTER, type HybridClock } from '../core/hlc.ts';
import { isEngineCollection, type PolicyTable } from '../core/policy.ts';
import type { ConflictDraft, DocumentId, HubOp } from '../core/types.ts';
import { bsonCodec, idKey } from '../documents.ts';
import type { Hub } from '../hub/hub.ts';
import type { Logger } from '../log.ts';
import type { ConflictRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';

export interface ReconcileDeps {
  /** Only these collections (those whose policy was widened); every synced one when absent. */
  only?: readonly string[] | undefined;
  store: TillStore;
  hub: Hub;
  deviceId: string;
  /** The last outbox sequence number this till's pushes took to the hub, read after the position was taken. */
  pushedSeq: number;
  clock: HybridClock;
  policies: PolicyTable;
  batchSize: number;
  log: Logger;
  /**
   * Applies hub versions to the till (the pull's apply path: pending local changes are left alone).
   * Called for two lanes (0 and 1) at once, never twice at once for one lane.
   */
  applyPulled(ops: HubOp[], lane: number): Promise<unknown>;
  /** Writes versions onto hub documents HQ changed without them, so every till compares with the same version. */
  stampHub(ops: HubOp[]): Promise<void>;
  /** Queues local versions for the hub (capture's outbox). */
  enqueuePush(changes: FoundChange[]): Promise<void>;
  onConflicts(conflicts: ConflictRecord[]): void;
  progress(compared: number, total: number): void;
}

export interface ReconcileSummary {
  compared: number;
  pulled: number;
  pushed: number;
  agreed: number;
  conflicts: number;
  /** Hub versions skipped because they are too far ahead of this till's clock. */
  aheadRefused: number;
  ms: number;
}

const SCAN_BATCH = 2_000;

export async function reconcile(d: ReconcileDeps): Promise<ReconcileSummary> {
  const started = Date.now();
  const summary: ReconcileSummary = { compared: 0, pulled: 0, pushed: 0, agreed: 0, conflicts: 0, aheadRefused: 0, ms: 0 };
  const hubNames = await d.hub.collectionNames();
  const localNames = await d.store.posCollectionNames();
  const names = [...new Set([...hubNames, ...localNames])]
    .filter((c) => !isEngineCollection(c) && d.policies.policyFor(c).mode !== 'local-only' && (!d.only || d.only.includes(c)))
    .sort();
  let total = 0;
  for (const c of names) {
    const [onHub, onTill] = await Promise.all([
      hubNames.includes(c) ? d.hub.estimatedCount(c) : 0,
      localNames.includes(c) ? d.store.posCollection(c).estimatedDocumentCount() : 0,
    ]);
    total += Math.max(Number(onHub), Number(onTill));
  }
  d.progress(0, total);
  for (const c of names) {
    await reconcileCollection(d, c, summary, (n) => {
      summary.compared += n;
      total = Math.max(total, summary.compared);
      d.progress(summary.compared, total);
    });
  }
  summary.ms = Date.now() - started;
  d.log.info({ event: 'reconcile.done', ...summary }, 'reconciliation finished');
  return summary;
}

/** Batches of outcomes, written while the scan reads and compares the next. */
class Writer {
  readonly #d: ReconcileDeps;
  readonly #c: string;
  readonly #summary: ReconcileSummary;
  readonly #stamps: HubOp[] = [];
  readonly #pulls: HubOp[] = [];
  readonly #agreed: Array<{ c: string; id: DocumentId; v: string; h: string }> = [];
  readonly #pushes: FoundChange[] = [];
  readonly #conflicts: ConflictDraft[] = [];
  /**
   * Two lanes, each one batch at a time, so this process and the servers work at once. Batches hold
   * different documents, so their order does not matter; within a batch, stamps come before pulls,
   * pulls before pushes.
   */
  readonly #lanes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  #batches = 0;

  constructor(d: ReconcileDeps, c: string, summary: ReconcileSummary) {
    this.#d = d;
    this.#c = c;
    this.#summary = summary;
  }

  add(outcome: PairOutcome): void {
    if (outcome.stamp) this.#stamps.push(outcome.stamp);
    if (outcome.pull) this.#pulls.push(outcome.pull);
    if (outcome.agree) this.#agreed.push(outcome.agree);
    if (outcome.push) this.#pushes.push(outcome.push);
    if (outcome.conflict) this.#conflicts.push(outcome.conflict);
  }

  /** Sends what has filled up (everything with `force`, then waits for both lanes). */
  async flush(force: boolean): Promise<void> {
    const d = this.#d;
    const take = <T>(list: T[], size: number): T[] => (list.length >= size || (force && list.length > 0) ? list.splice(0) : []);
    const batch = {
      stamps: take(this.#stamps, SCAN_BATCH),
      pulls: take(this.#pulls, d.batchSize),
      agreed: take(this.#agreed, SCAN_BATCH),
      pushes: take(this.#pushes, d.batchSize),
      conflicts: take(this.#conflicts, force ? 1 : 100),
    };
    if (Object.values(batch).some((list) => list.length > 0)) {
      const lane = this.#batches++ % this.#lanes.length;
      await this.#lanes[lane];
      const summary = this.#summary;
      const writing = (async () => {
        if (batch.stamps.length > 0) await d.stampHub(batch.stamps);
        if (batch.pulls.length > 0) await d.applyPulled(batch.pulls, lane);
        summary.pulled += batch.pulls.length;
        await d.store.agreeKnown(batch.agreed);
        summary.agreed += batch.agreed.length;
        if (batch.pushes.length > 0) await d.enqueuePush(batch.pushes);
        summary.pushed += batch.pushes.length;
        if (batch.conflicts.length > 0) {
          // The till's side of each conflict, read in one query (not one per conflict).
          const locals = await d.store.documents(
            this.#c,
            batch.conflicts.map((r) => r.documentId),
          );
          for (const r of batch.conflicts) r.local.document = locals.get(idKey(r.documentId)) ?? null;
          d.onConflicts(await d.store.conflicts.record(batch.conflicts));
        }
        summary.conflicts += batch.conflicts.length;
      })();
      writing.catch(() => undefined); // awaited by a later flush; not an unhandled rejection meanwhile
      this.#lanes[lane] = writing;
    }
    if (force) await Promise.all(this.#lanes);
  }
}

async function reconcileCollection(d: ReconcileDeps, c: string, summary: ReconcileSummary, compared: (n: number) => void): Promise<void> {
  const ctx = {
    c,
    device: d.deviceId,
    canPull: d.policies.shouldPull(c),
    canPush: d.policies.shouldPush(c),
    clock: d.clock,
    codec: bsonCodec,
    now: new Date(),
  };
  const known = await d.store.knownIn(c);
  const locals = new Map<string, { id: DocumentId; h: string }>();
  for await (const doc of d.store.scan(c)) locals.set(idKey(doc._id), { id: doc._id, h: bsonCodec.hash(doc) });
  const writer = new Writer(d, c, summary);
  const unversioned = unversionedClock(Date.now());
  // Changes waiting in the outbox that no push has taken yet (the hub's marker says how far this till pushed).
  const waiting = await d.store.outbox.waitingSeqs(c);
  const inFlight = (key: string): boolean => (waiting.get(key) ?? 0) > d.pushedSeq;
  const onHub = new Set<string>();

  let seen = 0;
  for await (const hubDoc of d.hub.scan(c, SCAN_BATCH)) {
    seen += 1;
    if (seen % SCAN_BATCH === 0) compared(SCAN_BATCH);
    const key = idKey(hubDoc._id);
    // The hub has it, whatever comes of the comparison: never a till-only leftover.
    onHub.add(key);
    const local = locals.get(key);
    locals.delete(key);
    const outcome = decideHubDocument(hubDoc, local, known.get(key), inFlight(key), unversioned, { ...ctx, now: new Date() });
    if (outcome === 'ahead') {
      summary.aheadRefused += 1; // too far ahead: compared again by the next reconciliation
      continue;
    }
    if (outcome === 'malformed') continue; // the pull stream quarantines it with its reason
    writer.add(outcome);
    await writer.flush(false);
  }
  compared(seen % SCAN_BATCH);

  // Documents the hub has not got that the till holds, or once held (its record says so).
  await writer.flush(true); // stamps and pulls first: pushes below compare with them
  const leftovers: Array<{ id: DocumentId; key: string; local: { h: string } | undefined }> = [...locals].map(([key, l]) => ({
    id: l.id,
    key,
    local: l,
  }));
  for (const [key, k] of known)
    if (k.h !== null && !onHub.has(key) && !locals.has(key)) leftovers.push({ id: k.id, key, local: undefined });
  for (let i = 0; i < leftovers.length; i += SCAN_BATCH) {
    const slice = leftovers.slice(i, i + SCAN_BATCH);
    const ids = slice.map((l) => l.id);
    const tombs = await d.hub.tombstones(c, ids);
    // The scan is not a snapshot: a document that reached the hub after the scan passed it (this
    // till's own push, say) is not missing there. The stream, resumed from before the scan, brings it.
    const arrived = await d.hub.existing(c, ids);
    for (const l of slice) {
      if (arrived.has(l.key)) continue;
      writer.add(decideTillOnly(l.id, l.local, known.get(l.key), tombs.get(l.key), inFlight(l.key), { ...ctx, now: new Date() }));
      await writer.flush(false);
    }
  }
  await writer.flush(true);
}

/**
 * The versions unstamped HQ documents take: a change HQ made without a version counts as made when the
 * scan reads it (as the push counts it), not when the scan began — a version this till took from the hub
 * after that (a push settling) is older than it. Content the till already has keeps the scan's start, so
 * no local change captured meanwhile looks older.
 */
function unversionedClock(scanStart: number): UnversionedClock {
  let counter = 0;
  return {
    next(sameAsTill) {
      const wall = sameAsTill ? scanStart : Date.now();
      return encodeVersion({ wall, counter: Math.min(counter++, MAX_COUNTER), device: 'hub' });
    },
  };
}
