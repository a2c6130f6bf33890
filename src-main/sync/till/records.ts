/**
 * The till's engine records that are not the outbox: checkpoints, the
 * conflict log and quarantine. Each written through a named method. How long
 * conflicts are kept is `retention.ts`'s business, how they are stored
 * `conflict-form.ts`'s; quarantine is kept until handled.
 */
import { ObjectId, type ClientSession, type Collection, type Document, type ResumeToken, type Timestamp } from 'mongodb';
import type { ConflictDraft, QuarantineDraft } from '../core/types.ts';
import { fromStored, toStored, type StoredConflict } from './conflict-form.ts';

export interface Checkpoint {
  _id: 'capture' | 'pull';
  token?: ResumeToken;
  /** Before the first change was read: the cluster time the stream starts at. */
  startAt?: Timestamp;
  /** capture: the last outbox sequence number used. */
  seq?: number;
  /** The HLC clock after this checkpoint's writes. */
  clock?: string;
  /** Transaction keys of engine writes still being read (pull: prefixed by their kind, `own|…`). */
  engineTxns?: string[];
  /**
   * pull: a reconciliation is owed — capture lost its history and restarted
   * from now, so only a comparison finds the writes in the gap. A fresh value
   * each time it is asked for; cleared only by a reconciliation that began
   * after it was set.
   */
  reconcile?: string;
  /**
   * pull: collections whose policy was widened (local-only or push-only to
   * both, say) and that must be compared with the hub like a late join, so
   * nothing written before the change is left behind. `mark` changes each time
   * one is added; the list is cleared only by a comparison that saw that mark.
   */
  compare?: { mark: string; collections: string[] };
  at: Date;
}

export class Checkpoints {
  readonly #coll: Collection<Checkpoint>;

  constructor(coll: Collection<Checkpoint>) {
    this.#coll = coll;
  }

  async load(name: Checkpoint['_id']): Promise<Checkpoint | null> {
    return this.#coll.findOne({ _id: name });
  }

  /** Sets the given fields (others are kept). */
  async save(checkpoint: Checkpoint, session?: ClientSession): Promise<void> {
    const { _id, ...fields } = checkpoint;
    await this.#coll.updateOne({ _id }, { $set: fields }, { upsert: true, session });
  }

  /** Replaces the checkpoint whole (a stream starting again from a new point). */
  async restart(checkpoint: Checkpoint): Promise<void> {
    const { _id, ...fields } = checkpoint;
    await this.#coll.replaceOne({ _id }, fields, { upsert: true });
  }

  /** Records that the pull owes a reconciliation (it survives a restart until one is done); returns its mark. */
  async oweReconciliation(): Promise<string> {
    const mark = new ObjectId().toHexString();
    await this.#coll.updateOne({ _id: 'pull' }, { $set: { reconcile: mark, at: new Date() } }, { upsert: true });
    return mark;
  }

  /** Records collections the pull must compare with the hub (it survives a restart until done). */
  async oweComparison(collections: readonly string[]): Promise<void> {
    await this.#coll.updateOne(
      { _id: 'pull' },
      {
        $set: { 'compare.mark': new ObjectId().toHexString(), at: new Date() },
        $addToSet: { 'compare.collections': { $each: [...collections] } },
      },
      { upsert: true },
    );
  }

  /** The owed comparison seen with `mark` was done; one asked for since is still owed. */
  async compared(mark: string): Promise<void> {
    await this.#coll.updateOne({ _id: 'pull', 'compare.mark': mark }, { $unset: { compare: '' } });
  }

  /**
   * The pull reconciled (it began when the owed marks were `owed`) and starts
   * again from `checkpoint`. A reconciliation or comparison asked for since is
   * still owed; a full reconciliation covers every comparison seen when it began.
   */
  async reconciled(checkpoint: Checkpoint, owed: Pick<Checkpoint, 'reconcile' | 'compare'>): Promise<void> {
    const { _id, ...fields } = checkpoint;
    const still = await this.#coll.findOne({ _id });
    const keep: Partial<Checkpoint> = {};
    if (still?.reconcile !== undefined && still.reconcile !== owed.reconcile) keep.reconcile = still.reconcile;
    if (still?.compare !== undefined && still.compare.mark !== owed.compare?.mark) keep.compare = still.compare;
    await this.#coll.replaceOne({ _id }, { ...fields, ...keep }, { upsert: true });
  }
}

/** A conflict as kept in the till's log. */
export interface ConflictRecord extends ConflictDraft {
  _id: ObjectId;
  at: Date;
  /** Set when someone re-applied the losing version as a new write. */
  reappliedAt?: Date | null;
}

export interface ConflictQuery {
  collection?: string;
  /** 0-based page, newest first. */
  page?: number;
  pageSize?: number;
}

export interface ConflictPage {
  total: number;
  items: ConflictRecord[];
}

/** The till's conflict log. It stores each conflict compactly (`conflict-form.ts`); every read returns it whole. */
export class ConflictLog {
  readonly #coll: Collection<StoredConflict>;

  constructor(coll: Collection<StoredConflict>) {
    this.#coll = coll;
  }

