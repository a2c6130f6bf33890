/**
 * Offline: with the hub stopped, partitioned or failing commands, local writes
 * keep being captured, the state says offline, retries back off, and when the
 * hub returns the outbox drains in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import type { ChangeStream, Document } from 'mongodb';
import { createSyncEngine } from '../../src-main/sync/engine.ts';
import type { LogFields, Logger } from '../../src-main/sync/log.ts';
import { startTopology, waitConverged, waitFor, type Topology } from './topology.ts';

/** Collects the engine's structured log lines. */
function recordingLogger(into: LogFields[]): Logger {
  const logger: Logger = {
    debug: (f) => void into.push(f),
    info: (f) => void into.push(f),
    warn: (f) => void into.push(f),
    error: (f) => void into.push(f),
    child: () => logger,
  };
  return logger;
}

describe('offline', () => {
  let topology: Topology;

  before(async () => {
    topology = await startTopology({ tills: 2 });
  });

  after(async () => {
    await topology.stop();
  });

  /** Writes made while the hub is away: a counter bumped in order, a few tickets, one deleted. */
  async function offlineWrites(coll: string): Promise<void> {
    const db = topology.tills[0]!.db;
    for (let n = 1; n <= 30; n += 1)
      await db.collection<Document>(coll).updateOne({ _id: 'counter' } as Document, { $set: { n } }, { upsert: true });
    for (let i = 0; i < 10; i += 1) await db.collection<Document>(coll).insertOne({ _id: `t${i}`, i } as Document);
    await db.collection<Document>(coll).deleteOne({ _id: 't3' } as Document);
  }

  /** Watches the hub's counter document and returns the values it takes, in order. */
  function watchCounter(coll: string): { values: number[]; stream: ChangeStream } {
    const values: number[] = [];
    const stream = topology.hubDb.collection(coll).watch([{ $match: { 'documentKey._id': 'counter' } }], { fullDocument: 'updateLookup' });
    stream.on('change', (event: Document) => {
      const n = (event.fullDocument as { n?: number } | null)?.n;
      if (typeof n === 'number') values.push(n);
    });
    return { values, stream };
  }

  async function expectOfflineThenDrain(coll: string, goOffline: () => Promise<void>, comeBack: () => Promise<void>): Promise<void> {
    const engine = topology.tills[0]!.engine!;
    await waitFor('till A to be synced', () => engine.status().state === 'synced');
    await goOffline();
    let back = false;
    try {
      await offlineWrites(coll);
      // The outbox depth in the status is refreshed every status interval: wait for both.
      await waitFor(
        'till A to say offline with its writes waiting',
        () => {
          const s = engine.status();
          return s.state === 'offline' && s.outbox.depth > 0;
        },
        30_000,
      ).catch((err: Error) => {
        const s = engine.status();
        throw new Error(
          `${err.message}; the status said ${JSON.stringify({ state: s.state, outbox: s.outbox, lastError: s.lastError, warnings: s.warnings })}`,
        );
      });
      const status = engine.status();
      assert.equal(typeof status.outbox.oldestPendingAgeMs, 'number', 'the age of the oldest unsynced change is shown');
      assert.ok(status.lastError, 'the last error is shown');
      back = true;
      await comeBack();
    } finally {
      // Never leave the hub away for the tests after this one.
      if (!back) await comeBack();
    }
    const { values, stream } = watchCounter(coll);
    try {
      await waitConverged(topology, [coll], 60_000);
      await waitFor('the outbox to drain', () => engine.status().outbox.depth === 0);
      const hubDocs = await topology.hubDb.collection(coll).countDocuments();
      assert.equal(hubDocs, 1 + 10 - 1, 'every offline write arrived: the counter, nine tickets, the deleted one gone');
      assert.equal((await topology.hubDb.collection<Document>(coll).findOne({ _id: 'counter' } as Document))?.n, 30, 'the last write wins');
      const sorted = [...values].sort((a, b) => a - b);
      assert.deepEqual(values, sorted, `the hub saw the counter move forward only (${values.join(', ')})`);
    } finally {
      await stream.close();
    }
  }

  it('hub stopped: writes are kept, the state is offline, and they drain in order when it returns', async (t: TestContext) => {
    const emulator = topology.hub.emulator;
    if (!emulator) return t.skip('stopping the hub needs the emulator');
    await expectOfflineThenDrain(
      'offline_stopped',
      () => emulator.stop(),
      () => emulator.restart(),
    );
  });

  it('hub partitioned (connections hang): the same', { timeout: 120_000 }, async (t: TestContext) => {
    const emulator = topology.hub.emulator;
    if (!emulator) return t.skip('partitions need the emulator');
    await expectOfflineThenDrain(
      'offline_partitioned',
      async () => emulator.setPartitioned(true),
      async () => emulator.setPartitioned(false),
    );
  });

  it('hub failing commands: the same', async () => {
    const admin = topology.hubClient.db('admin');
    const failing = [
      'insert',
      'update',
      'delete',
      'bulkWrite',
      'find',
      'aggregate',
      'getMore',
      'commitTransaction',
      'listCollections',
      'ping',
    ];
    await expectOfflineThenDrain(
      'offline_failing',
      async () => {
        await admin.command({
          configureFailPoint: 'failCommand',
          mode: 'alwaysOn',
          data: { failCommands: failing, errorCode: 91, appName: 'tillsync-engine-till-a' },
        });
      },
      async () => {
        await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
      },
    );
  });

  it('push retries back off with jitter, never waiting longer than the cap', async () => {
    const till = topology.tills[1]!;
    await till.stopEngine();
    const lines: LogFields[] = [];
    const engine = createSyncEngine(till.config({ retry: { initialMs: 20, maxMs: 400 } }), { log: recordingLogger(lines) });
    await engine.start();
    const admin = topology.hubClient.db('admin');
    try {
      await waitFor('till B to be synced', () => engine.status().state === 'synced');
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['update', 'bulkWrite'], errorCode: 91, appName: 'tillsync-engine-till-b' },
      });
      await till.db.collection('backoff').insertOne({ x: 1 });
      // Watch the retries for a bounded three seconds.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const failures = lines.filter((l) => l.event === 'push.batch-failed');
      const times = failures.map((l) => Number(l.attempt));
      assert.ok(failures.length >= 3, `push was retried (${failures.length} attempts)`);
      assert.ok(failures.length <= 60, `retries back off instead of spinning (${failures.length} attempts in 3 s)`);
      assert.deepEqual(times.slice(0, 4), [0, 1, 2, 3], 'attempts are counted up while the hub keeps failing');
    } finally {
      await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
      await engine.stop();
      await till.startEngine();
    }
  });
});
