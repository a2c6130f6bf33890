/**
 * The till's side: its POS database (raw BSON, so types survive) and the
 * engine's own database — device id, settings, checkpoints, outbox, version
 * records, conflicts and quarantine — behind named methods.
 *
 * Every engine write to a POS collection goes through one place,
 * `TillTransaction.apply`, which writes the apply marker first in its
 * transaction: capture recognises the transaction as the engine's and never
 * pushes it back. The one other write to POS collections is a deliberate
 * local write (`writeAsLocal`, re-applying a conflict's loser), which capture
 * takes like any write of the POS software's.
 */
import { randomUUID } from 'node:crypto';
import type { AnyBulkWriteOperation, ClientSession, Collection, Db, Document, MongoClient, ResumeToken } from 'mongodb';
import { isValidDeviceId } from '../core/hlc.ts';
import { APPLY_MARKER, ENGINE } from '../core/names.ts';
import { isEngineCollection, type CollectionPolicy } from '../core/policy.ts';
import type { AnyDocument, DocumentId, Known, TillWrite } from '../core/types.ts';
import { RAW_BSON, docKey, idKey } from '../documents.ts';
import { OwnSessions, PUSH_IN_FLIGHT } from '../own-sessions.ts';
import { EventQueue, SPLIT_LARGE_EVENTS, STREAM_AWAIT_MS, type ChangeEvent, type StreamStart } from '../event-queue.ts';
import { inTransaction } from '../transaction.ts';
import { groupBy } from '../group-by.ts';
import { refusedOrRethrow } from '../refused.ts';
import { onlyDuplicateKeys, serverCode } from '../errors.ts';
import { Lease } from './lease.ts';
import { Outbox } from './outbox.ts';
import { Checkpoints, ConflictLog, Quarantine, type Checkpoint, type QuarantineRecord } from './records.ts';
import type { StoredConflict } from './conflict-form.ts';
import { knownOf, olderThan, recordUpdate, type VersionRecord } from './version-record.ts';

/** The engine's own writes to POS collections that run at once: the pull's applies (two lanes while reconciling) and the push's settle. */
const OWN_SESSIONS = 2 + PUSH_IN_FLIGHT;

/** A till's default device id when none is given: `till-` and 8 hex digits, e.g. `till-3f9a12bc`. */
export function newDeviceId(): string {
  return `till-${randomUUID().slice(0, 8)}`;
}

/** Small engine records: `device` (the device id), `settings` (the enable toggle), `clock` (the last hub clock reading). */
interface MetaRecord {
  _id: string;
  [field: string]: unknown;
}

export class TillStore {
  readonly client: MongoClient;
  readonly pos: Db;
  readonly engine: Db;
  /** Sessions of the engine's own writes to POS collections, which capture's stream leaves out. */
  readonly own: OwnSessions;
  readonly outbox: Outbox;
  readonly checkpoints: Checkpoints;
  readonly conflicts: ConflictLog;
  readonly quarantine: Quarantine;
  readonly #versions: Collection<VersionRecord>;
  readonly #meta: Collection<MetaRecord>;

  constructor(client: MongoClient, database: string, engineDatabase: string) {
    this.client = client;
    this.pos = client.db(database, RAW_BSON);
    this.engine = client.db(engineDatabase);
    this.own = new OwnSessions(client, OWN_SESSIONS);
    this.outbox = new Outbox(this.engine.collection(ENGINE.outbox, RAW_BSON));
    this.checkpoints = new Checkpoints(this.engine.collection<Checkpoint>(ENGINE.checkpoints));
    this.conflicts = new ConflictLog(this.engine.collection<StoredConflict>(ENGINE.conflicts, RAW_BSON));
    this.quarantine = new Quarantine(this.engine.collection<QuarantineRecord>(ENGINE.quarantine, RAW_BSON));
    this.#versions = this.engine.collection<VersionRecord>(ENGINE.versions, RAW_BSON);
    this.#meta = this.engine.collection<MetaRecord>(ENGINE.meta);
  }

  posCollection(name: string): Collection<AnyDocument> {
    return this.pos.collection<AnyDocument>(name, RAW_BSON);
  }