  /**
   * Records conflicts (in `session`'s transaction when given); returns them with their ids and times.
   * `at` is now, except for a bench or test that writes a past.
   */
  async record(drafts: readonly ConflictDraft[], session?: ClientSession, at = new Date()): Promise<ConflictRecord[]> {
    if (drafts.length === 0) return [];
    const records = drafts.map((d) => ({ _id: new ObjectId(), at, reappliedAt: null, ...d }));
    await this.#coll.insertMany(records.map(toStored), { session });
    return records;
  }

  async count(): Promise<number> {
    return Number(await this.#coll.estimatedDocumentCount());
  }

  async countSince(since: Date): Promise<number> {
    return this.#coll.countDocuments({ at: { $gte: since } });
  }

  async list(query: ConflictQuery = {}): Promise<ConflictPage> {
    const filter: Document = query.collection ? { collection: query.collection } : {};
    const pageSize = Math.min(Math.max(query.pageSize ?? 20, 1), 200);
    const page = Math.max(query.page ?? 0, 0);
    const [total, items] = await Promise.all([
      this.#coll.countDocuments(filter),
      this.#coll
        .find(filter)
        .sort({ at: -1, _id: -1 })
        .skip(page * pageSize)
        .limit(pageSize)
        .toArray(),
    ]);
    return { total: Number(total), items: items.map(fromStored) };
  }

  /** One conflict by the hex string of its `_id`; null when there is none. */
  async get(id: string): Promise<ConflictRecord | null> {
    if (!ObjectId.isValid(id) || id.length !== 24) return null;
    const stored = await this.#coll.findOne({ _id: new ObjectId(id) });
    return stored && fromStored(stored);
  }

  async markReapplied(id: ObjectId, at: Date): Promise<void> {
    await this.#coll.updateOne({ _id: id }, { $set: { reappliedAt: at } });
  }

  /** The `limit` oldest conflicts, oldest first: only what retention needs of them. */
  async oldest(limit: number): Promise<OldConflict[]> {
    return this.#coll
      .find({}, { projection: { _id: 1, at: 1, collection: 1 } })
      .sort({ at: 1, _id: 1 })
      .limit(limit)
      .toArray();
  }

  /** When the oldest conflict still kept happened; null when the log is empty. */
  async oldestAt(): Promise<Date | null> {
    return (await this.oldest(1))[0]?.at ?? null;
  }

  /** Removes these conflicts (retention: they have been counted first, in the same transaction). */
  async forget(ids: readonly ObjectId[], session: ClientSession): Promise<void> {
    if (ids.length > 0) await this.#coll.deleteMany({ _id: { $in: [...ids] } }, { session });
  }
}

/** What retention reads of an old conflict. */
export type OldConflict = Pick<ConflictRecord, '_id' | 'at' | 'collection'>;

/** A change set aside, as kept on the till until someone tries it again or discards it. */
export interface QuarantineRecord extends QuarantineDraft {
  _id: ObjectId;
  at: Date;
  /** Staff asked to try it again or to discard it, and the engine is doing so (it needs the hub). */
  handling?: 'retry' | 'discard';
}

export class Quarantine {
  readonly #coll: Collection<QuarantineRecord>;

  constructor(coll: Collection<QuarantineRecord>) {
    this.#coll = coll;
  }

  /**
   * Sets changes aside: one record per document and side, the newest change
   * replacing an older one still waiting (the same hub change can come twice:
   * through reconciliation and the stream it resumes).
   */
  async record(drafts: readonly QuarantineDraft[], session?: ClientSession): Promise<QuarantineRecord[]> {
    if (drafts.length === 0) return [];
    const at = new Date();
    const records: QuarantineRecord[] = [];
    for (const d of drafts) {
      const kept = await this.#coll.findOneAndUpdate(
        { collection: d.collection, documentId: d.documentId, side: d.side },
        { $set: { ...d, at }, $unset: { handling: '' } },
        { upsert: true, returnDocument: 'after', session },
      );
      if (kept) records.push(kept);
    }
    return records;
  }

  async count(): Promise<number> {
    return Number(await this.#coll.estimatedDocumentCount());
  }

  async countSince(since: Date): Promise<number> {
    return this.#coll.countDocuments({ at: { $gte: since } });
  }

  async latest(n: number): Promise<QuarantineRecord[]> {
    return this.#coll.find({}).sort({ at: -1 }).limit(n).toArray();
  }

  /** One record by the hex string of its `_id`; null when there is none. */
  async get(id: string): Promise<QuarantineRecord | null> {
    if (!ObjectId.isValid(id) || id.length !== 24) return null;
    return this.#coll.findOne({ _id: new ObjectId(id) });
  }

  async remove(id: ObjectId): Promise<void> {
    await this.#coll.deleteOne({ _id: id });
  }

  async handling(id: ObjectId, what: 'retry' | 'discard'): Promise<void> {
    await this.#coll.updateOne({ _id: id }, { $set: { handling: what } });
  }

  async list(page: number, pageSize: number): Promise<{ total: number; items: QuarantineRecord[] }> {
    const [total, items] = await Promise.all([
      this.#coll.countDocuments({}),
      this.#coll
        .find({})
        .sort({ at: -1, _id: -1 })
        .skip(page * pageSize)
        .limit(pageSize)
        .toArray(),
    ]);
    return { total: Number(total), items };
  }
}
