/**
 * Recovery without reset: a first start against a hub that already has data
 * (and a till that already has its own), a till that joins late while the hub
 * keeps changing, and lost change history on either side (the hub's oplog or
 * the till's rolled over while the engine was down). Each time the engine
 * compares both sides, moves the difference, records real conflicts, and
 * throws nothing local away.
 */
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import type { SyncStatus } from '../../src-shared/status.ts';
import { TOMBSTONES } from '../../src-main/sync/core/names.ts';
import { describeDifference, startTopology, waitConverged, waitFor, type Topology } from './topology.ts';

const docs = (prefix: string, n: number, extra: Document = {}): Document[] =>
  Array.from({ length: n }, (_, i) => ({ _id: `${prefix}-${i}`, name: `${prefix} ${i}`, price: i, ...extra }));

describe('reconciliation', () => {
  let topology: Topology | undefined;

  afterEach(async () => {
    await topology?.stop();
    topology = undefined;
  });
  after(async () => {
    await topology?.stop();
  });

  it('first start: hub data is pulled, till data is pushed, a document both sides hold differently is a recorded conflict', async () => {
    topology = await startTopology({ tills: 1, startEngines: false });
    const [till] = topology.tills as [Topology['tills'][0]];
    await topology.hubDb.collection('menu').insertMany(docs('hub', 300));
    await topology.hubDb.collection('menu').insertOne({ _id: 'both', name: 'Soup (HQ)', price: 4 } as Document);
    await till.db.collection('menu').insertMany(docs('till', 200));
    await till.db.collection('menu').insertOne({ _id: 'both', name: 'Soup (till)', price: 5 } as Document);
    await till.db.collection('menu').insertOne({ _id: 'hub-7', name: 'hub 7', price: 7 } as Document); // same content as the hub: no conflict

    const progress: Array<SyncStatus['reconciliation']> = [];
    const engine = await till.startEngine();
    engine.on('status', (s) => progress.push(s.reconciliation));
    await waitConverged(topology, ['menu']);
    assert.equal(await topology.hubDb.collection('menu').countDocuments(), 501);

    const { items } = await engine.listConflicts({ collection: 'menu' });
    assert.equal(items.length, 1, `one conflict expected, got ${JSON.stringify(items.map((c) => c.documentId))}`);
    const conflict = items[0] as (typeof items)[0];
    assert.equal(conflict.documentId, 'both');
    // The till's copy was never synced, so it is the newer version; the hub's is kept in the log.
    assert.equal(conflict.winner, 'local');
    assert.equal((conflict.hub.document as Document).name, 'Soup (HQ)');
    assert.equal((await topology.hubDb.collection('menu').findOne({ _id: 'both' as never }))?.name, 'Soup (till)');
    await waitFor(
      'the status to show the reconciliation finished',
      () => engine.status().reconciliation === null && engine.status().state === 'synced',
    );
  });

  it('a till that joins late gets everything, including writes made on the hub during its scan, and shows progress', async () => {
    topology = await startTopology({ tills: 2, startEngines: false });
    const [a, late] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.startEngine();
    for (let i = 0; i < 4; i += 1) await a.db.collection('orders').insertMany(docs(`o${i}`, 1000));
    await waitFor('till A orders on the hub', async () => (await topology!.hubDb.collection('orders').countDocuments()) === 4000, 60_000);

    const seen: Array<NonNullable<SyncStatus['reconciliation']>> = [];
    const writer = (async () => {
      for (let i = 0; i < 40; i += 1) {
        await topology!.hubDb.collection('orders').insertOne({ _id: `during-${i}`, name: 'written during the scan' } as Document);
        await topology!.hubDb.collection('orders').updateOne({ _id: `o0-${i}` as never }, { $set: { price: 1000 + i } });
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const engine = await late.startEngine({ statusIntervalMs: 100 });
    engine.on('status', (s) => {
      if (s.reconciliation) seen.push(s.reconciliation);
    });
    await writer;
    await waitConverged(topology, ['orders'], 60_000);
    assert.equal(await late.db.collection('orders').countDocuments(), 4040);
    assert.equal((await late.db.collection('orders').findOne({ _id: 'o0-39' as never }))?.price, 1039);
    assert.ok(seen.length > 0, 'the status showed the reconciliation while it ran');
    const last = seen[seen.length - 1] as NonNullable<SyncStatus['reconciliation']>;
    assert.ok(last.total >= 4000 && last.compared <= last.total, `progress ${JSON.stringify(last)} counts documents compared of a total`);
    assert.equal((await engine.listConflicts()).total, 0, 'nothing conflicted');
  });

  it("the hub's history is lost while a till is down: it reconciles and keeps its own offline writes", async (t) => {
    topology = await startTopology({ tills: 2 });
    if (!topology.hub.emulator) return t.skip('needs the emulator to truncate the oplog');
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.db.collection('menu').insertMany(docs('m', 50));
    await waitConverged(topology, ['menu']);
    await b.stopEngine();

    await a.db.collection('menu').updateMany({}, { $set: { price: 9 } });
    await a.db.collection('menu').deleteOne({ _id: 'm-3' as never });
    await b.db.collection('menu').updateOne({ _id: 'm-4' as never }, { $set: { name: 'changed on B while offline' } });
    await b.db.collection('menu').insertOne({ _id: 'b-new', name: 'made on B while offline' } as Document);
    await waitFor('A pushed its changes', async () => (await topology!.hubDb.collection('menu').countDocuments({ price: 9 })) === 49);
    topology.hub.emulator.truncateOplog(0);

    await b.startEngine();
    await waitConverged(topology, ['menu']);
    const hubMenu = topology.hubDb.collection('menu');
    assert.equal(await hubMenu.findOne({ _id: 'm-3' as never }), null, 'the delete made while B was down stays deleted');
    assert.equal((await hubMenu.findOne({ _id: 'b-new' as never }))?.name, 'made on B while offline');
    const m4 = await hubMenu.findOne({ _id: 'm-4' as never });
    // Both changed m-4: whichever version is newer wins, and the other is in a conflict log.
    if (m4?.name !== 'changed on B while offline') {
      const { items } = await (b.engine as NonNullable<typeof b.engine>).listConflicts({ collection: 'menu' });
      assert.ok(
        items.some((c) => c.documentId === 'm-4'),
        `B's change to m-4 lost and is in B's conflict log\n${await describeDifference(topology, ['menu'])}`,
      );
    }
    assert.notEqual((b.engine as NonNullable<typeof b.engine>).status().state, 'error');
  });

  it('HQ deletes a document (an older tombstone remains) while a till is down and the history is lost: the till deletes it too', async (t) => {
    topology = await startTopology({ tills: 2 });
    if (!topology.hub.emulator) return t.skip('needs the emulator to truncate the oplog');
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    const aMenu = a.db.collection('menu');
    const hubMenu = topology.hubDb.collection('menu');
    await aMenu.insertOne({ _id: 'soup', name: 'Soup', price: 4 } as Document);
    await waitConverged(topology, ['menu']);
    await aMenu.deleteOne({ _id: 'soup' as never });
    await waitConverged(topology, ['menu']);
    const tombstones = topology.hubDb.collection(TOMBSTONES);
    const olderDelete = await tombstones.findOne({ _id: { c: 'menu', id: 'soup' } as never });
    assert.ok(olderDelete, 'the delete left a tombstone on the hub');
    await aMenu.insertOne({ _id: 'soup', name: 'Soup is back', price: 5 } as Document); // newer than the tombstone
    await waitConverged(topology, ['menu']);
    assert.equal((await b.db.collection('menu').findOne({ _id: 'soup' as never }))?.name, 'Soup is back');

    await b.stopEngine();
    await hubMenu.deleteOne({ _id: 'soup' as never }); // HQ knows nothing of versions: no new tombstone
    await waitFor('till A follows the HQ delete', async () => (await aMenu.countDocuments({ _id: 'soup' as never })) === 0);
    // A till's delete of the older version, pushed late (it crashed before settling it and replayed it onto
    // the now missing document), leaves its tombstone: older than the version till B holds.
    await tombstones.insertOne(olderDelete);
    topology.hub.emulator.truncateOplog(0);

    await b.startEngine();
    await waitConverged(topology, ['menu']);
    assert.equal(
      await hubMenu.findOne({ _id: 'soup' as never }),
      null,
      `till B did not push its old copy back\n${await describeDifference(topology, ['menu'])}`,
    );
    assert.equal(await b.db.collection('menu').findOne({ _id: 'soup' as never }), null);
  });

  it("the till's own history is lost while its engine is down: writes in the gap are found and pushed", async (t) => {
    topology = await startTopology({ tills: 2 });
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    if (!b.rs.emulator) return t.skip('needs the emulator to truncate the oplog');
    await b.db.collection('menu').insertMany(docs('m', 20));
    await waitConverged(topology, ['menu']);
    await b.stopEngine();
    await b.db.collection('menu').updateOne({ _id: 'm-1' as never }, { $set: { price: 100 } });
    await b.db.collection('menu').deleteOne({ _id: 'm-2' as never });
    await b.db.collection('menu').insertOne({ _id: 'gap', name: 'written in the gap' } as Document);
    b.rs.emulator.truncateOplog(0);

    const engine = await b.startEngine();
    await waitConverged(topology, ['menu']);
    assert.equal((await a.db.collection('menu').findOne({ _id: 'm-1' as never }))?.price, 100);
    assert.equal(await a.db.collection('menu').findOne({ _id: 'm-2' as never }), null);
    assert.equal((await a.db.collection('menu').findOne({ _id: 'gap' as never }))?.name, 'written in the gap');
    await waitFor('B back to synced', () => engine.status().state === 'synced');
  });
});