  /** Creates what the engine needs; turns on pre/post images for every POS collection. */
  async init(): Promise<void> {
    const existing = new Set((await this.engine.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of Object.values(ENGINE)) {
      if (!existing.has(name)) await this.engine.createCollection(name).catch(ignoreExists);
    }
    await this.outbox.init();
    await this.engine.collection(ENGINE.conflicts).createIndex({ at: -1 });
    const posCollections = await this.pos.listCollections({}, { nameOnly: true }).toArray();
    if (!posCollections.some((c) => c.name === APPLY_MARKER)) await this.pos.createCollection(APPLY_MARKER).catch(ignoreExists);
    for (const { name } of posCollections) await this.enableImages(name);
  }

  /** Post-images let capture read a document as it was right after each update. */
  async enableImages(collection: string): Promise<void> {
    if (isEngineCollection(collection)) return;
    await this.pos.command({ collMod: collection, changeStreamPreAndPostImages: { enabled: true } }).catch(() => undefined);
  }

  /** The POS database's changes after `from`, as a queue read on demand; the engine's own writes are mostly left out. */
  changes(from: StreamStart, batchSize: number): EventQueue {
    const stream = this.pos.watch<Document, ChangeEvent>([...this.own.leftOut(), SPLIT_LARGE_EVENTS], {
      ...RAW_BSON,
      fullDocument: 'whenAvailable',
      showExpandedEvents: true,
      maxAwaitTimeMS: STREAM_AWAIT_MS,
      batchSize,
      ...(from.token ? { startAfter: from.token as ResumeToken } : from.startAt ? { startAtOperationTime: from.startAt } : {}),
    });
    return new EventQueue(stream, { readAhead: true });
  }

  async posCollectionNames(): Promise<string[]> {
    return (await this.pos.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  }

  /** The one-engine-per-till lease, for this engine. */
  lease(device: string, ttlMs: number, holder?: string): Lease {
    return new Lease(this.#meta, device, ttlMs, holder);
  }

  /** The device id: generated once and kept in the till's database. */
  async deviceId(preferred?: string): Promise<string> {
    const found = await this.#meta.findOne({ _id: 'device' });
    if (found && typeof found.deviceId === 'string') return found.deviceId;
    const id = preferred ?? newDeviceId();
    if (!isValidDeviceId(id)) throw new Error(`device id "${id}" is not valid: use 1 to 64 letters, digits, "_" or "-"`);
    await this.#meta.updateOne({ _id: 'device' }, { $setOnInsert: { deviceId: id, createdAt: new Date() } }, { upsert: true });
    const stored = await this.#meta.findOne({ _id: 'device' });
    return String(stored?.deviceId ?? id);
  }

  async loadEnabled(): Promise<boolean> {
    const found = await this.#meta.findOne({ _id: 'settings' });
    return found?.enabled !== false;
  }

  async saveEnabled(enabled: boolean): Promise<void> {
    await this.#meta.updateOne({ _id: 'settings' }, { $set: { enabled, changedAt: new Date() } }, { upsert: true });
  }

  /** The collection policies the engine last ran with (null: none recorded yet). */
  async loadPolicies(): Promise<Record<string, Partial<CollectionPolicy>> | null> {
    const found = await this.#meta.findOne({ _id: 'policies' });
    return found && typeof found.collections === 'object' && found.collections !== null
      ? (found.collections as Record<string, Partial<CollectionPolicy>>)
      : null;
  }

  async savePolicies(collections: Record<string, Partial<CollectionPolicy>>): Promise<void> {
    await this.#meta.updateOne({ _id: 'policies' }, { $set: { collections, changedAt: new Date() } }, { upsert: true });
  }

  /** The hub clock minus this till's clock, as last measured (null: never measured). */
  async loadHubClockOffset(): Promise<number | null> {
    const found = await this.#meta.findOne({ _id: 'clock' });
    return typeof found?.hubMinusTillMs === 'number' ? found.hubMinusTillMs : null;
  }

  async saveHubClockOffset(ms: number): Promise<void> {
    await this.#meta.updateOne({ _id: 'clock' }, { $set: { hubMinusTillMs: ms, measuredAt: new Date() } }, { upsert: true });
  }

  /** The till's documents of `c` with these ids, by id key. */
  async documents(c: string, ids: readonly DocumentId[], session?: ClientSession): Promise<Map<string, AnyDocument>> {
    const docs = new Map<string, AnyDocument>();
    if (ids.length === 0) return docs;
    for (const doc of await this.posCollection(c)
      .find({ _id: { $in: [...ids] } }, { session })
      .toArray())
      docs.set(idKey(doc._id), doc);
    return docs;
  }

  /** Every document of `c` (reconciliation's scan). */
  scan(c: string): AsyncIterable<AnyDocument> {
    return this.posCollection(c).find({});
  }

  /** What the till knows of these documents of `c` (version and content hash), by id key. */
  async known(c: string, ids: readonly DocumentId[], session?: ClientSession): Promise<Map<string, Known>> {
    const known = new Map<string, Known>();
    if (ids.length === 0) return known;
    const found = await this.#versions
      .find({ _id: { $in: ids.map((id) => ({ c, id })) } }, { session, projection: { v: 1, d: 1, h: 1 } })
      .toArray();
    for (const r of found) known.set(idKey(r._id.id), knownOf(r));
    return known;
  }

  /** Everything the till knows of `c`'s documents (reconciliation's scan), with their ids, by id key. */
  async knownIn(c: string): Promise<Map<string, Known & { id: DocumentId }>> {
    const known = new Map<string, Known & { id: DocumentId }>();
    for await (const r of this.#versions.find({ '_id.c': c })) known.set(idKey(r._id.id), { id: r._id.id, ...knownOf(r) });
    return known;
  }

  /** Records what the till now knows of these documents (the one version-record write). */
  async putKnown(
    records: ReadonlyArray<Pick<TillWrite, 'c' | 'id' | 'known'>>,
    session: ClientSession,
    /** Documents this transaction read and found no record of: their first record is inserted, not upserted (less work for the server). */
    absent?: (c: string, id: DocumentId) => boolean,
  ): Promise<void> {
    if (records.length === 0) return;
    const inserts: Array<AnyBulkWriteOperation<VersionRecord>> = [];
    const updates: Array<AnyBulkWriteOperation<VersionRecord>> = [];
    const inserted = new Set<string>();
    for (const r of records) {
      const key = docKey(r.c, r.id);
      if (absent?.(r.c, r.id) && !inserted.has(key)) {
        inserted.add(key);
        inserts.push({
          insertOne: { document: { _id: { c: r.c, id: r.id }, ...recordUpdate(r.known.v, r.known.h).$set } as VersionRecord },
        });
      } else
        updates.push({ updateOne: { filter: { _id: { c: r.c, id: r.id } }, update: recordUpdate(r.known.v, r.known.h), upsert: true } });
    }
    // A document's later records come after its first: inserts first keeps each document's order.
    await this.#versions.bulkWrite([...inserts, ...updates], { session, ordered: true });
  }

  /** Version-only agreements found by reconciliation: each record moves only forward (outside any transaction). */
  async agreeKnown(records: ReadonlyArray<{ c: string; id: DocumentId; v: string; h: string }>): Promise<void> {
    if (records.length === 0) return;
    await this.#versions
      .bulkWrite(
        records.map((r) => ({
          updateOne: {
            filter: { _id: { c: r.c, id: r.id }, ...olderThan(r.v) },
            update: recordUpdate(r.v, r.h),
            upsert: true,
          },
        })),
        { ordered: false },
      )
      .catch((err: unknown) => {
        if (!onlyDuplicateKeys(err)) throw err; // a newer record is already there
      });
  }

  /** A transaction of the engine's own in a plain session (capture's: engine records only, never POS documents). */
  async transaction<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    return inTransaction(this.client, fn);
  }

  /**
   * A transaction that may write to POS collections, in one of the engine's
   * own sessions. `marker` names the apply-marker document (lanes that run at
   * once use different ones, so they do not conflict on it); it is written
   * before the first POS write, or at once with `markFirst` (which also fixes
   * the transaction's snapshot before anything is read).
   */
  async engineTransaction<T>(marker: string, fn: (tx: TillTransaction) => Promise<T>, options: { markFirst?: boolean } = {}): Promise<T> {
    return this.own.transaction(async (session) => {
      const tx = new TillTransaction(this, session, marker);
      if (options.markFirst) await tx.mark();
      return fn(tx);
    });
  }

  /**
   * Writes documents as the POS software would (no marker, not an own
   * session): capture takes each as a new local change with a new version.
   * For re-applying a conflict's losing version.
   */
  async writeAsLocal(writes: ReadonlyArray<Pick<TillWrite, 'c' | 'id' | 'doc'>>): Promise<void> {
    for (const [c, group] of groupBy(writes, (w) => w.c)) await writeDocuments(this.posCollection(c), group);
  }
}

/** One engine transaction on the till (see `TillStore.engineTransaction`). */
export class TillTransaction {
  readonly session: ClientSession;
  readonly #store: TillStore;
  readonly #marker: string;
  #marked = false;
  /**
   * Documents and version records this transaction read and found missing, by `c\0idKey`. Its snapshot
   * still lacks them, so its first write of each inserts instead of upserting: the same outcome, less
   * work for the server (a write committed meanwhile conflicts either way, and the transaction is retried).
   */
  readonly #missingDocs = new Set<string>();
  readonly #missingKnown = new Set<string>();

  constructor(store: TillStore, session: ClientSession, marker: string) {
    this.#store = store;
    this.session = session;
    this.#marker = marker;
  }

  /** Writes the apply marker, once: capture recognises this transaction as the engine's by it. */
  async mark(): Promise<void> {
    if (this.#marked) return;
    await this.#store
      .posCollection(APPLY_MARKER)
      .updateOne({ _id: this.#marker }, { $inc: { n: 1 } }, { upsert: true, session: this.session });
    this.#marked = true;
  }

  /** The one way the engine writes POS documents: marker first, then the documents and what the till now knows of them. */
  async apply(writes: readonly TillWrite[]): Promise<void> {
    if (writes.length === 0) return;
    await this.mark();
    for (const [c, group] of groupBy(writes, (w) => w.c))
      await writeDocuments(this.#store.posCollection(c), group, this.session, (id) => this.#missingDocs.delete(docKey(c, id)));
    await this.#store.putKnown(writes, this.session, (c, id) => this.#missingKnown.delete(docKey(c, id)));
  }

  async documents(c: string, ids: readonly DocumentId[]): Promise<Map<string, AnyDocument>> {
    const found = await this.#store.documents(c, ids, this.session);
    for (const id of ids) if (!found.has(idKey(id))) this.#missingDocs.add(docKey(c, id));
    return found;
  }

  async known(c: string, ids: readonly DocumentId[]): Promise<Map<string, Known>> {
    const found = await this.#store.known(c, ids, this.session);
    for (const id of ids) if (!found.has(idKey(id))) this.#missingKnown.add(docKey(c, id));
    return found;
  }
}

/**
 * Replaces (or inserts) each document, or deletes it where `doc` is null, in order. A document whose first
 * write finds it `missing` is inserted instead, ahead of the rest (its later writes stay after it; other
 * documents' order does not matter, and inserts in a row are one command).
 */
async function writeDocuments(
  coll: Collection<AnyDocument>,
  writes: ReadonlyArray<Pick<TillWrite, 'id' | 'doc'>>,
  session?: ClientSession,
  missing?: (id: DocumentId) => boolean,
): Promise<void> {
  const inserts: Array<{ op: AnyBulkWriteOperation<AnyDocument>; at: number }> = [];
  const others: Array<{ op: AnyBulkWriteOperation<AnyDocument>; at: number }> = [];
  const seen = new Set<string>();
  writes.forEach((w, at) => {
    const first = !seen.has(idKey(w.id));
    seen.add(idKey(w.id));
    // Asked once, at a document's first write (whatever it is): after that, the document is what that write left.
    if (first && missing?.(w.id) && w.doc) inserts.push({ op: { insertOne: { document: { _id: w.id, ...stripId(w.doc) } } }, at });
    else
      others.push({
        op: w.doc
          ? { replaceOne: { filter: { _id: w.id }, replacement: stripId(w.doc), upsert: true } }
          : { deleteOne: { filter: { _id: w.id } } },
        at,
      });
  });
  const ops = [...inserts, ...others];
  try {
    await coll.bulkWrite(
      ops.map((o) => o.op),
      { session, ordered: true },
    );
  } catch (err) {
    refusedOrRethrow(err, 'local', coll.collectionName, (index) => writes[ops[index]?.at ?? -1]?.id);
  }
}

/** A replacement keeps the filter's `_id`; one in the document must equal it, so it is simply left to the filter. */
function stripId(doc: Document): Document {
  const { _id: _same, ...rest } = doc;
  return rest;
}

function ignoreExists(err: unknown): void {
  if (serverCode(err) !== 48) throw err;
}
