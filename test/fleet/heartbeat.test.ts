/**
 * The heartbeat writer on its own, against a real hub server: one document
 * per till with `lastSeen` by the hub's clock; a beat at once when the state
 * changes in a way the fleet sees (not for synced ⇄ syncing); a hub that
 * refuses or does not answer costs a logged line, once, never a hang; and a
 * goodbye beat when it stops.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db, MongoClient } from 'mongodb';
import { DEVICES_COLLECTION } from '../../src-shared/fleet.ts';
import type { SyncStatus } from '../../src-shared/status.ts';
import { appVersion, Heartbeat } from '../../src-main/sync/heartbeat.ts';
import type { LogFields } from '../../src-main/sync/log.ts';
import { replSetKind, startReplSet, type ReplSet } from '../harness/replset.ts';
import { setClockOffsetMs } from '../harness/mongo/wall-clock.ts';
import { waitFor } from '../integration/topology.ts';
import { recordingLogger, statusOf } from './helpers.ts';

const APP_NAME = 'heartbeat-test';
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('heartbeat writer', () => {
  let hub: ReplSet;
  let client: MongoClient;
  let db: Db;

  before(async () => {
    hub = await startReplSet();
    client = await hub.connect({ appName: APP_NAME });
    db = client.db('pos');
  });

  after(async () => {
    await client?.close();
    await hub?.stop();
  });

  async function failPoint(data: Record<string, unknown> | 'off'): Promise<void> {
    await client
      .db('admin')
      .command(
        data === 'off'
          ? { configureFailPoint: 'failCommand', mode: 'off' }
          : { configureFailPoint: 'failCommand', mode: 'alwaysOn', data: { appName: APP_NAME, ...data } },
      );
  }

  const heartbeatOf = (deviceId: string) => db.collection(DEVICES_COLLECTION).findOne({ _id: deviceId as never });

  it('writes one document per till with the status, the device parameters and lastSeen by the hub’s clock', async () => {
    let status: SyncStatus = statusOf('till-hb1', 'synced', {
      outbox: { depth: 3, oldestPendingAgeMs: 42_000 },
      oplogHeadroomHours: 30,
      quarantine: { count: 2, latest: [] },
      lastError: { reason: 'hub-unreachable', message: 'Cannot reach the hub', at: 1_700_000_000_000 },
    });
    const beat = new Heartbeat({
      hub: () => db,
      status: () => status,
      device: { name: 'Till 1', storeId: 'soho', region: 'london' },
      clockOffsetMs: () => -90_000,
      recent: async () => ({ conflicts: 4, setAside: 1 }),
    });
    assert.equal(await beat.beat(), true);
    status = { ...status, outbox: { depth: 0, oldestPendingAgeMs: null } };
    assert.equal(await beat.beat(), true);
    const docs = await db.collection(DEVICES_COLLECTION).find({ deviceId: 'till-hb1' }).toArray();
    assert.equal(docs.length, 1, 'one document per till, however many beats');
    const doc = docs[0]!;
    assert.equal(doc._id, 'till-hb1');
    assert.equal(doc.name, 'Till 1');
    assert.equal(doc.storeId, 'soho');
    assert.deepEqual(doc.params, { name: 'Till 1', storeId: 'soho', region: 'london' });
    assert.equal(doc.appVersion, appVersion());
    assert.match(doc.appVersion as string, /^\d+\.\d+\.\d+/);
    assert.equal(doc.state, 'synced');
    assert.deepEqual(doc.outbox, { depth: 0, oldestPendingAgeMs: null }, 'the latest beat wins');
    assert.equal(doc.conflictsLastHour, 4);
    assert.deepEqual(doc.setAside, { count: 2, lastHour: 1 });
    assert.equal(doc.clockOffsetMs, -90_000);
    assert.equal(doc.oplogHeadroomHours, 30);
    assert.equal((doc.lastError as { message: string }).message, 'Cannot reach the hub');
    assert.equal(doc.beatEveryMs, 30_000);
    assert.ok(doc.lastSeen instanceof Date, 'lastSeen is a date');
    assert.ok(Math.abs(doc.lastSeen.getTime() - Date.now()) < 5_000, 'lastSeen is now');
  });

  const emulatorOnly = replSetKind() === 'emulator' ? false : 'needs the emulator, whose clock a test can move';
  it('takes lastSeen from the hub’s clock, not the till’s', { skip: emulatorOnly }, async () => {
    const beat = new Heartbeat({ hub: () => db, status: () => statusOf('till-hb2', 'synced') });
    setClockOffsetMs(2 * 3_600_000);
    try {
      assert.equal(await beat.beat(), true);
    } finally {
      setClockOffsetMs(0);
    }
    const doc = await heartbeatOf('till-hb2');
    const ahead = (doc?.lastSeen as Date).getTime() - Date.now();
    assert.ok(Math.abs(ahead - 2 * 3_600_000) < 60_000, `lastSeen is two hours ahead, as the hub's clock is (${ahead} ms)`);
  });

  it('beats at once when the state changes for the fleet, not for synced ⇄ syncing', async () => {
    let status = statusOf('till-hb3', 'synced');
    const beat = new Heartbeat({ hub: () => db, status: () => status, everyMs: 3_600_000 });
    beat.start();
    try {
      await waitFor('the first beat', async () => (await heartbeatOf('till-hb3'))?.state === 'synced');
      const first = (await heartbeatOf('till-hb3'))?.lastSeen as Date;
      status = statusOf('till-hb3', 'syncing');
      beat.stateChanged('syncing');
      await sleep(500);
      const after = await heartbeatOf('till-hb3');
      assert.equal(after?.state, 'synced', 'synced → syncing is no news to the fleet');
      assert.equal((after?.lastSeen as Date).getTime(), first.getTime());
      status = statusOf('till-hb3', 'offline');
      beat.stateChanged('offline');
      await waitFor('the offline beat', async () => (await heartbeatOf('till-hb3'))?.state === 'offline', 3_000);
      status = statusOf('till-hb3', 'error');
      beat.stateChanged('error');
      await waitFor('the error beat', async () => (await heartbeatOf('till-hb3'))?.state === 'error', 3_000);
    } finally {
      await beat.stop();
    }
    assert.equal((await heartbeatOf('till-hb3'))?.state, 'stopped', 'stopping says goodbye');
  });

  it('a hub that refuses heartbeats: every beat fails quietly, logged once, and the next good beat says so', async () => {
    const logs: LogFields[] = [];
    const beat = new Heartbeat({ hub: () => db, status: () => statusOf('till-hb4', 'synced'), log: recordingLogger(logs) });
    await failPoint({ failCommands: ['update'], errorCode: 13, errorMessage: 'not authorized' });
    try {
      for (let i = 0; i < 4; i += 1) assert.equal(await beat.beat(), false, `beat ${i + 1} is refused`);
    } finally {
      await failPoint('off');
    }
    assert.equal(logs.filter((l) => l.event === 'heartbeat.failed').length, 1, 'four refusals, one log line');
    assert.equal(await heartbeatOf('till-hb4'), null);
    assert.equal(await beat.beat(), true);
    assert.equal(logs.filter((l) => l.event === 'heartbeat.recovered').length, 1);
    assert.equal((await heartbeatOf('till-hb4'))?.state, 'synced');
  });

  it('a hub that does not answer: the beat gives up after its own timeout', async () => {
    const logs: LogFields[] = [];
    const beat = new Heartbeat({ hub: () => db, status: () => statusOf('till-hb5', 'synced'), timeoutMs: 300, log: recordingLogger(logs) });
    await failPoint({ failCommands: ['update'], blockConnection: true, blockTimeMS: 3_000 });
    try {
      const began = Date.now();
      assert.equal(await beat.beat(), false);
      const took = Date.now() - began;
      assert.ok(took < 2_000, `the beat gave up in ${took} ms, not after the hub's 3 s`);
      assert.equal(logs.filter((l) => l.event === 'heartbeat.failed').length, 1);
      // A beat someone waits for (pausing sync, stopping) holds them up for a moment at most.
      const waited = Date.now();
      assert.equal(await beat.beatNow('stopped'), false);
      assert.ok(Date.now() - waited < 2_500, `a waited-for beat gave up in ${Date.now() - waited} ms`);
    } finally {
      await failPoint('off');
    }
  });

  it('without a hub connection a beat is skipped, and nothing is written', async () => {
    const beat = new Heartbeat({ hub: () => undefined, status: () => statusOf('till-hb6', 'offline') });
    assert.equal(await beat.beat(), false);
    await beat.stop();
    assert.equal(await heartbeatOf('till-hb6'), null);
  });
});
