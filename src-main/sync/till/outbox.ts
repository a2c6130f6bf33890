/**
 * The till's outbox: captured local changes waiting to be pushed, in capture
 * order (`_id` is the sequence number). Written by capture (and reconciliation
 * through it) in the transaction that moves the capture checkpoint; drained by
 * the push; noted by the pull when it passes over a hub change to a document
 * with a change waiting.
 */
import type { ClientSession, Collection } from 'mongodb';
import type { NotedEntry } from '../core/settle-decision.ts';
import type { DocumentId, HubChangeSeen, OutboxEntry } from '../core/types.ts';
import { idKey } from '../documents.ts';

export class Outbox {
  readonly #coll: Collection<OutboxEntry>;

  constructor(coll: Collection<OutboxEntry>) {
    this.#coll = coll;
  }

  async init(): Promise<void> {
    await this.#coll.createIndex({ c: 1, id: 1 });
  }

  async append(entries: readonly OutboxEntry[], session: ClientSession): Promise<void> {
    if (entries.length > 0) await this.#coll.insertMany([...entries], { session });
  }

  /** The oldest `limit` entries after sequence number `after`. */
  async readBatch(limit: number, after = 0): Promise<OutboxEntry[]> {
    return this.#coll
      .find(after > 0 ? { _id: { $gt: after } } : {})
      .sort({ _id: 1 })
      .limit(limit)
      .toArray();
  }

  /** The newest waiting entry of each of these documents that has one, by id key. */
  async waiting(c: string, ids: readonly DocumentId[], session: ClientSession): Promise<Map<string, number>> {
    const newest = new Map<string, number>();
    for (const e of await this.#coll.find({ c, id: { $in: [...ids] } }, { session, projection: { id: 1 } }).toArray()) {
      const key = idKey(e.id);
      newest.set(key, Math.max(newest.get(key) ?? 0, e._id));
    }
    return newest;
  }

  /**
   * Notes hub changes the pull passed over on the waiting entries, each only
   * over an older note. Writing the entry also makes the pull's transaction
   * and the settle's (which deletes it) conflict, so one of them sees the other.
   */
  async note(notes: ReadonlyArray<{ seq: number; hub: HubChangeSeen }>, session: ClientSession): Promise<void> {
    if (notes.length === 0) return;
    await this.#coll.bulkWrite(
      notes.map(({ seq, hub }) => ({
        updateOne: {
          filter: { _id: seq, $or: [{ 'hub.v': { $exists: false } }, { 'hub.v': { $lt: hub.v } }] },
          update: { $set: { hub } },
        },
      })),
      { session, ordered: true },
    );
  }

  /** The highest sequence number in the outbox (0 when empty). */
  async lastSeq(): Promise<number> {
    const last = await this.#coll
      .find({}, { projection: { _id: 1 } })
      .sort({ _id: -1 })
      .limit(1)
      .next();
    return last ? Number(last._id) : 0;
  }

  /** The entries among `seqs` that carry a noted hub change. */
  async noted(seqs: readonly number[], session: ClientSession): Promise<NotedEntry[]> {
    const found = await this.#coll
      .find({ _id: { $in: [...seqs] }, hub: { $exists: true } }, { session, projection: { c: 1, id: 1, v: 1, hub: 1 } })
      .toArray();
    return found.map((e) => ({ c: e.c, id: e.id, v: e.v, hub: e.hub as HubChangeSeen }));
  }

  /** Removes exactly these entries (those a push settled), never a range that could hold others. */
  async remove(seqs: readonly number[], session: ClientSession): Promise<void> {
    await this.#coll.deleteMany({ _id: { $in: [...seqs] } }, { session });
  }

  /** Whether the till changed this document again after `lastSeq`. */
  async changedAfter(c: string, id: DocumentId, lastSeq: number, session: ClientSession): Promise<boolean> {
    return (await this.#coll.countDocuments({ c, id, _id: { $gt: lastSeq } }, { session, limit: 1 })) > 0;
  }

  /** The newest waiting entry of each document of `c` that has one, by id key. */
  async waitingSeqs(c: string): Promise<Map<string, number>> {
    const newest = new Map<string, number>();
    for await (const e of this.#coll.find({ c }, { projection: { id: 1 } })) {
      const key = idKey(e.id);
      newest.set(key, Math.max(newest.get(key) ?? 0, e._id));
    }
    return newest;
  }

  async stats(): Promise<{ depth: number; oldest: Date | null }> {
    const depth = Number(await this.#coll.countDocuments());
    if (depth === 0) return { depth, oldest: null };
    const first = await this.#coll
      .find({}, { projection: { at: 1, wall: 1 } })
      .sort({ _id: 1 })
      .limit(1)
      .next();
    return { depth, oldest: (first?.wall as Date | undefined) ?? null };
  }
}
