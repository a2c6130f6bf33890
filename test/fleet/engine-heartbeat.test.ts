/**
 * Heartbeats from real engines: each till's document on the hub carries its
 * device parameters and status and is refreshed while it runs; a hub that
 * refuses heartbeats does not stop sync; pausing and stopping are reported
 * before the hub connection goes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import { DEVICES_COLLECTION } from '../../src-shared/fleet.ts';
import { appVersion } from '../../src-main/sync/heartbeat.ts';
import { POS_DB, startTopology, waitFor, type Till, type Topology } from '../integration/topology.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('heartbeats from running engines', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;

  before(async () => {
    topology = await startTopology({ tills: 2, startEngines: false, engine: { heartbeatIntervalMs: 1_000 } });
    [a, b] = topology.tills as [Till, Till];
    await a.startEngine({ device: { name: 'Front till', storeId: 'soho' } });
    await b.startEngine();
  });

  after(async () => {
    await topology.hubClient
      .db('admin')
      .command({ configureFailPoint: 'failCommand', mode: 'off' })
      .catch(() => undefined);
    await topology?.stop();
  });

  const heartbeatOf = (id: string): Promise<Document | null> => topology.hubDb.collection(DEVICES_COLLECTION).findOne({ _id: id as never });

  it('each till writes its heartbeat, with its device parameters, and keeps it fresh', async () => {
    const first = await waitFor('till A synced on the hub', async () => {
      const doc = await heartbeatOf('till-a');
      return doc?.state === 'synced' ? doc : undefined;
    });
    assert.equal(first.name, 'Front till');
    assert.equal(first.storeId, 'soho');
    assert.equal(first.appVersion, appVersion());
    assert.equal(first.beatEveryMs, 1_000);
    assert.deepEqual(first.outbox, { depth: 0, oldestPendingAgeMs: null });
    assert.equal(typeof first.conflictsLastHour, 'number');
    const tillB = await waitFor('till B on the hub', () => heartbeatOf('till-b'));
    assert.equal(tillB.name, null, 'a till with no device parameters has no name');
    const later = await waitFor('a newer beat from till A', async () => {
      const doc = await heartbeatOf('till-a');
      return doc && (doc.lastSeen as Date).getTime() > (first.lastSeen as Date).getTime() ? doc : undefined;
    });
    assert.ok((later.lastSeen as Date).getTime() - (first.lastSeen as Date).getTime() < 5_000);
    assert.equal(await topology.hubDb.collection(DEVICES_COLLECTION).countDocuments(), 2, 'one document per till');
    assert.equal(await a.db.collection(DEVICES_COLLECTION).countDocuments(), 0, 'heartbeats never sync to tills');
  });

  it('a hub that refuses heartbeats does not stop sync', async () => {
    await topology.hubClient.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['update'], errorCode: 13, namespace: `${POS_DB}.${DEVICES_COLLECTION}` },
    });
    try {
      await sleep(1_500); // a beat in flight when the fail point went on may still land
      const before = (await heartbeatOf('till-a'))?.lastSeen as Date;
      await a.db.collection('hb_sales').insertOne({ _id: 'sale-1' as never, total: 7 });
      await topology.hubDb.collection('hb_menu').insertOne({ _id: 'tea' as never, price: 2 });
      await waitFor('the sale on till B and the menu on till A', async () => {
        return (
          (await b.db.collection('hb_sales').countDocuments()) === 1 &&
          (await a.db.collection('hb_menu').countDocuments()) === 1 &&
          (await topology.hubDb.collection('hb_sales').countDocuments()) === 1
        );
      });
      await sleep(1_500);
      assert.equal(((await heartbeatOf('till-a'))?.lastSeen as Date).getTime(), before.getTime(), 'no heartbeat got through');
      await waitFor('till A synced', () => a.engine?.status().state === 'synced');
    } finally {
      await topology.hubClient.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    await waitFor('till A heard again', async () => Date.now() - ((await heartbeatOf('till-a'))?.lastSeen as Date).getTime() < 2_000);
  });

  it('pausing says so before the hub connection goes, and stopping says goodbye', async () => {
    await a.engine?.setEnabled(false);
    assert.equal((await heartbeatOf('till-a'))?.state, 'disabled');
    await a.engine?.setEnabled(true);
    await waitFor('till A synced again on the hub', async () => (await heartbeatOf('till-a'))?.state === 'synced');
    await a.stopEngine();
    assert.equal((await heartbeatOf('till-a'))?.state, 'stopped');
  });
});
