/**
 * What `engine.status()` tells staff: the state (synced when idle; syncing or
 * offline with a growing backlog while the hub is cut off; synced again once it
 * heals), lag statistics and the 15-minute series, rates, the last error,
 * checkpoint ages, oplog headroom, and the `status` event's rhythm.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SyncStatus } from '../../src-shared/status.ts';
import { startTopology, waitFor, TEST_ENGINE_SETTINGS, type Till, type Topology } from './topology.ts';

function isNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

describe('engine status', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;

  before(async () => {
    topology = await startTopology({ tills: 2 });
    [a, b] = topology.tills as [Till, Till];
  });

  after(async () => {
    await topology?.stop();
  });

  function statusOf(till: Till): SyncStatus {
    const engine = till.engine;
    assert.ok(engine, `${till.name} has an engine`);
    return engine.status();
  }

  it('is synced when idle, with checkpoint ages and oplog headroom as numbers', async () => {
    await waitFor('both tills synced', () => statusOf(a).state === 'synced' && statusOf(b).state === 'synced');
    // One write each way so both checkpoints have moved at least once.
    await a.db.collection('st_idle').insertOne({ _id: 'one' as never });
    await waitFor('the write on till B', async () => (await b.db.collection('st_idle').countDocuments()) === 1);
    await waitFor('both tills synced again', () => statusOf(a).state === 'synced' && statusOf(b).state === 'synced');
    const s = await waitFor('till A to report oplog headroom', () => {
      const st = statusOf(a);
      return st.oplogHeadroomHours !== null ? st : undefined;
    });
    assert.equal(s.state, 'synced');
    assert.equal(s.enabled, true);
    assert.equal(s.deviceId, 'till-a');
    assert.equal(s.outbox.depth, 0);
    assert.equal(s.outbox.oldestPendingAgeMs, null, 'nothing pending, no age');
    assert.ok(isNumber(s.lastSyncedAt), 'lastSyncedAt is a time');
    assert.ok(
      isNumber(s.checkpointAgeMs.capture) && s.checkpointAgeMs.capture >= 0,
      `capture checkpoint age is a number (${s.checkpointAgeMs.capture})`,
    );
    assert.ok(
      isNumber(s.checkpointAgeMs.pull) && s.checkpointAgeMs.pull >= 0,
      `pull checkpoint age is a number (${s.checkpointAgeMs.pull})`,
    );
    assert.ok(isNumber(s.oplogHeadroomHours) && s.oplogHeadroomHours >= 0, `oplog headroom is a number of hours (${s.oplogHeadroomHours})`);
    assert.deepStrictEqual(s.quarantine, { count: 0, latest: [] });
    assert.deepStrictEqual(s.warnings, []);
  });

  it('the status event fires at the configured interval', async () => {
    const engine = a.engine;
    assert.ok(engine);
    const interval = TEST_ENGINE_SETTINGS.statusIntervalMs;
    const times: number[] = [];
    const seen: SyncStatus[] = [];
    const onStatus = (s: SyncStatus): void => {
      times.push(Date.now());
      seen.push(s);
    };
    engine.on('status', onStatus);
    try {
      await waitFor(`ten status events (every ${interval} ms)`, () => times.length >= 10, 30_000);
    } finally {
      engine.off('status', onStatus);
    }
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    assert.ok(
      mean > interval * 0.6 && mean < interval * 3,
      `events about every ${interval} ms (mean gap ${mean.toFixed(0)} ms, gaps ${gaps.join(', ')})`,
    );
    assert.ok(
      seen.every((s) => s.deviceId === 'till-a' && typeof s.state === 'string'),
      'each event carries a full status',
    );

    // Another interval, set through the configuration, is honoured too.
    const slow = await b.startEngine({ statusIntervalMs: 600 });
    // Connecting to the hub ends with a status of its own, off the beat: count from the first synced one.
    await waitFor('a synced status event at the new interval', () => slow.lastStatus?.state === 'synced');
    const slowTimes: number[] = [];
    const onSlow = (): void => {
      slowTimes.push(Date.now());
    };
    slow.on('status', onSlow);
    try {
      await waitFor('four status events at 600 ms', () => slowTimes.length >= 4, 6_000);
    } finally {
      slow.off('status', onSlow);
    }
    const slowGaps = slowTimes.slice(1).map((t, i) => t - (slowTimes[i] as number));
    for (const g of slowGaps) assert.ok(g > 400 && g < 1_000, `a 600 ms interval gives gaps near 600 ms (${slowGaps.join(', ')})`);
    await b.startEngine(); // back to the test settings
  });

  it('after a burst: lag statistics are numbers, the series has 900 points, rates are above zero', async () => {
    const burst = 40;
    await a.db.collection('st_burst').insertMany(Array.from({ length: burst }, (_, i) => ({ _id: `a${i}` as never, i })));
    await topology.hubDb.collection('st_burst').insertMany(Array.from({ length: burst }, (_, i) => ({ _id: `h${i}` as never, i })));
    await waitFor('the burst on every replica', async () => {
      for (const db of [topology.hubDb, a.db, b.db]) if ((await db.collection('st_burst').countDocuments()) !== burst * 2) return false;
      return true;
    });
    const sa = statusOf(a);
    const sb = statusOf(b);
    assert.ok(sa.rates.pushPerSec > 0, `till A pushes per second > 0 right after its burst (${sa.rates.pushPerSec})`);
    assert.ok(sb.rates.pullPerSec > 0, `till B pulls per second > 0 right after the bursts (${sb.rates.pullPerSec})`);
    assert.ok(sa.rates.pullPerSec > 0, `till A pulls per second > 0 after HQ's burst (${sa.rates.pullPerSec})`);
    for (const [name, s] of [
      ['till A', sa],
      ['till B', sb],
    ] as const) {
      for (const dir of name === 'till A' ? (['push', 'pull'] as const) : (['pull'] as const)) {
        const lag = s.lag[dir];
        assert.ok(isNumber(lag.lastMs) && lag.lastMs >= 0, `${name} ${dir} lag last is a number (${lag.lastMs})`);
        assert.ok(isNumber(lag.p50Ms) && lag.p50Ms >= 0, `${name} ${dir} lag p50 is a number (${lag.p50Ms})`);
        assert.ok(isNumber(lag.p95Ms) && lag.p95Ms >= (lag.p50Ms as number), `${name} ${dir} lag p95 is a number ≥ p50 (${lag.p95Ms})`);
        assert.ok((lag.p95Ms as number) < 30_000, `${name} ${dir} lag is seconds, not minutes (${lag.p95Ms} ms)`);
      }
      assert.equal(s.lagSeries.length, 900, `${name}: the series holds 15 minutes of one-second points`);
      const ts = s.lagSeries.map((p) => p.t);
      assert.ok(
        ts.every((t, i) => i === 0 || t - (ts[i - 1] as number) === 1_000),
        `${name}: points are one second apart`,
      );
      assert.ok(Math.abs((ts[ts.length - 1] as number) - Date.now()) < 5_000, `${name}: the series ends now`);
    }
    assert.ok(
      sa.lagSeries.some((p) => isNumber(p.pushMs)),
      'till A’s series has push points from the burst',
    );
    assert.ok(
      sb.lagSeries.some((p) => isNumber(p.pullMs)),
      'till B’s series has pull points from the burst',
    );
  });

  /** Sets a fail point on the hub that refuses push transactions (they start with an update, or a bulkWrite on an 8.0 hub), and waits for till A to report it. */
  async function faultReported(errorCode: number, within: number): Promise<{ status: SyncStatus | undefined; startedAt: number }> {
    const admin = topology.hubClient.db('admin');
    const coll = `st_fault_${errorCode}`;
    const startedAt = Date.now();
    await admin.command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['update', 'bulkWrite'], errorCode },
    });
    let status: SyncStatus | undefined;
    try {
      await a.db.collection(coll).insertOne({ _id: 'f1' as never });
      status = await waitFor(
        `till A to report the refused push (code ${errorCode})`,
        () => {
          const s = statusOf(a);
          return s.lastError && s.lastError.at >= startedAt && s.outbox.depth > 0 ? s : undefined;
        },
        within,
      ).catch(() => undefined);
    } finally {
      await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    await waitFor(
      'the write on the hub once the hub accepts again',
      async () => (await topology.hubDb.collection(coll).countDocuments()) === 1,
      30_000,
    );
    await waitFor('till A synced again', () => statusOf(a).state === 'synced', 30_000);
    return { status, startedAt };
  }

  it('a hub that refuses pushes (fail point, non-transient error): last error with reason, message and time', async () => {
    const { status, startedAt } = await faultReported(13, 10_000);
    assert.ok(status, 'a last error was reported within 10 s');
    const err = status.lastError;
    assert.ok(err);
    assert.match(err.reason, /^[a-z-]+$/, `a machine-readable reason (${err.reason})`);
    assert.ok(err.message.length > 10, `a message in words (${err.message})`);
    assert.ok(err.at >= startedAt, 'the time of the error');
    assert.notEqual(status.state, 'synced', 'not synced while the hub refuses');
  });

  it('a hub that keeps failing pushes with a transient error (fail point, code 91): the fault shows within 10 s', async () => {
    const { status } = await faultReported(91, 10_000);
    assert.ok(status, 'a last error was reported within 10 s while every push transaction failed with ShutdownInProgress');
    assert.ok(
      status.state === 'offline' || status.state === 'error',
      `state says the hub is not taking changes (${status.state}; ${JSON.stringify(status.lastError)})`,
    );
  });

  it('a hub outage: syncing or offline with a growing backlog and a last error; synced with an empty outbox after healing', async (t) => {
    const emulator = topology.hub.emulator;
    const admin = topology.hubClient.db('admin');
    const startedAt = Date.now();
    if (emulator) {
      emulator.setPartitioned(true);
    } else {
      t.diagnostic('real server: using a failCommand fail point instead of a partition');
      await admin.command({
        configureFailPoint: 'failCommand',
        mode: 'alwaysOn',
        data: { failCommands: ['update', 'insert', 'bulkWrite', 'commitTransaction'], errorCode: 91 },
      });
    }
    let during: SyncStatus;
    try {
      await a.db.collection('st_outage').insertMany([{ _id: 'o1' as never }, { _id: 'o2' as never }, { _id: 'o3' as never }]);
      during = await waitFor('till A to show the backlog', () => {
        const s = statusOf(a);
        return s.outbox.depth >= 3 && (s.state === 'syncing' || s.state === 'offline') ? s : undefined;
      });
      const firstAge = during.outbox.oldestPendingAgeMs;
      assert.ok(isNumber(firstAge), `oldest pending age is a number (${firstAge})`);
      const later = await waitFor('the oldest pending age to grow', () => {
        const s = statusOf(a);
        return isNumber(s.outbox.oldestPendingAgeMs) && s.outbox.oldestPendingAgeMs >= firstAge + 500 ? s : undefined;
      });
      assert.ok(later.state === 'syncing' || later.state === 'offline', `state while cut off: ${later.state}`);
      assert.ok(later.outbox.depth >= 3);
      // A fault is reported: the state goes offline and the last error says why and when.
      during = await waitFor(
        'till A to report the fault (offline, with a last error)',
        () => {
          const s = statusOf(a);
          return s.state === 'offline' && s.lastError && s.lastError.at >= startedAt ? s : undefined;
        },
        20_000,
      );
    } finally {
      if (emulator) emulator.setPartitioned(false);
      else await admin.command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    const err = during.lastError;
    assert.ok(err);
    assert.match(err.reason, /^[a-z-]+$/, `a machine-readable reason (${err.reason})`);
    assert.ok(err.message.length > 10, `a message in words (${err.message})`);
    assert.ok(err.at >= startedAt && err.at <= Date.now(), 'the time of the error');

    await waitFor(
      'the writes on the hub after healing',
      async () => (await topology.hubDb.collection('st_outage').countDocuments()) === 3,
      30_000,
    );
    const healed = await waitFor(
      'till A synced with an empty outbox',
      () => {
        const s = statusOf(a);
        return s.state === 'synced' && s.outbox.depth === 0 ? s : undefined;
      },
      30_000,
    );
    assert.equal(healed.outbox.oldestPendingAgeMs, null);
    await waitFor('till B synced too', () => statusOf(b).state === 'synced', 30_000);
  });
});
