/**
 * Collection policies: `both` (the default), `push-only` (till → hub only),
 * `pull-only` (hub → till only) and `local-only` (neither way); the engine's
 * own collections never sync; and a policy change applies without a restart.
 *
 * Showing that something does NOT sync: after the write, a sentinel document
 * is written in a `both` collection on the same side and we wait until it has
 * arrived everywhere. Capture, push and pull each keep order, so by then the
 * earlier write has been through the engine (and skipped); we then watch a
 * further bounded QUIET_MS in case a differently ordered engine is slower.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from 'mongodb';
import { startTopology, waitFor, type Topology } from './topology.ts';

/** How long we keep watching after the sentinel arrived: the engine polls its streams every 0.5 s and pushes within ~1 s. */
const QUIET_MS = 1_500;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function has(db: Db, coll: string, id: string): Promise<boolean> {
  return (await db.collection(coll).countDocuments({ _id: id as never })) === 1;
}

describe('collection policies', () => {
  let topology: Topology;
  let sentinels = 0;

  before(async () => {
    topology = await startTopology({
      tills: 2,
      engine: {
        collections: {
          pol_push: { mode: 'push-only' },
          pol_pull: { mode: 'pull-only' },
          pol_local: { mode: 'local-only' },
          pol_live: { mode: 'both' },
        },
      },
    });
  });

  after(async () => {
    await topology?.stop();
  });

  function everywhere(): Db[] {
    return [topology.hubDb, ...topology.tills.map((t) => t.db)];
  }

  /** Writes a sentinel on `origin` (a till's POS database or the hub) and waits until every replica has it, then QUIET_MS more. */
  async function settle(origin: Db): Promise<void> {
    sentinels += 1;
    const id = `s${sentinels}`;
    await origin.collection('pol_sentinel').insertOne({ _id: id as never });
    await waitFor(`sentinel ${id} to reach every replica`, async () => {
      for (const db of everywhere()) if (!(await has(db, 'pol_sentinel', id))) return false;
      return true;
    });
    await sleep(QUIET_MS);
  }

  it('both (the default): till writes reach the hub and the other till; HQ writes reach every till', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.db.collection('pol_both').insertOne({ _id: 'from-a' as never });
    await topology.hubDb.collection('pol_both').insertOne({ _id: 'from-hq' as never });
    await waitFor('both documents on every replica', async () => {
      for (const db of everywhere()) if (!(await has(db, 'pol_both', 'from-a')) || !(await has(db, 'pol_both', 'from-hq'))) return false;
      return true;
    });
    assert.equal(a.engine?.policies.policyFor('pol_both').mode, 'both');
    assert.equal(b.engine?.policies.policyFor('pol_both').mode, 'both');
  });

  it('push-only: a till write reaches the hub but no till; an HQ write reaches no till', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.db.collection('pol_push').insertOne({ _id: 'sale-1' as never, total: 12 });
    await waitFor('the sale on the hub', () => has(topology.hubDb, 'pol_push', 'sale-1'));
    await topology.hubDb.collection('pol_push').insertOne({ _id: 'hq-1' as never, note: 'HQ adjustment' });
    await settle(topology.hubDb);
    assert.equal(await has(b.db, 'pol_push', 'sale-1'), false, 'till B does not pull a push-only collection');
    assert.equal(await has(a.db, 'pol_push', 'hq-1'), false, 'HQ’s write does not reach till A');
    assert.equal(await has(b.db, 'pol_push', 'hq-1'), false, 'HQ’s write does not reach till B');
    // Updates and deletes of a push-only document still go up.
    await a.db.collection('pol_push').updateOne({ _id: 'sale-1' as never }, { $set: { total: 13 } });
    await waitFor(
      'the update on the hub',
      async () => (await topology.hubDb.collection('pol_push').findOne({ _id: 'sale-1' as never }))?.total === 13,
    );
    await a.db.collection('pol_push').deleteOne({ _id: 'sale-1' as never });
    await waitFor('the delete on the hub', async () => !(await has(topology.hubDb, 'pol_push', 'sale-1')));
    assert.equal(await has(topology.hubDb, 'pol_push', 'hq-1'), true, 'the tills did not touch HQ’s document');
  });

  it('pull-only: an HQ write reaches every till; a till write stays on that till', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await topology.hubDb.collection('pol_pull').insertOne({ _id: 'burger' as never, price: 9 });
    await waitFor('HQ’s menu item on every till', async () => (await has(a.db, 'pol_pull', 'burger')) && has(b.db, 'pol_pull', 'burger'));
    await topology.hubDb.collection('pol_pull').updateOne({ _id: 'burger' as never }, { $set: { price: 10 } });
    await waitFor('HQ’s price change on every till', async () => {
      for (const till of topology.tills)
        if ((await till.db.collection('pol_pull').findOne({ _id: 'burger' as never }))?.price !== 10) return false;
      return true;
    });

    await a.db.collection('pol_pull').insertOne({ _id: 'local-special' as never, price: 1 });
    await a.db.collection('pol_pull').updateOne({ _id: 'burger' as never }, { $set: { price: 0 } });
    await settle(a.db);
    assert.equal(await has(topology.hubDb, 'pol_pull', 'local-special'), false, 'till A’s insert stays local');
    assert.equal(await has(b.db, 'pol_pull', 'local-special'), false, 'till A’s insert does not reach till B');
    assert.equal(
      (await topology.hubDb.collection('pol_pull').findOne({ _id: 'burger' as never }))?.price,
      10,
      'till A’s edit does not reach the hub',
    );
    assert.equal((await b.db.collection('pol_pull').findOne({ _id: 'burger' as never }))?.price, 10, 'till A’s edit does not reach till B');
  });

  it('local-only: neither a till write nor an HQ write leaves where it was made', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.db.collection('pol_local').insertOne({ _id: 'drawer' as never, cash: 100 });
    await settle(a.db);
    await topology.hubDb.collection('pol_local').insertOne({ _id: 'hq-drawer' as never, cash: 0 });
    await settle(topology.hubDb);
    assert.equal(await has(topology.hubDb, 'pol_local', 'drawer'), false, 'till A’s write does not reach the hub');
    assert.equal(await has(b.db, 'pol_local', 'drawer'), false, 'till A’s write does not reach till B');
    assert.equal(await has(a.db, 'pol_local', 'hq-drawer'), false, 'HQ’s write does not reach till A');
    assert.equal(await has(b.db, 'pol_local', 'hq-drawer'), false, 'HQ’s write does not reach till B');
    assert.equal((await a.db.collection('pol_local').findOne({ _id: 'drawer' as never }))?.cash, 100, 'till A keeps its own document');
  });

  it('the engine’s own collections never sync, whatever writes to them', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    // A client writing into engine-prefixed collections on a till, into the engine's database, and on the hub.
    await a.db.collection('_tillsync_notes').insertOne({ _id: 'n1' as never, text: 'till data in an engine-prefixed collection' });
    await a.client
      .db('tillsync')
      .collection('notes')
      .insertOne({ _id: 'n2' as never, text: 'till data in the engine database' });
    await settle(a.db);
    await topology.hubDb.collection('_tillsync_hq').insertOne({ _id: 'n3' as never });
    await settle(topology.hubDb);

    const hubCollections = (await topology.hubDb.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    const engineOnHub = hubCollections.filter((n) => n.startsWith('_tillsync')).sort();
    assert.deepStrictEqual(
      engineOnHub.filter((n) => n !== '_tillsync_hq'),
      ['_tillsync_devices', '_tillsync_push', '_tillsync_tombstones'],
      'the only engine collections on the hub are the tills’ heartbeats, push markers and tombstones',
    );
    for (const name of ['outbox', 'checkpoints', 'versions', 'conflicts', 'quarantine', 'meta', 'notes']) {
      assert.ok(!hubCollections.includes(name), `no "${name}" collection from the engine database on the hub`);
    }
    const hubDatabases = (await topology.hubClient.db('admin').admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
    assert.ok(
      !hubDatabases.includes('tillsync'),
      `the till’s engine database does not appear on the hub (hub has ${hubDatabases.join(', ')})`,
    );

    // The push markers hold only bookkeeping: one per till and session lane, no documents of till data.
    const markers = await topology.hubDb.collection('_tillsync_push').find({}).toArray();
    for (const m of markers) {
      assert.match(String(m._id), /^till-[ab]\.\d+$/, `push marker ${String(m._id)} is keyed by a device id and a lane`);
      assert.deepStrictEqual(
        Object.keys(m).filter((k) => !['_id', 'seq', 'at'].includes(k)),
        [],
        'a push marker holds no till data',
      );
    }
    // Tombstones only ever describe deleted documents of synced collections.
    for (const t of await topology.hubDb.collection('_tillsync_tombstones').find({}).toArray()) {
      const target = t._id as { c?: string };
      assert.ok(target.c && !target.c.startsWith('_tillsync'), `tombstone ${JSON.stringify(t._id)} is for a synced collection`);
    }
    // HQ's write into an engine-prefixed hub collection does not reach the tills.
    for (const till of [a, b]) {
      const names = (await till.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
      assert.ok(!names.includes('_tillsync_hq'), `${till.name} did not pull an engine-prefixed hub collection`);
    }
    assert.equal(await has(b.db, '_tillsync_notes', 'n1'), false, 'till A’s engine-prefixed document does not reach till B');
  });

  it('a policy change takes effect without a restart, and widening it again syncs what was written meanwhile', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    const live = a.db.collection('pol_live');
    await live.insertOne({ _id: 'before' as never });
    await waitFor(
      'the first write on the hub and till B',
      async () => (await has(topology.hubDb, 'pol_live', 'before')) && has(b.db, 'pol_live', 'before'),
    );

    const engineA = a.engine;
    assert.ok(engineA);
    await engineA.setPolicies({ pol_live: { mode: 'local-only' } });
    assert.equal(engineA.policies.policyFor('pol_live').mode, 'local-only');
    await live.insertOne({ _id: 'during' as never });
    await live.updateOne({ _id: 'before' as never }, { $set: { edited: true } });
    await topology.hubDb.collection('pol_live').insertOne({ _id: 'hq-during' as never });
    await settle(a.db);
    await settle(topology.hubDb);
    assert.equal(await has(topology.hubDb, 'pol_live', 'during'), false, 'a local-only write does not reach the hub');
    assert.equal(
      (await topology.hubDb.collection('pol_live').findOne({ _id: 'before' as never }))?.edited,
      undefined,
      'a local-only edit does not reach the hub',
    );
    assert.equal(await has(a.db, 'pol_live', 'hq-during'), false, 'HQ’s write does not reach a till where the collection is local-only');
    assert.equal(await has(b.db, 'pol_live', 'hq-during'), true, 'till B (still both) gets HQ’s write');
    assert.equal(a.engine, engineA, 'the engine was not restarted');

    await engineA.setPolicies({ pol_live: { mode: 'both' } });
    // Widened again: what was written meanwhile on either side is compared and synced, not left behind.
    await waitFor(
      'the write made while local-only to reach the hub and till B',
      async () => (await has(topology.hubDb, 'pol_live', 'during')) && has(b.db, 'pol_live', 'during'),
    );
    await waitFor(
      'the edit made while local-only to reach the hub',
      async () => (await topology.hubDb.collection('pol_live').findOne({ _id: 'before' as never }))?.edited === true,
    );
    await waitFor('HQ’s write made meanwhile to reach till A', () => has(a.db, 'pol_live', 'hq-during'));
    await live.insertOne({ _id: 'after' as never });
    await waitFor(
      'the write made after switching back to reach the hub and till B',
      async () => (await has(topology.hubDb, 'pol_live', 'after')) && has(b.db, 'pol_live', 'after'),
    );
    await topology.hubDb.collection('pol_live').insertOne({ _id: 'hq-after' as never });
    await waitFor('HQ’s write made after switching back to reach till A', () => has(a.db, 'pol_live', 'hq-after'));
    assert.equal(a.engine, engineA, 'the engine was not restarted');
  });

  it('a policy widened while the engine was stopped (a new configuration) syncs what was written under the old one', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await a.startEngine({ collections: { pol_restart: { mode: 'local-only' } } });
    await a.db.collection('pol_restart').insertOne({ _id: 'kept-local' as never });
    await settle(a.db);
    assert.equal(await has(topology.hubDb, 'pol_restart', 'kept-local'), false, 'local-only: not on the hub');
    await a.stopEngine();
    await a.startEngine({ collections: { pol_restart: { mode: 'both' } } });
    await waitFor(
      'the document written while local-only to reach the hub and till B',
      async () => (await has(topology.hubDb, 'pol_restart', 'kept-local')) && has(b.db, 'pol_restart', 'kept-local'),
    );
  });
});
