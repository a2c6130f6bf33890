/**
 * The hub side: a client with short timeouts (an unreachable hub must show as
 * offline within seconds, not hang), the hub database with raw BSON types, and
 * how to read the version of a hub document.
 */
import { MongoClient, type Collection, type Db, type Document } from 'mongodb';
import { contentHash, RAW_BSON, readSyncMeta, type AnyDocument, type DocumentId } from './documents.ts';
import { encodeVersion } from './hlc.ts';
import { PUSH_MARKER, TOMBSTONES } from './names.ts';
import { OwnSessions } from './own-sessions.ts';

/** Sessions opened with the connection for the engine's own hub writes: the push, and the pull's stamps in two lanes. */
const OWN_SESSIONS = 3;

export interface Tombstone {
  _id: { c: string; id: DocumentId };
  v: string;
  o: string;
  at: Date;
}

export interface HubVersion {
  v: string;
  o: string;
}

export class Hub {
  readonly client: MongoClient;
  readonly db: Db;

  /** The sessions of this engine's own hub writes (pushes, stamps), which the pull's stream leaves out. */
  readonly own: OwnSessions;

  private constructor(client: MongoClient, database: string) {
    this.client = client;
    this.db = client.db(database, RAW_BSON);
    this.own = new OwnSessions(client, OWN_SESSIONS);
  }

  static async connect(uri: string, database: string, appName: string): Promise<Hub> {
    const client = new MongoClient(uri, {
      appName,
      serverSelectionTimeoutMS: 5_000,
      connectTimeoutMS: 5_000,
      socketTimeoutMS: 10_000,
      heartbeatFrequencyMS: 2_000,
      maxPoolSize: 8,
    });
    await client.connect();
    const hub = new Hub(client, database);
    await hub.init();
    return hub;
  }

  private async init(): Promise<void> {
    const names = new Set((await this.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name));
    for (const name of [PUSH_MARKER, TOMBSTONES]) {
      if (!names.has(name))
        await this.db.createCollection(name).catch((err: { code?: number }) => {
          if (err.code !== 48) throw err;
        });
    }
  }

  collection(name: string): Collection<AnyDocument> {
    return this.db.collection<AnyDocument>(name, RAW_BSON);
  }

  get tombstones(): Collection<Tombstone> {
    return this.db.collection<Tombstone>(TOMBSTONES, RAW_BSON);
  }

  get pushMarker(): Collection<{ _id: string; seq: number; at: Date }> {
    return this.db.collection(PUSH_MARKER);
  }

  async close(): Promise<void> {
    await this.client.close(true);
  }
}

/**
 * The version of a hub document when its `_sync` was written for its current
 * content; undefined when a client that knows nothing of sync (HQ back-office)
 * changed it since and no engine has stamped that change yet.
 */
export function stampedVersion(doc: Document): HubVersion | undefined {
  const meta = readSyncMeta(doc);
  return meta && !('malformed' in meta) && meta.h === contentHash(doc) ? { v: meta.v, o: meta.o } : undefined;
}

/** An HQ change no engine has stamped: counts as made now. */
export function unstampedVersion(now = Date.now()): HubVersion {
  return { v: encodeVersion({ wall: now, counter: 0, device: 'hub' }), o: 'hub' };
}
