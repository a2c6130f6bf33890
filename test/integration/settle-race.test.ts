/**
 * A hub change that arrives while this till's own change of the same document
 * is between "on the hub" and "settled here" is not lost. The pull leaves such
 * a document to the push; the push's settle must then take the newer hub
 * change. Found by the 30-minute soak (a till stayed on an older version and
 * called itself synced); made deterministic here by holding the settle's
 * outbox delete on the till's server for a few seconds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withTopology, waitConverged, waitFor, type Topology } from './topology.ts';

describe('a hub change made while a push settles', () => {
  let topology: Topology;

  withTopology({ tills: 2 }, (t) => (topology = t));

  it('reaches the till whose own older change was just pushed', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    const menu = (db: typeof a.db) => db.collection<{ _id: string; price: number }>('race_menu');
    await menu(a.db).insertOne({ _id: 'soup', price: 1 });
    await waitConverged(topology, ['race_menu']);

    // Till B's next settle holds its outbox delete for 3 s (the engine's local client only).
    await b.client.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: { times: 1 },
      data: { failCommands: ['delete'], blockConnection: true, blockTimeMS: 3_000, appName: 'tillsync-engine' },
    });
    try {
      await menu(b.db).updateOne({ _id: 'soup' }, { $set: { price: 2 } });
      await waitFor("till B's change on the hub", async () => (await menu(topology.hubDb).findOne({ _id: 'soup' }))?.price === 2);
      // While B's settle is held, till A changes the document again: a newer version B's pull sees first.
      await menu(a.db).updateOne({ _id: 'soup' }, { $set: { price: 3 } });
      await waitFor("till A's change on the hub", async () => (await menu(topology.hubDb).findOne({ _id: 'soup' }))?.price === 3);
      await waitFor('the newer price on till B', async () => (await menu(b.db).findOne({ _id: 'soup' }))?.price === 3, 15_000);
    } finally {
      await b.client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    }
    await waitConverged(topology, ['race_menu']);
    assert.equal((await menu(b.db).findOne({ _id: 'soup' }))?.price, 3, "every replica ends on till A's later price");
    await waitFor('till B synced', () => b.engine?.status().state === 'synced');
  });
});
