/**
 * Connections the server closes: a driver client that lived through it works
 * again within its heartbeat interval, its change stream included.
 *
 * - drop: every client connection is closed at once, at a different moment of
 *   each run (mid-getMore, mid-heartbeat, idle) — the soak's `drop` fault. Only
 *   the emulator can do this on demand.
 * - restart: the server stops and starts on the same port (the emulator, or a
 *   mongod the harness started).
 *
 * The driver's monitor recovers because the server reports a topologyVersion
 * (as every 4.4+ server does): the driver then streams heartbeats and, after a
 * network error, starts its monitor afresh on a new connection.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { dropTestDatabases, emulatorOrSkip, sleep, uniqueDbName, type Doc, type Stream } from './helpers.ts';

const HEARTBEAT_MS = 2_000;
const RUNS = 20;

/** Inserts `doc` until it succeeds; returns how long that took. Fails after `limitMs`. */
async function insertUntilItWorks(client: MongoClient, dbName: string, doc: Doc, limitMs: number): Promise<number> {
  const started = Date.now();
  let lastError: unknown;
  while (Date.now() - started <= limitMs) {
    try {
      await client.db(dbName).collection<Doc>('orders').insertOne(doc);
      return Date.now() - started;
    } catch (error) {
      lastError = error;
      await sleep(20);
    }
  }
  throw new Error(`the client did not work again within ${limitMs} ms; last error: ${String(lastError)}`);
}

/** Iterates `stream` as a sync engine's loop does (a getMore always outstanding) and collects the inserted `_id`s. */
function consume(stream: Stream): { seen: Set<unknown>; errors: unknown[]; stop: () => Promise<void> } {
  const seen = new Set<unknown>();
  const errors: unknown[] = [];
  let stopping = false;
  const loop = (async () => {
    try {
      for await (const event of stream) if (event.operationType === 'insert') seen.add(event.documentKey?._id);
    } catch (error) {
      if (!stopping) errors.push(error);
    }
  })();
  return {
    seen,
    errors,
    stop: async () => {
      stopping = true;
      await stream.close();
      await loop;
    },
  };
}

/** Waits until the stream has seen `_id` or `ms` pass; returns whether it did. */
async function streamSees(seen: Set<unknown>, id: unknown, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!seen.has(id) && Date.now() < deadline) await sleep(10);
  return seen.has(id);
}

describe('connections the server closes', () => {
  let rs: ReplSet;
  let admin: MongoClient;

  before(async () => {
    rs = await startReplSet();
    admin = await rs.connect();
  });

  after(async () => {
    if (admin) {
      await dropTestDatabases(admin);
      await admin.close();
    }
    if (rs) await rs.stop();
  });

  it(`after every connection is dropped, a client works again within its heartbeat interval (${RUNS} of ${RUNS} runs)`, async (t) => {
    const emulator = emulatorOrSkip(t, rs);
    if (!emulator) return;
    const dbName = uniqueDbName('dropped');
    await admin.db(dbName).createCollection('orders');
    const recoveries: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      const client = await rs.connect({ heartbeatFrequencyMS: HEARTBEAT_MS });
      const stream = client.db(dbName).watch<Doc, Doc>([], { maxAwaitTimeMS: 200 });
      const reader = consume(stream);
      try {
        await insertUntilItWorks(client, dbName, { _id: `before-${run}` }, HEARTBEAT_MS);
        assert.ok(await streamSees(reader.seen, `before-${run}`, HEARTBEAT_MS), `run ${run}: the stream works before the drop`);
        // A different moment of the heartbeat cycle each run (mid-getMore, mid-heartbeat, between
        // requests), and never in the first 500 ms after a heartbeat, where the driver would put off
        // its next check anyway (minHeartbeatFrequencyMS) and not meet a connection being closed.
        await sleep(600 + ((run * 97) % HEARTBEAT_MS));
        emulator.dropConnections();
        const took = await insertUntilItWorks(client, dbName, { _id: `after-${run}` }, HEARTBEAT_MS);
        recoveries.push(took);
        assert.ok(
          await streamSees(reader.seen, `after-${run}`, HEARTBEAT_MS),
          `run ${run}: the change stream resumed and saw the insert made after the drop`,
        );
        assert.deepEqual(reader.errors, [], `run ${run}: the change stream never failed`);
      } finally {
        await reader.stop();
        await client.close();
      }
    }
    t.diagnostic(`recovered after ${recoveries.join(', ')} ms`);
    assert.equal(recoveries.length, RUNS);
    assert.equal(await admin.db(dbName).collection('orders').countDocuments(), 2 * RUNS, 'every insert landed exactly once');
  });

  it('after a restart, a client works again within its heartbeat interval', async (t) => {
    if (rs.kind === 'external') {
      t.skip('needs a server the harness started');
      return;
    }
    const dbName = uniqueDbName('restarted');
    await admin.db(dbName).createCollection('orders');
    const client = await rs.connect({ heartbeatFrequencyMS: HEARTBEAT_MS });
    const reader = consume(client.db(dbName).watch<Doc, Doc>([], { maxAwaitTimeMS: 200 }));
    try {
      for (let run = 0; run < 3; run += 1) {
        await insertUntilItWorks(client, dbName, { _id: `before-${run}` }, HEARTBEAT_MS);
        assert.ok(await streamSees(reader.seen, `before-${run}`, HEARTBEAT_MS));
        await rs.restart();
        await insertUntilItWorks(client, dbName, { _id: `after-${run}` }, HEARTBEAT_MS);
        assert.ok(await streamSees(reader.seen, `after-${run}`, HEARTBEAT_MS), `run ${run}: the change stream resumed after the restart`);
      }
      assert.deepEqual(reader.errors, [], 'the change stream never failed');
    } finally {
      await reader.stop();
      await client.close();
    }
  });
});
