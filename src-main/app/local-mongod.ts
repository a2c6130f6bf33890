/**
 * The till's own MongoDB: a single-node replica set (change streams and
 * transactions need one) started through mongodb-memory-server-core, with its
 * data kept in the app's user data folder, listening on 127.0.0.1 only, on a
 * fixed port (the replica set config names it, so it must not change between
 * starts), with an oplog kept for a week so days offline lose no history.
 *
 * At login the till's database may be slow to come up (recovering after a
 * power cut) or its port still held by the copy the last session was closing:
 * it gets minutes to start, and a start that fails is tried again a few
 * times, each retry logged, before the app gives up and says why.
 */
import { mkdir } from 'node:fs/promises';
import type { MongoMemoryReplSet } from 'mongodb-memory-server-core';

export interface LocalMongodOptions {
  dataDir: string;
  /** A mongod binary; absent lets mongodb-memory-server find (or download) one. */
  binary?: string;
  port?: number;
}

export interface LocalMongod {
  readonly uri: string;
  stop(): Promise<void>;
}

export const DEFAULT_LOCAL_PORT = 27217;
/** mongodb-memory-server gives mongod 10 s by default; recovery after a power cut can take much longer. */
export const MONGOD_START_TIMEOUT_MS = 5 * 60_000;
/** The oplog grows past its size rather than drop entries younger than this. */
const OPLOG_MIN_RETENTION_HOURS = 24 * 7;
const OPLOG_SIZE_MB = 2_048;

export async function startLocalMongod(options: LocalMongodOptions): Promise<LocalMongod> {
  const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const rs: MongoMemoryReplSet = await MongoMemoryReplSet.create({
    binary: options.binary ? { systemBinary: options.binary } : {},
    replSet: {
      count: 1,
      name: 'rs0',
      ip: '127.0.0.1',
      storageEngine: 'wiredTiger',
      args: ['--oplogSize', String(OPLOG_SIZE_MB), '--oplogMinRetentionHours', String(OPLOG_MIN_RETENTION_HOURS)],
    },
    instanceOpts: [
      {
        dbPath: options.dataDir,
        port: options.port ?? DEFAULT_LOCAL_PORT,
        storageEngine: 'wiredTiger',
        launchTimeout: MONGOD_START_TIMEOUT_MS,
      },
    ],
  });
  return {
    uri: rs.getUri(),
    async stop() {
      // Keep the data: this is the till's database, not a test fixture.
      await rs.stop({ doCleanup: false, force: false });
    },
  };
}

export interface RetryOptions {
  /** Starts tried in all; default 6. */
  attempts?: number;
  /** Wait between two starts; default 10 s. */
  delayMs?: number;
  /** Told of each failed start that will be tried again. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `start` until it succeeds or has failed `attempts` times; the last failure is thrown. */
export async function retryStart<T>(start: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 6;
  const delayMs = options.delayMs ?? 10_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await start();
    } catch (err) {
      if (attempt >= attempts) throw err;
      options.onRetry?.(err, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
