/**
 * A hub and several tills, each its own MongoDB server (the emulator, or real
 * mongods when configured), with an engine per till running in this process —
 * or as a headless agent process for crash tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { createInterface } from 'node:readline';
import type { Db, Document, MongoClient } from 'mongodb';
import { parseSyncConfig, type SyncConfig } from '../../src-main/sync/config.ts';
import { createSyncEngine, type SyncEngine } from '../../src-main/sync/engine.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';

export const POS_DB = 'pos';

export interface Till {
  readonly name: string;
  readonly rs: ReplSet;
  readonly client: MongoClient;
  /** The till's POS database, as the POS software sees it. */
  readonly db: Db;
  engine: SyncEngine | undefined;
  /** Starts (or restarts) an in-process engine for this till. */
  startEngine(overrides?: Record<string, unknown>): Promise<SyncEngine>;
  stopEngine(): Promise<void>;
  /** The engine configuration this till uses (for agents). */
  config(overrides?: Record<string, unknown>): SyncConfig;
}

export interface Topology {
  readonly hub: ReplSet;
  readonly hubClient: MongoClient;
  /** The hub's POS database, as HQ's back-office sees it. */
  readonly hubDb: Db;
  readonly tills: Till[];
  stop(): Promise<void>;
}

export interface TopologyOptions {
  tills?: number;
  /** Engine settings for every till (e.g. faster retries). */
  engine?: Record<string, unknown>;
  /** Start an in-process engine per till (default true). */
  startEngines?: boolean;
}

/** Engine settings that keep tests quick: short retry delays. */
export const TEST_ENGINE_SETTINGS = { retry: { initialMs: 50, maxMs: 1_000 }, statusIntervalMs: 200 };

/**
 * One topology for a `describe` block's tests: started before the first, stopped after the last.
 * `use` receives it once it is up, e.g. `withTopology({ tills: 2 }, (t) => (topology = t))`.
 */
export function withTopology(options: TopologyOptions, use: (topology: Topology) => void): void {
  let topology: Topology | undefined;
  before(async () => {
    topology = await startTopology(options);
    use(topology);
  });
  after(async () => {
    await topology?.stop();
  });
}

export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const hub = await startReplSet();
  const hubClient = await hub.connect();
  const tills: Till[] = [];
  for (let i = 0; i < (options.tills ?? 2); i += 1) {
    const name = `till-${String.fromCharCode(97 + i)}`;
    const rs = await startReplSet();
    const client = await rs.connect();
    const till: Till = {
      name,
      rs,
      client,
      db: client.db(POS_DB),
      engine: undefined,
      config(overrides = {}) {
        return parseSyncConfig({
          local: { uri: rs.uri },
          hub: { uri: hub.uri },
          database: POS_DB,
          deviceId: name,
          ...TEST_ENGINE_SETTINGS,
          ...options.engine,
          ...overrides,
        });
      },
      async startEngine(overrides = {}) {
        await till.stopEngine();
        const engine = createSyncEngine(till.config(overrides));
        await engine.start();
        till.engine = engine;
        return engine;
      },
      async stopEngine() {
        const engine = till.engine;
        till.engine = undefined;
        await engine?.stop();
      },
    };
    tills.push(till);
  }
  if (options.startEngines !== false) await Promise.all(tills.map((t) => t.startEngine()));
  return {
    hub,
    hubClient,
    hubDb: hubClient.db(POS_DB),
    tills,
    async stop() {
      for (const till of tills) await till.stopEngine();
      for (const till of tills) {
        await till.client.close();
        await till.rs.stop();
      }
      await hubClient.close();
      await hub.stop();
    },
  };
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as T;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A collection's documents without sync metadata, sorted by _id, as JSON for comparison. */
export async function snapshot(db: Db, collection: string): Promise<string> {
  const docs = await db.collection(collection).find({}).toArray();
  const plain = docs.map((d) => {
    const { _sync: _meta, ...rest } = d as Document;
    return rest;
  });
  plain.sort((a, b) => (JSON.stringify(a._id) < JSON.stringify(b._id) ? -1 : 1));
  return JSON.stringify(plain);
}

/** What differs between the hub and the tills, in a few lines (for failure messages). */
export async function describeDifference(topology: Topology, collections: string[]): Promise<string> {
  const lines: string[] = [];
  for (const c of collections) {
    const hub = JSON.parse(await snapshot(topology.hubDb, c)) as Document[];
    const hubById = new Map(hub.map((d) => [JSON.stringify(d._id), JSON.stringify(d)]));
    for (const till of topology.tills) {
      const docs = JSON.parse(await snapshot(till.db, c)) as Document[];
      const tillById = new Map(docs.map((d) => [JSON.stringify(d._id), JSON.stringify(d)]));
      const missing = [...hubById.keys()].filter((k) => !tillById.has(k));
      const extra = [...tillById.keys()].filter((k) => !hubById.has(k));
      const differing = [...tillById.keys()].filter((k) => hubById.has(k) && hubById.get(k) !== tillById.get(k));
      if (missing.length + extra.length + differing.length === 0) continue;
      const first = differing[0];
      lines.push(
        `${c} on ${till.name}: ${docs.length} docs vs hub ${hub.length}; missing ${missing.length} (${missing.slice(0, 3).join(', ')}), extra ${extra.length} (${extra.slice(0, 3).join(', ')}), differing ${differing.length}` +
          (first ? ` e.g. till ${tillById.get(first)} hub ${hubById.get(first)}` : ''),
      );
    }
  }
  return lines.join('\n') || 'no difference';
}

/** Waits until the hub and every till hold the same documents in `collections`. */
export async function waitConverged(topology: Topology, collections: string[], timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(
      `hub and ${topology.tills.length} tills to hold the same ${collections.join(', ')}`,
      async () => {
        for (const c of collections) {
          const hub = await snapshot(topology.hubDb, c);
          for (const till of topology.tills) if ((await snapshot(till.db, c)) !== hub) return false;
        }
        return true;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await describeDifference(topology, collections)}`);
  }
}

/** A headless agent process for a till (crash tests kill it with SIGKILL). */
export interface AgentProcess {
  readonly child: ChildProcess;
  readonly lines: string[];
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Resolves when the agent has logged an event with this id. */
  waitForEvent(event: string, timeoutMs?: number): Promise<void>;
}

export function startAgent(till: Till, extraArgs: string[] = []): AgentProcess {
  const cfg = till.config();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src-main/agent.ts',
      '--local',
      cfg.local.uri,
      '--hub',
      cfg.hub.uri,
      '--db',
      cfg.database,
      '--device-id',
      till.name,
      '--status-every',
      '1',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLSYNC_LOG_LEVEL: 'info' } },
  );
  const lines: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    lines,
    async waitForEvent(event, timeoutMs = 30_000) {
      await waitFor(`the ${till.name} agent to log ${event}`, () => lines.some((line) => line.includes(`"event":"${event}"`)), timeoutMs);
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
