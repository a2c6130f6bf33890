/**
 * What a till keeps of its past, and for how long, so that its engine
 * database stays bounded on a till that runs for years:
 *
 * - **Conflicts** are kept whole (both versions) for `conflictRetentionDays`,
 *   and at most the newest `conflictRetentionEntries`. An older one leaves
 *   only a count, per collection and day (`conflictCounts`), written in the
 *   same transaction that removes it, so the dashboard can say how far back
 *   the history goes and how many older conflicts there were.
 * - **Quarantine** (changes set aside) is kept until someone handles it:
 *   nothing here removes it.
 * - **Delete traces**: a version record with `h: null` is the till's memory
 *   that a document was deleted, at version `v`. It is forgotten once that
 *   delete is older than twice the tombstone retention, and only while the
 *   document is absent here and no change of it waits in the outbox.
 *
 * Why forgetting a delete trace changes no decision that matters: a till
 * without a record of a document is exactly a till that never saw it, a state
 * every rule already handles (a till that joins late). The record would still
 * count in two places. (1) As the `base` of a new local write of the same id:
 * with it, the push's retention rule (`push-decision.ts`: a base, and neither
 * the document nor its tombstone on the hub → "deleted-beyond-retention")
 * would refuse that brand-new document and delete it here; without it, the
 * write has no base and is inserted, as it would be from any other till. The
 * delete's tombstone is gone from the hub by then (written at most one
 * retention after the delete by a till keeping the offline promise, and
 * removed one retention after it was written), so the push finds nothing to
 * compare a base with either way. (2) Against a hub change older than the
 * delete (`till-apply.ts`'s "newer here"): the hub only moves forward, and a
 * version older than a delete two retentions old can no longer be written
 * there (its tombstone refused it while it lived, the retention rule since).
 * In reconciliation (`reconcile-pair.ts`) a deleted document with or without
 * its trace yields nothing to do (`decideTillOnly`) or the hub's copy pulled
 * (`decideHubDocument`).
 *
 * All of it runs in small batches, each a short transaction of its own, off
 * the hot path (the engine's housekeeping, every few minutes, when sync is not
 * busy).
 */
import type { Collection, Document, ObjectId } from 'mongodb';
import { ENGINE } from '../core/names.ts';
import { groupBy } from '../group-by.ts';
import { idKey, RAW_BSON } from '../documents.ts';
import type { OldConflict } from './records.ts';
import type { TillStore } from './store.ts';
import { madeBefore, type VersionRecord } from './version-record.ts';

/** In the till's engine database: conflicts no longer kept, counted per collection and day. */
export const CONFLICT_COUNTS = 'conflictCounts';

const DAY_MS = 86_400_000;
/** Records per batch; each batch is one short transaction. */
const BATCH = 500;
/** Batches per housekeeping round, so one round never holds the till's database for long. */
const MAX_BATCHES = 20;

export interface RetentionRules {
  conflictRetentionDays: number;
  conflictRetentionEntries: number;
  tombstoneRetentionDays: number;
}

/** How far back the till's conflict history goes (`SyncStatus.history`). */
export interface HistoryReach {
  /** When the oldest conflict still kept happened (epoch ms); null when none is kept. */
  conflictsSince: number | null;
  /** Conflicts no longer kept, only counted. */
  olderConflicts: number;
}

/** Older conflicts of one collection on one day (UTC), as counted when they were removed. */
export interface ConflictCount {
  _id: { c: string; d: string };
  n: number;
}

export interface PruneResult {
  conflicts: number;
  deleteTraces: number;
}

