/**
 * One place that gives a test a MongoDB replica set to talk to.
 *
 * - `MONGODB_TEST_URI` set: that server (an existing replica set; faults that
 *   need control of the process are not available).
 * - `MONGOMS_SYSTEM_BINARY` set: a real single-node mongod replica set started
 *   by mongodb-memory-server-core from that binary.
 * - otherwise: the in-process MongoDB emulator.
 *
 * It logs which one it picked, once per process.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { startEmulator, type Emulator } from './mongo/index.ts';

export type ReplSetKind = 'emulator' | 'mongod' | 'external';

export interface ReplSetOptions {
  /** Replica set name; default `rs0`. */
  replSetName?: string;
  /** Keep data on disk here (emulator and mongod). */
  dbPath?: string;
  /** Emulator only: how many change events the oplog keeps. */
  oplogMaxEvents?: number;
}

export interface ReplSet {
  readonly kind: ReplSetKind;
  /** `mongodb://127.0.0.1:PORT/?replicaSet=rs0` (never with credentials). */
  readonly uri: string;
  /** Connects a new client; the caller closes it. */
  connect(options?: MongoClientOptions): Promise<MongoClient>;
  /** Stops the server; data in `dbPath` is kept. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port with the same data. Not on `external`. */
  restart(): Promise<void>;
  /** The emulator itself when kind is `emulator` (fault injection). */
  readonly emulator: Emulator | undefined;
}

let announced = false;
function announce(kind: ReplSetKind, detail: string): void {
  if (announced) return;
  announced = true;
  process.stderr.write(`[test-harness] MongoDB for tests: ${kind} (${detail})\n`);
}

export function replSetKind(): ReplSetKind {
  if (process.env.MONGODB_TEST_URI) return 'external';
  if (process.env.MONGOMS_SYSTEM_BINARY) return 'mongod';
  return 'emulator';
}

function wrap(kind: ReplSetKind, uri: string, stop: () => Promise<void>, restart: () => Promise<void>, emulator?: Emulator): ReplSet {
  return {
    kind,
    uri,
    emulator,
    stop,
    restart,
    async connect(options?: MongoClientOptions) {
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, ...options });
      await client.connect();
      return client;
    },
  };
}

export async function startReplSet(options: ReplSetOptions = {}): Promise<ReplSet> {
  const kind = replSetKind();
  const replSetName = options.replSetName ?? 'rs0';
  if (kind === 'external') {
    const uri = process.env.MONGODB_TEST_URI as string;
    announce(kind, 'MONGODB_TEST_URI');
    const unsupported = async () => {
      throw new Error('restart() needs a server the harness started; unset MONGODB_TEST_URI');
    };
    return wrap(kind, uri, async () => {}, unsupported);
  }
  if (kind === 'mongod') {
    const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
    announce(kind, 'MONGOMS_SYSTEM_BINARY');
    const rs = await MongoMemoryReplSet.create({
      replSet: { count: 1, name: replSetName, storageEngine: 'wiredTiger', args: ['--setParameter', 'enableTestCommands=1'] },
      instanceOpts: options.dbPath ? [{ dbPath: options.dbPath }] : undefined,
    });
    const uri = rs.getUri();
    return wrap(
      kind,
      uri,
      async () => {
        await rs.stop({ doCleanup: !options.dbPath, force: false });
      },
      async () => {
        const server = rs.servers[0];
        if (!server) throw new Error('replica set has no member');
        await server.stop({ doCleanup: false, force: false });
        await server.start(true);
        await rs.waitUntilRunning();
      },
    );
  }
  announce(kind, 'set MONGOMS_SYSTEM_BINARY or MONGODB_TEST_URI to use a real mongod');
  const emulator = await startEmulator({
    replSetName,
    dbPath: options.dbPath,
    oplog: options.oplogMaxEvents ? { maxEvents: options.oplogMaxEvents } : undefined,
  });
  return wrap(
    kind,
    emulator.uri,
    () => emulator.stop(),
    () => emulator.restart(),
    emulator,
  );
}
