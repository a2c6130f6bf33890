/**
 * The hub side, as a small port (in the spirit of RxDB's replication
 * protocol): the changes since a checkpoint, a push that writes rows and
 * returns what the hub refused, stamps for HQ's unversioned writes, and the
 * reads reconciliation needs. The flows never build hub queries themselves.
 *
 * The client has short timeouts: an unreachable hub must show as offline
 * within seconds, not hang.
 */
import {
  MongoClient,
  MongoClientBulkWriteError,
  MongoError,
  MongoInvalidArgumentError,
  type AnyClientBulkWriteModel,
  type ClientBulkWriteResult,
  type MongoClientOptions,
  type ClientSession,
  type Collection,
  type Db,
  type Document,
  type ResumeToken,
  type Timestamp,
} from 'mongodb';
import type { Collapsed, HubStamp, HubWrite, PushDecision } from '../core/push-decision.ts';
import { PUSH_MARKER, SYNC_FIELD, TOMBSTONES, pushMarkerId } from '../core/names.ts';
import type { AnyDocument, DocumentId, HubOp, HubVersion } from '../core/types.ts';
import { clusterTime } from '../cluster-time.ts';
import { RAW_BSON, idKey } from '../documents.ts';
import { EventQueue, SPLIT_LARGE_EVENTS, STREAM_AWAIT_MS, type ChangeEvent, type StreamStart } from '../event-queue.ts';
import { groupBy } from '../group-by.ts';
import { OwnSessions, PUSH_IN_FLIGHT } from '../own-sessions.ts';
import { refusedOrRethrow } from '../refused.ts';
import { serverCode } from '../errors.ts';

/** Sessions opened with the connection for the engine's own hub writes: the push's batches on their way, and the pull's stamps in two lanes. */
const OWN_SESSIONS = 2 + PUSH_IN_FLIGHT;

/** Every push marker of `device`, whatever its lane: ids from `device.` up to (not including) `device/`. */
function lanesOf(device: string): Document {
  return { _id: { $gte: `${device}.`, $lt: `${device}/` } };
}

interface Tombstone extends HubVersion {
  _id: { c: string; id: DocumentId };
  at: Date;
}

/** What the push decides for one document, given the hub's side of it. */
export type PushDecider = (change: Collapsed, hubDoc: Document | null, tombstone: HubVersion | null) => PushDecision;

/** HQ changed a document and no engine has stamped its version yet: the push waits for it. */
export class AwaitingStamp extends Error {
  constructor() {
    super('a hub document changed by head office is waiting for its version');
  }
}

/** The hub holds a tombstone (or a document) the batch was decided without: nothing is written, and the batch goes the full way. */
class HubHasOne extends Error {
  constructor() {
    super('the hub holds a document or a delete this batch was decided without');
  }
}

/** The wire version of MongoDB 8.0, the first with the `bulkWrite` command (one request that writes several collections). */
const ONE_REQUEST_WRITES_WIRE_VERSION = 25;

/** The hub client's options, but its name (also what `npm run bench:idle` measures the driver's own cost at rest with). */
export const HUB_CLIENT_OPTIONS: MongoClientOptions = {
  serverSelectionTimeoutMS: 5_000,
  connectTimeoutMS: 5_000,
  socketTimeoutMS: 10_000,
  heartbeatFrequencyMS: 2_000,
  /** The push's batches in flight, the pull's stamps and its stream, and a spare. */
  maxPoolSize: 12,
};

export class Hub {
  readonly client: MongoClient;
  readonly db: Db;
  /** The sessions of this engine's own hub writes (pushes, stamps), which the pull's stream leaves out. */
  readonly own: OwnSessions;
  /** The hub takes one `bulkWrite` request across collections (MongoDB 8.0 or later): a push of new documents is one write and a commit. */
  #oneRequestWrites = false;

  private constructor(client: MongoClient, database: string) {
    this.client = client;
    this.db = client.db(database, RAW_BSON);
    this.own = new OwnSessions(client, OWN_SESSIONS);
  }

