/**
 * The till's side: its POS database (raw BSON, so types survive) and the
 * engine's own database — device id, settings, checkpoints, outbox, versions,
 * conflicts and quarantine.
 */
import { randomUUID } from 'node:crypto';
import {
  ObjectId,
  type ClientSession,
  type Collection,
  type Db,
  type Document,
  type MongoClient,
  type ResumeToken,
  type Timestamp,
} from 'mongodb';
import { RAW_BSON, type AnyDocument, type DocumentId } from './documents.ts';
import { isValidDeviceId } from './hlc.ts';
import { APPLY_MARKER, ENGINE } from './names.ts';
import { ENGINE_COLLECTION_PREFIX } from './policy.ts';
import { OwnSessions } from './own-sessions.ts';
import type { ConflictRule } from '../../src-shared/conflict-rules.ts';

/** The engine's own writes to POS collections that run at once: the pull's applies (two lanes while reconciling) and the push's settle. */
const OWN_SESSIONS = 3;

export interface OutboxEntry {
  /** Capture order. */
  _id: number;
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  doc?: Document;
  /** Content hash of `doc` (upserts), as captured: the push stamps it without hashing again. Absent in older entries. */
  h?: string;
  /** Encoded HLC version. */
  v: string;
  /** When the engine captured it. */
  at: Date;
  /** When the write happened (the change event's wallTime). */
  wall: Date;
  /** The version this till held before the write (null: it had none); absent when unknown. */
  base?: string | null;
  /** Top-level fields the write changed (an update); absent or null: all of them (insert, replace). */
  fields?: string[] | null;
  /**
   * The newest hub change to this document the pull passed over while this
   * change waited to be pushed (see `HubChangeSeen`); the push's settle
   * applies it if it is newer than what the push leaves on the till.
   */
  hub?: HubChangeSeen;
}

/** A hub change the pull saw but left to the push, because the document had a change waiting. */
export interface HubChangeSeen {
  v: string;
  o: string;
  /** The document as the change left it, without `_sync`; null for a delete. */
  doc: Document | null;
}

/** What the till last knew of each synced document: its version and content hash. */
export interface VersionRecord {
  _id: { c: string; id: DocumentId };
  v: string;
  /** Content hash of the document as last captured or applied; null once deleted. */
  h: string | null;
}

export interface Checkpoint {
  _id: 'capture' | 'pull';
  token?: ResumeToken;
  /** Before the first change was read: the cluster time the stream starts at. */
  startAt?: Timestamp;
  /** capture: the last outbox sequence number used. */
  seq?: number;
  /** The HLC clock after this checkpoint's writes. */
  clock?: string;
  /** capture: transaction keys of engine writes still being read (see capture.ts). */
  engineTxns?: string[];
  at: Date;
}

export interface ConflictRecord {
  _id: ObjectId;
  collection: string;
  documentId: DocumentId;
  winner: 'local' | 'hub';
  rule: ConflictRule;
  /** The fields both sides changed, for `newer-version-per-field`. */
  fields?: string[];
  local: { version: string; origin: string; document: Document | null };
  hub: { version: string; origin: string; document: Document | null };
  at: Date;
  /** Set when someone re-applied the losing version as a new write. */
  reappliedAt?: Date | null;
}

/** A new conflict record with its id fixed up front, so the event and the stored record agree. */
export function conflictRecord(fields: Omit<ConflictRecord, '_id' | 'at'> & { at?: Date }): ConflictRecord {
  return { _id: new ObjectId(), at: new Date(), reappliedAt: null, ...fields };
}

export interface QuarantineRecord {
  collection: string;
  documentId: DocumentId;
  side: 'hub' | 'local';
  reason: string;
  /** `clock-drift`: the version was too far ahead of this till's clock; it is compared again once the clocks agree. */
  kind?: 'clock-drift';
  /** The change as received (may be truncated for very large documents). */
  change: Document | null;
  at: Date;
}

/** Small engine records: `device` (the device id) and `settings` (the enable toggle). */
export interface MetaRecord {
  _id: string;
  [field: string]: unknown;
}

export class LocalStore {
  readonly client: MongoClient;
  readonly pos: Db;
  readonly engine: Db;

  /** Sessions of the engine's own writes to POS collections, which capture's stream leaves out. */
  readonly own: OwnSessions;

  constructor(client: MongoClient, database: string, engineDatabase: string) {
    this.client = client;
    this.pos = client.db(database, RAW_BSON);
    this.engine = client.db(engineDatabase);
    this.own = new OwnSessions(client, OWN_SESSIONS);
  }

