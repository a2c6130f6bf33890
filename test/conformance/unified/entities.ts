/**
 * The entity map of a unified test: clients (with the events they observe),
 * databases, collections, sessions, and what operations save (change
 * streams, cursors, plain values).
 */
import {
  BSON,
  MongoClient,
  ReadPreference,
  type ReadPreferenceMode,
  type ChangeStream,
  type ClientSession,
  type Collection,
  type Db,
  type Document,
  type FindCursor,
  type AggregationCursor,
} from 'mongodb';
import type { EntityLookup } from './match.ts';

/** Unified event names and the Node driver's, by category. */
export const EVENT_NAMES: Record<string, { node: string; category: 'command' | 'cmap' | 'sdam' }> = {
  commandStartedEvent: { node: 'commandStarted', category: 'command' },
  commandSucceededEvent: { node: 'commandSucceeded', category: 'command' },
  commandFailedEvent: { node: 'commandFailed', category: 'command' },
  poolCreatedEvent: { node: 'connectionPoolCreated', category: 'cmap' },
  poolReadyEvent: { node: 'connectionPoolReady', category: 'cmap' },
  poolClearedEvent: { node: 'connectionPoolCleared', category: 'cmap' },
  poolClosedEvent: { node: 'connectionPoolClosed', category: 'cmap' },
  connectionCreatedEvent: { node: 'connectionCreated', category: 'cmap' },
  connectionReadyEvent: { node: 'connectionReady', category: 'cmap' },
  connectionClosedEvent: { node: 'connectionClosed', category: 'cmap' },
  connectionCheckOutStartedEvent: { node: 'connectionCheckOutStarted', category: 'cmap' },
  connectionCheckOutFailedEvent: { node: 'connectionCheckOutFailed', category: 'cmap' },
  connectionCheckedOutEvent: { node: 'connectionCheckedOut', category: 'cmap' },
  connectionCheckedInEvent: { node: 'connectionCheckedIn', category: 'cmap' },
  serverDescriptionChangedEvent: { node: 'serverDescriptionChanged', category: 'sdam' },
  topologyDescriptionChangedEvent: { node: 'topologyDescriptionChanged', category: 'sdam' },
  serverHeartbeatStartedEvent: { node: 'serverHeartbeatStarted', category: 'sdam' },
  serverHeartbeatSucceededEvent: { node: 'serverHeartbeatSucceeded', category: 'sdam' },
  serverHeartbeatFailedEvent: { node: 'serverHeartbeatFailed', category: 'sdam' },
  topologyOpeningEvent: { node: 'topologyOpening', category: 'sdam' },
  topologyClosedEvent: { node: 'topologyClosed', category: 'sdam' },
};

const SENSITIVE = new Set([
  'authenticate',
  'saslstart',
  'saslcontinue',
  'getnonce',
  'createuser',
  'updateuser',
  'copydbgetnonce',
  'copydbsaslstart',
  'copydb',
]);

export interface RecordedEvent {
  /** Unified name, e.g. commandStartedEvent. */
  type: string;
  event: Document;
}

export interface ClientEntity {
  kind: 'client';
  client: MongoClient;
  events: RecordedEvent[];
  /** Stop recording (end of the test's operations). */
  recording: boolean;
}

export type Entity =
  | ClientEntity
  | { kind: 'database'; db: Db; client: string }
  | { kind: 'collection'; coll: Collection<Document>; client: string }
  | { kind: 'session'; session: ClientSession; lsid: Document; client: string }
  | { kind: 'changeStream'; stream: ChangeStream<Document, Document> }
  | { kind: 'cursor'; cursor: FindCursor<Document> | AggregationCursor<Document> }
  | { kind: 'value'; value: unknown };

export class Entities implements EntityLookup {
  readonly #map = new Map<string, Entity>();

