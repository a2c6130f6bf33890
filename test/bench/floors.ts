/**
 * The floors of the sync figures over a link: what the driver alone does
 * through the same link, which no engine can beat — a write and its change
 * event on another client (alone, and inside a transaction), bulk inserts,
 * reading a change stream, reading a collection.
 */
import type { ChangeStream, Document, MongoClient, Timestamp } from 'mongodb';
import { DB, insertInBatches, RAW_DB, sleep } from './load.ts';

/**
 * Sorted latencies from starting a write on `writer` until its change event reaches `watcher`, one write at a
 * time (the engine's propagation has a till's write go up one connection and come down another).
 */
export async function writeToEventMs(
  writer: MongoClient,
  watcher: MongoClient,
  options: { transaction: boolean; samples: number },
): Promise<number[]> {
  const coll = `floor_${options.transaction ? 'txn' : 'write'}`;
  const arrived = new Map<number, number>();
  const stream: ChangeStream = watcher
    .db(RAW_DB)
    .collection(coll)
    .watch([{ $match: { operationType: 'insert' } }]);
  stream.on('change', (event: Document) => arrived.set((event.fullDocument as { k: number }).k, performance.now()));
  const target = writer.db(RAW_DB).collection(coll);
  const waitFor = async (k: number): Promise<number> => {
    const deadline = performance.now() + 30_000;
    for (;;) {
      const at = arrived.get(k);
      if (at !== undefined) return at;
      if (performance.now() > deadline) throw new Error(`the change event of floor write ${k} did not come within 30 s`);
      await sleep(1);
    }
  };
  try {
    // The stream opens on its first read: write until one event comes, so the first sample does not wait for it.
    while (!arrived.has(-1)) {
      await target.insertOne({ k: -1 });
      await sleep(200);
    }
    const latencies: number[] = [];
    for (let k = 0; k < options.samples; k += 1) {
      const start = performance.now();
      if (options.transaction) {
        const session = writer.startSession();
        try {
          await session.withTransaction(() => target.insertOne({ k }, { session }));
        } finally {
          await session.endSession();
        }
      } else await target.insertOne({ k });
      latencies.push((await waitFor(k)) - start);
      await sleep(20);
    }
    return latencies.sort((a, b) => a - b);
  } finally {
    await stream.close();
  }
}

/** Documents per second of the driver's insertMany, 1,000 at a time, of the documents the push figure writes. */
export async function rawInsertRate(client: MongoClient, n: number, coll: string): Promise<number> {
  const start = performance.now();
  await insertInBatches(client, coll, n, 0, RAW_DB);
  return n / ((performance.now() - start) / 1000);
}

/** Events per second of reading `n` inserts into `coll` from a change stream opened at `since` (history, read as fast as it comes). */
export async function streamReadRate(client: MongoClient, coll: string, since: Timestamp, n: number): Promise<number> {
  const start = performance.now();
  const stream = client
    .db(DB)
    .collection(coll)
    .watch([{ $match: { operationType: 'insert' } }], { startAtOperationTime: since });
  try {
    for (let seen = 0; seen < n; seen += 1) await stream.next();
    return n / ((performance.now() - start) / 1000);
  } finally {
    await stream.close();
  }
}

/** Milliseconds to read every document of `coll` with one `find`, in the driver's default batches. */
export async function readAllMs(client: MongoClient, coll: string): Promise<{ ms: number; docs: number }> {
  const start = performance.now();
  let docs = 0;
  for await (const _doc of client.db(DB).collection(coll).find({})) docs += 1;
  return { ms: performance.now() - start, docs };
}