/** The day a conflict counts under: `YYYY-MM-DD`, UTC. */
export function dayOf(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * How many of the oldest conflicts go: those older than the retention, and
 * enough more that at most `entries` remain. `oldest` is sorted oldest first;
 * `total` is how many the log holds.
 */
export function conflictsToForget(oldest: ReadonlyArray<{ at: Date }>, total: number, rules: RetentionRules, now: number): number {
  const cutoff = now - rules.conflictRetentionDays * DAY_MS;
  const overCount = Math.max(0, total - rules.conflictRetentionEntries);
  let tooOld = 0;
  while (tooOld < oldest.length && (oldest[tooOld] as { at: Date }).at.getTime() < cutoff) tooOld += 1;
  return Math.min(oldest.length, Math.max(overCount, tooOld));
}

/** The wall time (epoch ms) before which a delete trace's version is old enough to forget: twice the tombstone retention ago. */
export function deleteTraceCutoff(rules: RetentionRules, now: number): number {
  return Math.max(0, Math.floor(now - 2 * rules.tombstoneRetentionDays * DAY_MS));
}

/** Counts of removed conflicts per (collection, day), to add to `conflictCounts`. */
export function countByDay(gone: ReadonlyArray<Pick<OldConflict, 'at' | 'collection'>>): ConflictCount[] {
  const counts = new Map<string, ConflictCount>();
  for (const g of gone) {
    const d = dayOf(g.at);
    const key = `${g.collection}\u0000${d}`;
    const found = counts.get(key);
    if (found) found.n += 1;
    else counts.set(key, { _id: { c: g.collection, d }, n: 1 });
  }
  return [...counts.values()];
}

/** The till's history, kept within its rules. */
export class TillHistory {
  readonly #store: TillStore;
  readonly #rules: RetentionRules;
  readonly #counts: Collection<ConflictCount>;
  readonly #versions: Collection<VersionRecord>;
  readonly #batch: number;

  constructor(store: TillStore, rules: RetentionRules, options: { batch?: number } = {}) {
    this.#store = store;
    this.#rules = rules;
    this.#counts = store.engine.collection<ConflictCount>(CONFLICT_COUNTS);
    this.#versions = store.engine.collection<VersionRecord>(ENGINE.versions, RAW_BSON);
    this.#batch = options.batch ?? BATCH;
  }

  /** The counts collection exists before any transaction writes to it. */
  async init(): Promise<void> {
    await this.#store.engine.createCollection(CONFLICT_COUNTS).catch((err: { code?: number }) => {
      if (err.code !== 48) throw err;
    });
  }

  /** One housekeeping round: conflicts first, then delete traces; at most a few batches of each. */
  async prune(now = Date.now()): Promise<PruneResult> {
    return { conflicts: await this.pruneConflicts(now), deleteTraces: await this.pruneDeleteTraces(now) };
  }

  /** Removes conflicts beyond the rules, oldest first, counting each by collection and day as it goes. */
  async pruneConflicts(now = Date.now()): Promise<number> {
    const { conflicts } = this.#store;
    let removed = 0;
    for (let round = 0; round < MAX_BATCHES; round += 1) {
      const oldest = await conflicts.oldest(this.#batch);
      const n = conflictsToForget(oldest, await conflicts.count(), this.#rules, now);
      if (n === 0) break;
      const gone = oldest.slice(0, n);
      await this.#store.transaction(async (session) => {
        await this.#counts.bulkWrite(
          countByDay(gone).map((c) => ({ updateOne: { filter: { _id: c._id }, update: { $inc: { n: c.n } }, upsert: true } })),
          { session, ordered: false },
        );
        await conflicts.forget(
          gone.map((g) => g._id as ObjectId),
          session,
        );
      });
      removed += n;
      if (n < this.#batch) break;
    }
    return removed;
  }

  /**
   * Forgets delete traces older than twice the tombstone retention (see the
   * top of this file), for documents absent here with no change waiting.
   */
  async pruneDeleteTraces(now = Date.now()): Promise<number> {
    const old: Document = { h: null, ...madeBefore(deleteTraceCutoff(this.#rules, now)) };
    let removed = 0;
    for (let round = 0; round < MAX_BATCHES; round += 1) {
      const found = await this.#versions
        .find(old, { projection: { _id: 1 } })
        .limit(this.#batch)
        .toArray();
      if (found.length === 0) break;
      let forgotten = 0;
      for (const [c, group] of groupBy(found, (r) => r._id.c)) {
        const ids = group.map((r) => r._id.id);
        forgotten += await this.#store.transaction(async (session) => {
          const waiting = await this.#store.outbox.waiting(c, ids, session);
          const present = await this.#store.documents(c, ids, session);
          const gone = ids.filter((id) => !waiting.has(idKey(id)) && !present.has(idKey(id)));
          if (gone.length === 0) return 0;
          // Still a delete trace this old (a capture or a pull may have written a newer record meanwhile).
          const result = await this.#versions.deleteMany({ _id: { $in: gone.map((id) => ({ c, id })) }, ...old }, { session });
          return result.deletedCount;
        });
      }
      removed += forgotten;
      // A batch of traces that must stay (their document is back, or waits to be pushed): try again next round.
      if (forgotten === 0 || found.length < this.#batch) break;
    }
    return removed;
  }

  /** How far back the conflict history goes, and how many older conflicts were only counted. */
  async reach(): Promise<HistoryReach> {
    const [since, older] = await Promise.all([
      this.#store.conflicts.oldestAt(),
      this.#counts.aggregate<{ n: number }>([{ $group: { _id: null, n: { $sum: '$n' } } }]).toArray(),
    ]);
    return { conflictsSince: since?.getTime() ?? null, olderConflicts: Number(older[0]?.n ?? 0) };
  }

  /** The counts of older conflicts, by collection and day (newest day first). */
  async olderCounts(): Promise<ConflictCount[]> {
    return this.#counts.find({}).sort({ '_id.d': -1, '_id.c': 1 }).toArray();
  }
}