  set(id: string, entity: Entity): void {
    if (this.#map.has(id)) throw new Error(`entity "${id}" already exists`);
    this.#map.set(id, entity);
  }

  get(id: string): Entity {
    const entity = this.#map.get(id);
    if (!entity) throw new Error(`no entity "${id}"`);
    return entity;
  }

  of<K extends Entity['kind']>(id: string, kind: K): Extract<Entity, { kind: K }> {
    const entity = this.get(id);
    if (entity.kind !== kind) throw new Error(`entity "${id}" is a ${entity.kind}, not a ${kind}`);
    return entity as Extract<Entity, { kind: K }>;
  }

  entity(name: string): unknown {
    const entity = this.get(name);
    return entity.kind === 'value' ? entity.value : entity;
  }

  sessionLsid(name: string): Document {
    return this.of(name, 'session').lsid;
  }

  all(): Array<[string, Entity]> {
    return [...this.#map];
  }

  /** Creates the entities of a createEntities list. */
  async create(specs: Document[], uri: string): Promise<void> {
    for (const spec of specs) {
      const [type, raw] = Object.entries(spec)[0] as [string, Document];
      const id = raw.id as string;
      switch (type) {
        case 'client':
          this.set(id, makeClient(raw, uri));
          break;
        case 'database': {
          const client = this.of(raw.client as string, 'client').client;
          this.set(id, {
            kind: 'database',
            db: client.db(raw.databaseName as string, options(raw.databaseOptions)),
            client: raw.client as string,
          });
          break;
        }
        case 'collection': {
          const database = this.of(raw.database as string, 'database');
          const coll = database.db.collection(raw.collectionName as string, options(raw.collectionOptions));
          this.set(id, { kind: 'collection', coll, client: database.client });
          break;
        }
        case 'session': {
          const client = this.of(raw.client as string, 'client').client;
          const sessionOptions = { ...(raw.sessionOptions as Document | undefined) };
          if (sessionOptions.defaultTransactionOptions)
            sessionOptions.defaultTransactionOptions = options(sessionOptions.defaultTransactionOptions);
          // The Node driver (7.x) has no snapshotTime session option.
          if (sessionOptions.snapshotTime !== undefined) throw new Unsupported('sessionOptions.snapshotTime (not in the Node driver)');
          const session = client.startSession(sessionOptions);
          this.set(id, { kind: 'session', session, lsid: session.id as Document, client: raw.client as string });
          break;
        }
        default:
          throw new Unsupported(`entity type ${type}`);
      }
    }
  }

  async close(): Promise<void> {
    for (const [, entity] of this.#map) {
      try {
        if (entity.kind === 'changeStream') await entity.stream.close();
        else if (entity.kind === 'cursor') await entity.cursor.close();
      } catch {
        // best effort
      }
    }
    for (const [, entity] of this.#map) {
      if (entity.kind === 'session') await entity.session.endSession().catch(() => undefined);
    }
    for (const [, entity] of this.#map) if (entity.kind === 'client') await entity.client.close(true).catch(() => undefined);
  }
}

/** A feature of the unified format this runner does not have: the test is skipped, not failed. */
export class Unsupported extends Error {}

/** readConcern / writeConcern / readPreference options as the driver takes them. */
export function options(raw: unknown): Document {
  const out: Document = {};
  if (!raw || typeof raw !== 'object') return out;
  for (const [key, value] of Object.entries(raw as Document)) {
    if (key === 'readPreference') {
      const { mode, tagSets, ...more } = value as Document;
      out.readPreference = new ReadPreference(mode as ReadPreferenceMode, tagSets as Document[] | undefined, more);
    } else if (key === 'timeoutMS') throw new Unsupported('timeoutMS');
    else out[key] = value;
  }
  return out;
}

function makeClient(raw: Document, baseUri: string): ClientEntity {
  const uri = new URL(baseUri);
  const uriOptions = (raw.uriOptions ?? {}) as Document;
  // A single-member set has no secondary: the driver cannot even connect with that read preference.
  if (String(uriOptions.readPreference ?? '').startsWith('secondary'))
    throw new Unsupported('readPreference secondary (one-member replica set)');
  for (const [key, value] of Object.entries(uriOptions)) {
    if (
      key === 'readConcernLevel' ||
      key === 'w' ||
      key === 'appname' ||
      key === 'retryWrites' ||
      key === 'retryReads' ||
      key === 'heartbeatFrequencyMS' ||
      key === 'serverMonitoringMode' ||
      key === 'directConnection' ||
      key === 'maxPoolSize' ||
      key === 'socketTimeoutMS' ||
      key === 'connectTimeoutMS' ||
      key === 'serverSelectionTimeoutMS' ||
      key === 'minPoolSize' ||
      key === 'waitQueueTimeoutMS' ||
      key === 'journal' ||
      key === 'wtimeoutMS' ||
      key === 'readPreference' ||
      key === 'maxIdleTimeMS' ||
      key === 'loadBalanced' ||
      key === 'compressors'
    ) {
      uri.searchParams.set(key, String(value));
    } else {
      throw new Unsupported(`uriOptions.${key}`);
    }
  }
  // Fail points make a driver re-check the server: a short heartbeat keeps that quick (as the format allows).
  if (uriOptions.heartbeatFrequencyMS === undefined) uri.searchParams.set('heartbeatFrequencyMS', '500');
  const observe = new Set((raw.observeEvents ?? []) as string[]);
  const ignore = new Set(((raw.ignoreCommandMonitoringEvents ?? []) as string[]).map((n) => n.toLowerCase()));
  ignore.add('configurefailpoint');
  const observeSensitive = raw.observeSensitiveCommands === true;
  const client = new MongoClient(uri.toString(), { monitorCommands: [...observe].some((e) => EVENT_NAMES[e]?.category === 'command') });
  const entity: ClientEntity = { kind: 'client', client, events: [], recording: true };
  for (const name of observe) {
    const known = EVENT_NAMES[name];
    if (!known) throw new Unsupported(`observeEvents ${name}`);
    client.on(known.node as 'commandStarted', (event: Document) => {
      if (!entity.recording) return;
      if (known.category === 'command') {
        const command = String(event.commandName).toLowerCase();
        if (ignore.has(command)) return;
        if (!observeSensitive && (SENSITIVE.has(command) || ((command === 'hello' || command === 'ismaster') && isRedacted(event)))) return;
      }
      // A copy: the driver mutates command documents after the event (e.g. readConcern.afterClusterTime).
      entity.events.push({ type: name, event: snapshot(event) });
    });
  }
  // Not connect(): it selects a server by the client's read preference, which a test may set to secondary.
  return entity;
}

/** The event with its command and reply copied as they were when it fired. */
function snapshot(event: Document): Document {
  const copy: Document = Object.assign(Object.create(Object.getPrototypeOf(event) as object) as Document, event);
  for (const key of ['command', 'reply']) {
    if (event[key] && typeof event[key] === 'object') copy[key] = BSON.deserialize(BSON.serialize(event[key] as Document));
  }
  return copy;
}

function isRedacted(event: Document): boolean {
  const doc = (event.command ?? event.reply) as Document | undefined;
  return doc !== undefined && Object.keys(doc).length === 0;
}