  get outbox(): Collection<OutboxEntry> {
    return this.engine.collection<OutboxEntry>(ENGINE.outbox, RAW_BSON);
  }

  get versions(): Collection<VersionRecord> {
    return this.engine.collection<VersionRecord>(ENGINE.versions, RAW_BSON);
  }

  get checkpoints(): Collection<Checkpoint> {
    return this.engine.collection<Checkpoint>(ENGINE.checkpoints);
  }

  get conflicts(): Collection<ConflictRecord> {
    return this.engine.collection<ConflictRecord>(ENGINE.conflicts, RAW_BSON);
  }

  get quarantine(): Collection<QuarantineRecord> {
    return this.engine.collection<QuarantineRecord>(ENGINE.quarantine, RAW_BSON);
  }

  get meta(): Collection<MetaRecord> {
    return this.engine.collection<MetaRecord>(ENGINE.meta);
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
    await this.outbox.createIndex({ c: 1, id: 1 });
    await this.conflicts.createIndex({ at: -1 });
    const posCollections = await this.pos.listCollections({}, { nameOnly: true }).toArray();
    if (!posCollections.some((c) => c.name === APPLY_MARKER)) await this.pos.createCollection(APPLY_MARKER).catch(ignoreExists);
    for (const { name } of posCollections) await this.enableImages(name);
  }

  /** Post-images let capture read a document as it was right after each update. */
  async enableImages(collection: string): Promise<void> {
    if (collection.startsWith(ENGINE_COLLECTION_PREFIX) || collection.startsWith('system.')) return;
    await this.pos.command({ collMod: collection, changeStreamPreAndPostImages: { enabled: true } }).catch(() => undefined);
  }

  /** The device id: generated once and kept in the till's database. */
  async deviceId(preferred?: string): Promise<string> {
    const found = await this.meta.findOne({ _id: 'device' });
    if (found && typeof found.deviceId === 'string') return found.deviceId;
    const id = preferred ?? `till-${randomUUID().slice(0, 8)}`;
    if (!isValidDeviceId(id)) throw new Error(`device id "${id}" is not valid: use 1 to 64 letters, digits, "_" or "-"`);
    await this.meta.updateOne({ _id: 'device' }, { $setOnInsert: { deviceId: id, createdAt: new Date() } }, { upsert: true });
    const stored = await this.meta.findOne({ _id: 'device' });
    return String(stored?.deviceId ?? id);
  }

  async loadEnabled(): Promise<boolean> {
    const found = await this.meta.findOne({ _id: 'settings' });
    return found?.enabled !== false;
  }

  async saveEnabled(enabled: boolean): Promise<void> {
    await this.meta.updateOne({ _id: 'settings' }, { $set: { enabled, changedAt: new Date() } }, { upsert: true });
  }

  /** The hub clock minus this till's clock, as last measured (null: never measured). */
  async loadHubClockOffset(): Promise<number | null> {
    const found = await this.meta.findOne({ _id: 'clock' });
    return typeof found?.hubMinusTillMs === 'number' ? found.hubMinusTillMs : null;
  }

  async saveHubClockOffset(ms: number): Promise<void> {
    await this.meta.updateOne({ _id: 'clock' }, { $set: { hubMinusTillMs: ms, measuredAt: new Date() } }, { upsert: true });
  }

  async loadCheckpoint(name: Checkpoint['_id']): Promise<Checkpoint | null> {
    return this.checkpoints.findOne({ _id: name });
  }

  async saveCheckpoint(checkpoint: Checkpoint, session?: ClientSession): Promise<void> {
    const { _id, ...fields } = checkpoint;
    await this.checkpoints.updateOne({ _id }, { $set: fields }, { upsert: true, session });
  }

  /** The cluster time of `db`'s server now: where a stream that has read nothing yet starts. */
  static async clusterTime(db: Db): Promise<Timestamp> {
    const session = db.client.startSession();
    try {
      await db.command({ ping: 1 }, { session });
      const time = session.operationTime;
      if (!time) throw new Error('the server reported no cluster time (is it a replica set?)');
      return time;
    } finally {
      await session.endSession();
    }
  }

  async outboxStats(): Promise<{ depth: number; oldest: Date | null }> {
    const depth = Number(await this.outbox.countDocuments());
    if (depth === 0) return { depth, oldest: null };
    const first = await this.outbox
      .find({}, { projection: { at: 1, wall: 1 } })
      .sort({ _id: 1 })
      .limit(1)
      .next();
    return { depth, oldest: (first?.wall as Date | undefined) ?? null };
  }
}

function ignoreExists(err: { code?: number }): void {
  if (err.code !== 48) throw err;
}
