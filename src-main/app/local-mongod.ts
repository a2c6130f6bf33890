/**
 * The till's own MongoDB: a single-node replica set (change streams and
 * transactions need one) started through mongodb-memory-server-core, with its
 * data kept in the app's user data folder, listening on 127.0.0.1 only, on a
 * fixed port (the replica set config names it, so it must not change between
 * starts). Sized for a small till (local-mongod-plan.ts): a capped cache, and
 * an oplog sized from the disk's free space that keeps a week of history
 * unless the disk is too small for it.
 *
 * At login the till's database may be slow to come up (recovering after a
 * power cut) or its port still held by the copy the last session was closing:
 * it gets minutes to start, and a start that fails is tried again a few
 * times, each retry logged, before the app gives up and says why.
 */
import { mkdir, statfs } from 'node:fs/promises';
import { Double, MongoClient } from 'mongodb';
import type { MongoMemoryReplSet } from 'mongodb-memory-server-core';
import { mongodArgs, planTillDatabase, type TillDatabasePlan } from './local-mongod-plan.ts';
import { DEFAULT_TILL_DATABASE, type TillDatabaseSettings } from './till-database-settings.ts';

export interface LocalMongodOptions {
  dataDir: string;
  /** A mongod binary; absent lets mongodb-memory-server find (or download) one. */
  binary?: string;
  port?: number;
  /** Cache and oplog settings (till-database.json); absent: the defaults. */
  settings?: TillDatabaseSettings;
}

export interface LocalMongod {
  readonly uri: string;
  /** How the database was sized at this start (with any shortage of disk space, in words). */
  readonly plan: TillDatabasePlan;
  stop(): Promise<void>;
}

export const DEFAULT_LOCAL_PORT = 27217;
/** mongodb-memory-server gives mongod 10 s by default; recovery after a power cut can take much longer. */
export const MONGOD_START_TIMEOUT_MS = 5 * 60_000;
const MB = 1024 * 1024;

/** What mongodb-memory-server is asked to start: the till's replica set of one, with the plan's options. */
export function replSetOptions(plan: TillDatabasePlan, options: LocalMongodOptions) {
  return {
    binary: options.binary ? { systemBinary: options.binary } : {},
    replSet: {
      count: 1,
      name: 'rs0',
      ip: '127.0.0.1',
      storageEngine: 'wiredTiger' as const,
      args: mongodArgs(plan),
    },
    instanceOpts: [
      {
        dbPath: options.dataDir,
        port: options.port ?? DEFAULT_LOCAL_PORT,
        storageEngine: 'wiredTiger' as const,
        launchTimeout: MONGOD_START_TIMEOUT_MS,
      },
    ],
  };
}

/** Free space on the file system that holds `dir`, in MB. */
export async function freeSpaceMB(dir: string): Promise<number> {
  const fs = await statfs(dir);
  return (Number(fs.bavail) * Number(fs.bsize)) / MB;
}

export async function startLocalMongod(options: LocalMongodOptions): Promise<LocalMongod> {
  const { MongoMemoryReplSet } = await import('mongodb-memory-server-core');
  const settings = options.settings ?? DEFAULT_TILL_DATABASE;
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const freeMB = await freeSpaceMB(options.dataDir);
  // Before mongod is up the oplog cannot be asked: size as for a first start (a later start ignores --oplogSize).
  const atStart = planTillDatabase({ freeMB, oplogMaxMB: null, oplogUsedMB: 0 }, settings);
  const rs: MongoMemoryReplSet = await MongoMemoryReplSet.create(replSetOptions(atStart, options));
  let plan = atStart;
  try {
    plan = await fitOplog(rs.getUri(), freeMB, settings, atStart);
  } catch (err) {
    await rs.stop({ doCleanup: false, force: false }).catch(() => undefined);
    throw err;
  }
  return {
    uri: rs.getUri(),
    plan,
    async stop() {
      // Keep the data: this is the till's database, not a test fixture.
      await rs.stop({ doCleanup: false, force: false });
    },
  };
}

/**
 * An oplog made at an earlier start keeps the size it was made with: plans
 * again with its real size (its space counts as free for it) and resizes it,
 * or changes its retention, when the plan moved.
 */
async function fitOplog(uri: string, freeMB: number, settings: TillDatabaseSettings, atStart: TillDatabasePlan): Promise<TillDatabasePlan> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 30_000 });
  try {
    const stats = await client.db('local').command({ collStats: 'oplog.rs' });
    const plan = planTillDatabase({ freeMB, oplogMaxMB: Number(stats.maxSize) / MB, oplogUsedMB: Number(stats.size) / MB }, settings);
    if (plan.resize || plan.oplogMinRetentionHours !== atStart.oplogMinRetentionHours) {
      await client.db('admin').command({
        replSetResizeOplog: 1,
        size: new Double(plan.oplogSizeMB),
        minRetentionHours: new Double(plan.oplogMinRetentionHours),
      });
    }
    return plan;
  } finally {
    await client.close();
  }
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
