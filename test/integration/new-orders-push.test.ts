/**
 * What a till mostly sends is new documents: orders. Over a restaurant's line
 * every request to the hub that waits for the one before costs a round trip,
 * so a batch of new documents goes as one write and its commit (MongoDB 8.0's
 * `bulkWrite`, one request across collections: the push marker, a delete of
 * their tombstones that must find none, and the inserts), not the four
 * requests of a push that reads the hub's side first (issue 14). A change to
 * documents the hub has reads them in the transaction, then writes in one
 * request and commits: three. The link in front of the hub counts what the
 * till's engine asks it.
 *
 * On a hub older than 8.0 every push goes the full way, and this is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it, type TestContext } from 'node:test';
import { countersSince } from '../harness/link/counts.ts';
import { LinkProxy } from '../harness/link/proxy.ts';
import { linkTarget, linkedUri } from '../harness/link/uri.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';
import type { SyncEngine } from '../../src-main/sync/engine.ts';

describe('a push of new orders', async () => {
  let topology: Topology;
  let link: LinkProxy;
  let till: Till;
  let engine: SyncEngine;

  before(async () => {
    topology = await startTopology({ tills: 1, startEngines: false });
    link = await LinkProxy.start({ to: linkTarget(topology.hub.uri) });
    till = topology.tills[0] as Till;
    engine = await till.startEngine({ hub: { uri: linkedUri(topology.hub.uri, link.port) } });
    await waitFor('the till synced', () => engine.status().state === 'synced', 30_000);
  });

  after(async () => {
    await topology?.stop();
    await link?.stop();
  });

  /** Skips `t` on a hub older than 8.0 (its pushes go the full way); true then. */
  async function hubBelow8(t: TestContext): Promise<boolean> {
    const build = await topology.hubDb.admin().command({ buildInfo: 1 });
    if (Number((build.versionArray as number[])[0]) >= 8) return false;
    t.skip(`the hub is MongoDB ${String(build.version)}: one request across collections needs 8.0`);
    return true;
  }

  it('costs the hub one write and its commit per batch, with nothing read first', async (t) => {
    if (await hubBelow8(t)) return;
    const before = link.counters();
    await till.db
      .collection<{ _id: string; table: number }>('np_orders')
      .insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: `order-${i}`, table: i })));
    await waitFor('the orders on the hub', async () => (await topology.hubDb.collection('np_orders').countDocuments()) === 20);
    await waitFor('the push settled', () => engine.status().outbox.depth === 0);
    const { commands } = countersSince(link.counters(), before);
    const writes = commands.bulkWrite?.requests ?? 0;
    assert.ok(writes >= 1, `the hub was asked ${JSON.stringify(commands)}; expected the orders in bulkWrite requests`);
    assert.equal(commands.commitTransaction?.requests ?? 0, writes, 'each write request is a batch, committed once');
    assert.equal(commands.find?.requests ?? 0, 0, 'nothing is read from the hub before writing new orders');
    const orders = await topology.hubDb.collection('np_orders').find().sort({ table: 1 }).toArray();
    assert.deepEqual(
      orders.map((o) => [o._id, o.table, o._sync?.o]),
      Array.from({ length: 20 }, (_, i) => [`order-${i}`, i, till.name]),
      'every order is on the hub as made, with its version from this till',
    );
  });

  it('a change to orders the hub has: one read, then one write and its commit, per batch', async (t) => {
    if (await hubBelow8(t)) return;
    const before = link.counters();
    await till.db.collection('np_orders').updateMany({}, { $set: { paid: true } });
    await waitFor(
      'the paid orders on the hub',
      async () => (await topology.hubDb.collection('np_orders').countDocuments({ paid: true })) === 20,
    );
    await waitFor('the push settled', () => engine.status().outbox.depth === 0);
    const { commands } = countersSince(link.counters(), before);
    const commits = commands.commitTransaction?.requests ?? 0;
    assert.ok(commits >= 1, `the hub was asked ${JSON.stringify(commands)}; expected the changes in transactions`);
    assert.equal(commands.find?.requests ?? 0, commits, 'one read a batch: the documents, in its transaction');
    assert.equal(commands.bulkWrite?.requests ?? 0, commits, 'one write request a batch: the marker and the changes');
  });
});