  static async connect(uri: string, database: string, appName: string): Promise<Hub> {
    const client = new MongoClient(uri, { ...HUB_CLIENT_OPTIONS, appName });
    await client.connect();
    const hub = new Hub(client, database);
    await hub.#init();
    return hub;
  }

  async #init(): Promise<void> {
    const hello = await this.db.admin().command({ hello: 1 });
    this.#oneRequestWrites = Number(hello.maxWireVersion) >= ONE_REQUEST_WRITES_WIRE_VERSION;
    const names = new Set(await this.collectionNames());
    for (const name of [PUSH_MARKER, TOMBSTONES]) {
      if (!names.has(name))
        await this.db.createCollection(name).catch((err: unknown) => {
          if (serverCode(err) !== 48) throw err;
        });
    }
  }

  #collection(name: string): Collection<AnyDocument> {
    return this.db.collection<AnyDocument>(name, RAW_BSON);
  }

  get #tombstones(): Collection<Tombstone> {
    return this.db.collection<Tombstone>(TOMBSTONES, RAW_BSON);
  }

  /** The hub's changes after `from`, as a queue read on demand; this engine's own writes are mostly left out. */
  changes(from: StreamStart, batchSize: number, onResponse: () => void): EventQueue {
    const stream = this.db.watch<Document, ChangeEvent>([...this.own.leftOut(), SPLIT_LARGE_EVENTS], {
      ...RAW_BSON,
      fullDocument: 'updateLookup',
      maxAwaitTimeMS: STREAM_AWAIT_MS,
      batchSize,
      ...(from.token ? { startAfter: from.token as ResumeToken } : from.startAt ? { startAtOperationTime: from.startAt } : {}),
    });
    return new EventQueue(stream, { onResponse, readAhead: true });
  }

  /** The hub's position now: a stream started there sees everything after it. */
  async position(): Promise<Timestamp> {
    return clusterTime(this.db);
  }

  /**
   * Pushes one batch in one transaction: the device's push marker first (every
   * till's pull recognises the transaction by it), then, per collection, the
   * hub's side of each document is read and `decide` says what to write.
   * Returns each change with its decision; throws `AwaitingStamp` (nothing
   * written) when one must wait for HQ's change to be stamped. On a hub that
   * takes one write request across collections (8.0), a batch of documents new
   * to this till goes first as `#pushNew` says, without reading, and any other
   * as `#pushReadThenWrite` says; this way is what is left when they cannot.
   */
  async push(
    device: string,
    /** The outbox sequence number up to which the hub holds this till's changes once this commits. */
    marker: () => number,
    changes: readonly Collapsed[],
    decide: PushDecider,
  ): Promise<Array<{ change: Collapsed; decision: PushDecision }>> {
    if (this.#oneRequestWrites) {
      const asNew = newDocumentWrites(changes, decide);
      if (asNew && (await this.#pushNew(device, marker, asNew))) return asNew;
      const done = await this.#pushReadThenWrite(device, marker, changes, decide);
      if (done) return done;
    }
    let outcome: Array<{ change: Collapsed; decision: PushDecision }> = [];
    await this.own.transaction(async (session, lane) => {
      outcome = [];
      await this.#writeMarker(device, lane, session, marker());
      for (const [c, group] of groupBy(changes, (ch) => ch.entry.c)) {
        const ids = group.map((ch) => ch.entry.id);
        // One round trip for both reads: the tombstones are read beside the transaction, after its
        // marker fixed its snapshot, so they are at least as new as it. One written since that this
        // push then drops is a write conflict, and the batch is tried again, as for the documents.
        const [docs, tombs] = await Promise.all([this.#documents(c, ids, session), this.tombstones(c, ids)]);
        const writes: HubWrite[] = [];
        const stamps: Array<{ id: DocumentId } & HubStamp> = [];
        for (const change of group) {
          const key = idKey(change.entry.id);
          const doc = docs.get(key) ?? null;
          const decision = decide(change, doc, doc ? null : (tombs.get(key) ?? null));
          if (decision.kind === 'await-stamp') throw new AwaitingStamp();
          if (decision.kind === 'write') writes.push(decision.write);
          if (decision.kind === 'refuse' && decision.stamp) stamps.push({ id: change.entry.id, ...decision.stamp });
          outcome.push({ change, decision });
        }
        await this.#write(c, writes, session);
        await this.#stampAll(c, stamps, session);
      }
    });
    return outcome;
  }

  /**
   * A batch of documents this till never had a version of, pushed as if the hub had neither them nor their
   * tombstones, which is what it is decided for: in one transaction, one `bulkWrite` request across collections
   * (the marker first, as in every push; then per collection a delete of the documents' tombstones that must
   * find none, and the inserts), then the commit. Two round trips instead of the full way's four, for what a
   * till mostly sends: new orders. False, with nothing written, when the hub held one of the documents (its
   * insert fails on the duplicate key, or conflicts with one being written) or a tombstone of one (the delete
   * found it, and the transaction is aborted), or refused one: the full way then reads and decides each.
   */
  async #pushNew(device: string, marker: () => number, outcome: ReadonlyArray<{ decision: PushDecision }>): Promise<boolean> {
    const writes = outcome.map(({ decision }) => (decision as { write: HubWrite & { op: 'put' } }).write);
    const done = await this.#oneRequestTransaction(async (session, lane) => {
      const models = [this.#markerModel(device, lane, marker())];
      for (const [c, group] of groupBy(writes, (w) => w.c)) {
        models.push(
          this.#tombstoneProbe(
            c,
            group.map((w) => w.id),
          ),
        );
        for (const w of group) models.push({ namespace: this.#ns(c), name: 'insertOne', document: w.doc });
      }
      if (Number((await this.#oneRequest(models, session)).deletedCount) > 0) throw new HubHasOne();
      return true;
    });
    return done === true;
  }

  /**
   * The full way's reads, then its writes in one request, on a hub that takes one across collections: in one
   * transaction, the documents are read (which fixes its snapshot) and decided as if those the hub does not
   * have had no tombstone either; then one `bulkWrite` request — the marker, per collection a delete of the
   * absent documents' tombstones that must find none, the documents' writes, the tombstones', the stamps —
   * and the commit: 3 round trips, not 4. Undefined, with nothing written, when a tombstone was there after
   * all (the batch then goes the way that reads them) or the hub refused a write (which that way sets aside).
   */
  async #pushReadThenWrite(
    device: string,
    marker: () => number,
    changes: readonly Collapsed[],
    decide: PushDecider,
  ): Promise<Array<{ change: Collapsed; decision: PushDecision }> | undefined> {
    return this.#oneRequestTransaction(async (session, lane) => {
      const outcome: Array<{ change: Collapsed; decision: PushDecision }> = [];
      const models = [this.#markerModel(device, lane, marker())];
      const probes: number[] = [];
      for (const [c, group] of groupBy(changes, (ch) => ch.entry.c)) {
        const docs = await this.#documents(
          c,
          group.map((ch) => ch.entry.id),
          session,
        );
        const absent: DocumentId[] = [];
        const writes: HubWrite[] = [];
        const stamps: Array<{ id: DocumentId } & HubStamp> = [];
        for (const change of group) {
          const doc = docs.get(idKey(change.entry.id)) ?? null;
          if (!doc) absent.push(change.entry.id);
          const decision = decide(change, doc, null);
          if (decision.kind === 'await-stamp') throw new AwaitingStamp();
          if (decision.kind === 'write') writes.push(decision.write);
          if (decision.kind === 'refuse' && decision.stamp) stamps.push({ id: change.entry.id, ...decision.stamp });
          outcome.push({ change, decision });
        }
        if (absent.length > 0) {
          probes.push(models.length);
          models.push(this.#tombstoneProbe(c, absent));
        }
        const { docOps, tombOps } = writeOps(c, writes);
        models.push(
          ...docOps.map((op) => ({ namespace: this.#ns(c), ...op })),
          ...tombOps.map((op) => ({ namespace: this.#ns(TOMBSTONES), ...op })),
          ...stamps.map((st) => ({ namespace: this.#ns(c), name: 'updateOne' as const, ...stampUpdate(st) })),
        );
      }
      const result = await this.#oneRequest(models, session, true, probes.length > 0);
      if (probes.some((i) => Number(result.deleteResults?.get(i)?.deletedCount ?? 0) > 0)) throw new HubHasOne();
      return outcome;
    });
  }

  #ns(c: string): string {
    return `${this.db.databaseName}.${c}`;
  }

  /**
   * The device's push marker for `lane`, as a transaction writes it first: a push with the `seq` it may
   * claim, a stamp with its time alone.
   */
  #marker(device: string, lane: number, seq?: number): { filter: Document; update: Document } {
    const at = new Date();
    return { filter: { _id: pushMarkerId(device, lane) }, update: { $set: seq === undefined ? { at } : { seq, at } } };
  }

  /** The marker as the first model of a one-request transaction. */
  #markerModel(device: string, lane: number, seq?: number): AnyClientBulkWriteModel<Document> {
    return { namespace: this.#ns(PUSH_MARKER), name: 'updateOne', ...this.#marker(device, lane, seq), upsert: true };
  }

  /** The marker written on its own, first in a transaction that goes the full way. */
  async #writeMarker(device: string, lane: number, session: ClientSession, seq?: number): Promise<void> {
    const { filter, update } = this.#marker(device, lane, seq);
    await this.db.collection(PUSH_MARKER).updateOne(filter, update, { upsert: true, session });
  }

  /** A delete of these documents' tombstones that must find none: a batch decided as if they had none is checked by it. */
  #tombstoneProbe(c: string, ids: readonly DocumentId[]): AnyClientBulkWriteModel<Document> {
    return { namespace: this.#ns(TOMBSTONES), name: 'deleteMany', filter: { _id: { $in: ids.map((id) => ({ c, id })) as never[] } } };
  }

  /**
   * Runs `fn` in a transaction whose writes go as one request; undefined, with nothing written, when the
   * batch must go the full way instead: the hub holds what it was decided without, or refused a write.
   */
  async #oneRequestTransaction<T>(fn: (session: ClientSession, lane: number) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.own.transaction(fn);
    } catch (err) {
      if (err instanceof HubHasOne) return undefined;
      // A document the hub refused (it was there, or a rule of the hub's), or one too large to send.
      if (err instanceof MongoClientBulkWriteError && err.writeErrors.size > 0) return undefined;
      if (err instanceof MongoInvalidArgumentError) return undefined;
      if (serverCode(err) === 59) {
        // The command is not there after all (a hub moved back to an older version): the full way from now on.
        this.#oneRequestWrites = false;
        return undefined;
      }
      throw err;
    }
  }

  async #write(c: string, writes: readonly HubWrite[], session: ClientSession): Promise<void> {
    const { docOps, docIds, tombOps } = writeOps(c, writes);
    const asBulk = ({ name, ...op }: WriteOp): Document => ({ [name]: op });
    if (docOps.length > 0) {
      try {
        await this.#collection(c).bulkWrite(docOps.map(asBulk) as never[], { session, ordered: true });
      } catch (err) {
        refusedOrRethrow(err, 'hub', c, (index) => docIds[index]);
      }
    }
    if (tombOps.length > 0) await this.#tombstones.bulkWrite(tombOps.map(asBulk) as never[], { session, ordered: true });
  }

  /**
   * Writes the versions of HQ's unversioned changes onto their documents, in
   * one transaction opened by the device's marker. No read first: each stamp
   * is written only over the `_sync.v` its document was read with (`StampOver`)
   * or an older one for the same content, so a push that landed since keeps its
   * version. HQ's writes leave
   * `_sync` as it was: a stamp landing after one carries the hash of the content
   * it was made for, which no longer matches, and every till treats the
   * document as unstamped again.
   */
  async stamp(device: string, ops: readonly HubOp[]): Promise<void> {
    if (ops.length === 0) return;
    const stamps = ops.map((op) => {
      if (!op.stamp) throw new Error(`hub.stamp was given ${op.c} ${idKey(op.id)}, which has no stamp`);
      return { c: op.c, id: op.id, v: op.v, h: op.h as string, over: op.stamp.over };
    });
    await this.own.transaction(async (session, lane) => {
      if (this.#oneRequestWrites) {
        // One request: the marker, then every stamp (two round trips with the commit, not three).
        await this.#oneRequest(
          [
            this.#markerModel(device, lane),
            ...stamps.map((st) => ({ namespace: this.#ns(st.c), name: 'updateOne' as const, ...stampUpdate(st) })),
          ],
          session,
          false,
        );
        return;
      }
      await this.#writeMarker(device, lane, session);
      for (const [c, group] of groupBy(stamps, (st) => st.c)) await this.#stampAll(c, group, session);
    });
  }

  /** The stamps of `c`'s documents, each written as `stampUpdate` says. */
  async #stampAll(c: string, stamps: ReadonlyArray<{ id: DocumentId } & HubStamp>, session: ClientSession): Promise<void> {
    if (stamps.length === 0) return;
    const writes = stamps.map((s) => ({ updateOne: stampUpdate(s) }));
    await this.#collection(c).bulkWrite(writes as never[], { session, ordered: false });
  }

  /**
   * One `bulkWrite` request across collections, in `session`'s transaction; its result. A failure of the whole
   * request comes from the driver wrapped: it is thrown unwrapped, so a write conflict is retried at once like any other.
   */
  async #oneRequest(
    models: AnyClientBulkWriteModel<Document>[],
    session: ClientSession,
    ordered = true,
    verboseResults = false,
  ): Promise<ClientBulkWriteResult> {
    try {
      return await this.client.bulkWrite(models, { session, ordered, verboseResults });
    } catch (err) {
      throw err instanceof MongoClientBulkWriteError && err.writeErrors.size === 0 && err.cause instanceof MongoError ? err.cause : err;
    }
  }

  /**
   * How far the hub surely holds `device`'s outbox: every entry up to this sequence number (its push
   * markers, one per lane; 0 when it never pushed since `forgetPushed`).
   */
  async pushedSeq(device: string): Promise<number> {
    const markers = await this.db
      .collection(PUSH_MARKER)
      .find(lanesOf(device), { projection: { seq: 1 } })
      .toArray();
    return Math.max(0, ...markers.map((m) => Number(m.seq ?? 0)).filter((n) => Number.isFinite(n)));
  }

  /**
   * A new run of the engine claims nothing pushed yet: a lane last written by an earlier run (or by
   * an earlier install of a till with this device id, whose numbers started again) must not speak
   * for this one. Behind is harmless: reconciliation leaves those documents to the push.
   */
  async forgetPushed(device: string): Promise<void> {
    await this.db.collection(PUSH_MARKER).updateMany(lanesOf(device), { $set: { seq: 0 } });
  }

  async collectionNames(): Promise<string[]> {
    return (await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  }

  async estimatedCount(c: string): Promise<number> {
    return Number(await this.#collection(c).estimatedDocumentCount());
  }

  /** Every document of `c`, `_sync` included (reconciliation's scan). */
  scan(c: string, batchSize: number): AsyncIterable<AnyDocument> {
    return this.#collection(c).find({}).batchSize(batchSize);
  }

  async #documents(c: string, ids: readonly DocumentId[], session?: ClientSession): Promise<Map<string, AnyDocument>> {
    const docs = new Map<string, AnyDocument>();
    if (ids.length === 0) return docs;
    for (const doc of await this.#collection(c)
      .find({ _id: { $in: [...ids] } }, { session })
      .toArray())
      docs.set(idKey(doc._id), doc);
    return docs;
  }

  /** The hub's side of these documents of `c` now: each document (raw, with `_sync`) or else its tombstone, by id key. */
  async state(c: string, ids: readonly DocumentId[]): Promise<{ docs: Map<string, AnyDocument>; tombstones: Map<string, HubVersion> }> {
    const docs = await this.#documents(c, ids);
    const tombstones = await this.tombstones(
      c,
      ids.filter((id) => !docs.has(idKey(id))),
    );
    return { docs, tombstones };
  }

  /** Which of these documents of `c` the hub has now, by id key. */
  async existing(c: string, ids: readonly DocumentId[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (ids.length === 0) return found;
    for (const doc of await this.#collection(c)
      .find({ _id: { $in: [...ids] } }, { projection: { _id: 1 } })
      .toArray())
      found.add(idKey(doc._id));
    return found;
  }

  /** The tombstones of these documents of `c`, by id key. */
  async tombstones(c: string, ids: readonly DocumentId[], session?: ClientSession): Promise<Map<string, HubVersion>> {
    const tombs = new Map<string, HubVersion>();
    if (ids.length === 0) return tombs;
    for (const t of await this.#tombstones.find({ _id: { $in: ids.map((id) => ({ c, id })) } }, { session }).toArray()) {
      tombs.set(idKey(t._id.id), { v: t.v, o: t.o });
    }
    return tombs;
  }

  /** Forgets deletes recorded before `before` (any till may do it; it is idempotent). Returns how many. */
  async pruneTombstones(before: Date): Promise<number> {
    return (await this.#tombstones.deleteMany({ at: { $lt: before } })).deletedCount;
  }

  async close(): Promise<void> {
    await this.client.close(true);
  }
}

/**
 * The batch's decisions when every change is a new document to this till (no version of it seen) decided as the
 * hub having neither it nor its tombstone: each a plain insert. Undefined when any is something else.
 */
function newDocumentWrites(
  changes: readonly Collapsed[],
  decide: PushDecider,
): Array<{ change: Collapsed; decision: PushDecision }> | undefined {
  const outcome: Array<{ change: Collapsed; decision: PushDecision }> = [];
  for (const change of changes) {
    if (change.entry.op !== 'upsert' || (change.base !== null && change.base !== undefined)) return undefined;
    const decision = decide(change, null, null);
    if (decision.kind !== 'write' || decision.write.op !== 'put' || decision.write.dropTombstone || decision.conflict) return undefined;
    outcome.push({ change, decision });
  }
  return outcome.length > 0 ? outcome : undefined;
}

/**
 * A stamp's write: over the `_sync.v` its document was read with (none, or the same one when older), or over an
 * older version written for the same content (another till's stamp of the same HQ change: the newest wins, as every
 * till that stamped it then takes). A push since, or a newer version, is left as it is.
 */
function stampUpdate(s: { id: DocumentId } & HubStamp): { filter: Document; update: Document } {
  return {
    filter: {
      _id: s.id,
      $or: [
        { [`${SYNC_FIELD}.v`]: s.over === null ? { $exists: false } : { $eq: s.over, $lt: s.v } },
        { [`${SYNC_FIELD}.v`]: { $lt: s.v }, [`${SYNC_FIELD}.h`]: s.h },
      ],
    },
    update: { $set: { [SYNC_FIELD]: { v: s.v, o: 'hub', h: s.h } } },
  };
}

/** A document write of a push: replace (or insert) by id, or delete by id. */
type WriteOp = { name: 'replaceOne'; filter: Document; replacement: Document; upsert: true } | { name: 'deleteOne'; filter: Document };

/**
 * The writes a push decided for `c`, as operations: on its documents (with their ids, to name one the hub
 * refuses), then on the tombstones (after, so a tombstone is written after its document's delete).
 */
function writeOps(c: string, writes: readonly HubWrite[]): { docOps: WriteOp[]; docIds: DocumentId[]; tombOps: WriteOp[] } {
  const docOps: WriteOp[] = [];
  const docIds: DocumentId[] = [];
  const tombOps: WriteOp[] = [];
  for (const w of writes) {
    if (w.op === 'put') {
      docOps.push({ name: 'replaceOne', filter: { _id: w.id }, replacement: w.doc, upsert: true });
      docIds.push(w.id);
      if (w.dropTombstone) tombOps.push({ name: 'deleteOne', filter: { _id: { c, id: w.id } } });
    } else {
      if (w.docExists) {
        docOps.push({ name: 'deleteOne', filter: { _id: w.id } });
        docIds.push(w.id);
      }
      tombOps.push({
        name: 'replaceOne',
        filter: { _id: { c, id: w.id } },
        replacement: { _id: { c, id: w.id }, ...w.tombstone, at: new Date() },
        upsert: true,
      });
    }
  }
  return { docOps, docIds, tombOps };
}
