/**
 * What the sync benchmarks share: the documents they write, writing them in
 * batches, waiting for them to arrive, till-to-till propagation at a steady
 * rate, and one in-process engine run until a till has reconciled.
 */
import { MongoClient, type Document } from 'mongodb';
import { contentHash } from '../../src-main/sync/documents.ts';
import { parseSyncConfig } from '../../src-main/sync/config.ts';
import { createSyncEngine } from '../../src-main/sync/engine.ts';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';

export const DB = 'pos';

/** Not synced: raw bulk writes to the hub server that no till pulls, so they add no work to the figures after them. */
export const RAW_DB = 'bench_raw';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

/**
 * Polls the collection's size until it holds `n` documents. `estimatedDocumentCount` is answered from the
 * collection's metadata; `countDocuments` would scan all of it every 20 ms, on the very server being timed.
 */
export async function waitCount(client: MongoClient, coll: string, n: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const count = await client.db(DB).collection(coll).estimatedDocumentCount();
    if (count >= n) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`only ${count} of ${n} documents arrived in ${coll} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

export function doc(i: number): Document {
  return { i, name: `item ${i}`, price: (i % 97) * 0.25, tags: ['a', 'b'], at: new Date() };
}

export async function insertInBatches(client: MongoClient, coll: string, n: number, offset = 0, db = DB): Promise<void> {
  for (let start = 0; start < n; start += 1000) {
    await client
      .db(db)
      .collection(coll)
      .insertMany(Array.from({ length: Math.min(1000, n - start) }, (_, k) => doc(offset + start + k)));
  }
}

/** A 1 KB menu document. */
export function kbDoc(i: number, variant = 0): Document {
  return { _id: `item-${i}`, name: `item ${i}`, price: (i % 97) * 0.25 + variant, notes: 'x'.repeat(940), v: variant };
}

/** The document as a till that synced it a minute ago left it on the hub. */
export function stamped(doc: Document): Document {
  return { ...doc, _sync: { v: encodeVersion({ wall: Date.now() - 60_000, counter: 0, device: 'seed' }), o: 'seed', h: contentHash(doc) } };
}

export async function insertDocs(client: MongoClient, coll: string, docs: Document[]): Promise<void> {
  for (let start = 0; start < docs.length; start += 2000)
    await client
      .db(DB)
      .collection(coll)
      .insertMany(docs.slice(start, start + 2000));
}

export interface PropagationRun {
  rate: number;
  seconds: number;
  warmupSeconds: number;
  /** Latencies of the counted writes, sorted. */
  latencies: number[];
  /** Latencies of the warm-up writes before them, sorted. */
  warmup: number[];
  /** Writes counted. */
  total: number;
}

/**
 * Inserts on till A at `rate` writes/s and times each one's arrival in till B's change stream: first
 * `warmupSeconds` at the same rate, not counted (the JIT is still compiling the paths the load takes, and a
 * till runs for hours), then `seconds` counted. `onCounted` runs as the counted writes begin.
 */
export async function propagation(
  tillA: MongoClient,
  tillB: MongoClient,
  options: {
    rate: number;
    seconds: number;
    warmupSeconds: number;
    onCounted?: () => void;
    /** `update`: each write changes an order both tills already have (made first, not timed), instead of making one. */
    kind?: 'insert' | 'update';
  },
): Promise<PropagationRun> {
  const { rate, seconds, warmupSeconds } = options;
  const updates = options.kind === 'update';
  const warmupTotal = rate * warmupSeconds;
  const total = rate * seconds;
  const latencies: number[] = [];
  const warmup: number[] = [];
  const name = updates ? 'propagation_updates' : 'propagation';
  if (updates) {
    await tillA
      .db(DB)
      .collection<{ _id: number; i: number }>(name)
      .insertMany(Array.from({ length: warmupTotal + total }, (_, i) => ({ _id: i, i })));
    await waitCount(tillB, name, warmupTotal + total, 120_000);
  }
  const stream = tillB
    .db(DB)
    .collection(name)
    .watch([{ $match: { operationType: updates ? { $in: ['update', 'replace'] } : 'insert' } }], {
      fullDocument: updates ? 'updateLookup' : 'default',
    });
  stream.on('change', (event: Document) => {
    const { sentAt, i } = event.fullDocument as { sentAt?: number; i: number };
    if (sentAt !== undefined) (i < warmupTotal ? warmup : latencies).push(performance.timeOrigin + performance.now() - sentAt);
  });
  await sleep(500);
  const coll = tillA.db(DB).collection(name);
  const start = performance.now();
  for (let i = 0; i < warmupTotal + total; i += 1) {
    if (i === warmupTotal) options.onCounted?.();
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const sentAt = performance.timeOrigin + performance.now();
    void (updates ? coll.updateOne({ _id: i as never }, { $set: { sentAt } }) : coll.insertOne({ i, sentAt }));
  }
  const deadline = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < deadline) await sleep(50);
  await stream.close();
  latencies.sort((a, b) => a - b);
  warmup.sort((a, b) => a - b);
  return { rate, seconds, warmupSeconds, latencies, warmup, total };
}

/**
 * Runs one in-process engine for a till until it has reconciled and drained; the time it took. The bench
 * process runs with the agent's V8 flags (package.json), so this engine runs as an agent would.
 */
export async function reconcileOnce(
  tillUri: string,
  hubUri: string,
  device: string,
  total: number,
): Promise<{ ms: number; progressSeen: number }> {
  const engine = createSyncEngine(
    parseSyncConfig({
      local: { uri: tillUri },
      hub: { uri: hubUri },
      database: DB,
      deviceId: device,
      statusIntervalMs: 250,
      batchSize: 2000,
    }),
  );
  let progressSeen = 0;
  engine.on('status', (s) => {
    if (s.reconciliation && s.reconciliation.compared > 0) progressSeen += 1;
  });
  const start = performance.now();
  await engine.start();
  try {
    for (;;) {
      const s = engine.status();
      if (s.state === 'synced' && s.reconciliation === null && s.outbox.depth === 0) break;
      if (performance.now() - start > 600_000)
        throw new Error(`reconciliation of ${total} documents did not finish in 10 minutes: ${JSON.stringify(s.reconciliation)}`);
      await sleep(50);
    }
    return { ms: performance.now() - start, progressSeen };
  } finally {
    await engine.stop();
  }
}

/** Connects a client to each URI. */
export async function connectAll(uris: string[]): Promise<MongoClient[]> {
  return Promise.all(
    uris.map(async (uri) => {
      const c = new MongoClient(uri);
      await c.connect();
      return c;
    }),
  );
}
