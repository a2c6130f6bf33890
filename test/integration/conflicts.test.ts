/**
 * Concurrent edits of one document on two tills converge everywhere to the
 * same result: the newer version (document granularity) or the newer version
 * of each field (field granularity). Real conflicts are logged on the till
 * that found them, with both sides; the log is paged, newest first, filtered
 * by collection, and a losing version can be applied again as a new write.
 * A delete against a concurrent update resolves by version, and a stale
 * update never brings a deleted document back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import type { SyncEngine } from '../../src-main/sync/engine.ts';
import { startTopology, waitConverged, waitFor, type Till, type Topology } from './topology.ts';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('conflicts', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;
  const engine = (till: Till): SyncEngine => till.engine as SyncEngine;

  before(async () => {
    topology = await startTopology({ tills: 2, engine: { collections: { recipes: { conflict: 'field' } } } });
    [a, b] = topology.tills as [Till, Till];
  });
  after(async () => {
    await topology?.stop();
  });

  /** Pauses both tills, runs the edits (in order, a little apart so versions differ), resumes A, then B. */
  async function concurrently(edits: Array<() => Promise<unknown>>, collections: string[]): Promise<void> {
    await engine(a).setEnabled(false);
    await engine(b).setEnabled(false);
    for (const edit of edits) {
      await edit();
      await sleep(20);
    }
    await waitFor(
      'both tills to capture their edits',
      async () => engine(a).status().outbox.depth > 0 && engine(b).status().outbox.depth > 0,
    );
    await engine(a).setEnabled(true);
    await waitFor("till A's edit on the hub", () => engine(a).status().outbox.depth === 0);
    await engine(b).setEnabled(true);
    await waitConverged(topology, collections);
    // A conflict is logged when its push settles on the till, which can come just after the documents agree.
    await waitFor(
      'both tills to settle their pushes',
      () => engine(a).status().outbox.depth === 0 && engine(b).status().outbox.depth === 0,
    );
  }

  it('document granularity: the newer edit wins everywhere and the till that found the conflict logs both sides', async () => {
    await a.db.collection('menu').insertOne({ _id: 'soup', name: 'Soup', price: 4 } as Document);
    await waitConverged(topology, ['menu']);
    await concurrently(
      [
        () => a.db.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 5 } }),
        () => b.db.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 6 } }),
      ],
      ['menu'],
    );
    assert.equal((await topology.hubDb.collection('menu').findOne({ _id: 'soup' as never }))?.price, 6, "B's edit is newer");
    const { items } = await engine(b).listConflicts({ collection: 'menu' });
    const conflict = items.find((c) => c.documentId === 'soup');
    assert.ok(conflict, "B found the conflict when it pushed over A's unseen version");
    assert.equal(conflict.winner, 'local');
    assert.equal(Number((conflict.hub.document as Document).price), 5);
    assert.equal(conflict.hub.origin, 'till-a');
    assert.equal(Number((conflict.local.document as Document).price), 6);
    assert.ok(conflict.hub.version < conflict.local.version);
  });

  it('the older edit loses when it arrives second, is logged, and the till takes the winner', async () => {
    await a.db.collection('menu').insertOne({ _id: 'tea', name: 'Tea', price: 2 } as Document);
    await waitConverged(topology, ['menu']);
    await concurrently(
      [
        () => b.db.collection('menu').updateOne({ _id: 'tea' as never }, { $set: { price: 3 } }),
        () => a.db.collection('menu').updateOne({ _id: 'tea' as never }, { $set: { price: 4 } }),
      ],
      ['menu'],
    );
    for (const db of [topology.hubDb, a.db, b.db]) assert.equal((await db.collection('menu').findOne({ _id: 'tea' as never }))?.price, 4);
    const conflict = (await engine(b).listConflicts({ collection: 'menu' })).items.find((c) => c.documentId === 'tea');
    assert.ok(conflict);
    assert.equal(conflict.winner, 'hub');
    assert.equal(Number((conflict.local.document as Document).price), 3, "B's losing version is kept in the log");
  });

  it('re-applying the losing version makes it the value everywhere', async () => {
    const conflict = (await engine(b).listConflicts({ collection: 'menu' })).items.find((c) => c.documentId === 'tea');
    assert.ok(conflict);
    const updated = await engine(b).reapplyConflictLoser(conflict._id.toHexString());
    assert.ok(updated.reappliedAt instanceof Date);
    await waitFor('the re-applied version everywhere', async () => {
      for (const db of [topology.hubDb, a.db, b.db])
        if ((await db.collection('menu').findOne({ _id: 'tea' as never }))?.price !== 3) return false;
      return true;
    });
    assert.ok((await engine(b).getConflict(conflict._id.toHexString()))?.reappliedAt, 'the log remembers it was re-applied');
  });

  it('the conflict log is paged newest first and filters by collection', async () => {
    await a.db.collection('drinks').insertOne({ _id: 'cola', price: 2 } as Document);
    await waitConverged(topology, ['drinks']);
    await concurrently(
      [
        () => a.db.collection('drinks').updateOne({ _id: 'cola' as never }, { $set: { price: 3 } }),
        () => b.db.collection('drinks').updateOne({ _id: 'cola' as never }, { $set: { price: 4 } }),
      ],
      ['drinks'],
    );
    const all = await engine(b).listConflicts({ pageSize: 2 });
    assert.ok(all.total >= 3);
    assert.equal(all.items.length, 2);
    assert.equal(all.items[0]?.collection, 'drinks', 'newest first');
    assert.ok((all.items[0]?.at as Date) >= (all.items[1]?.at as Date));
    const second = await engine(b).listConflicts({ pageSize: 2, page: 1 });
    assert.ok(second.items.length >= 1);
    assert.ok(!second.items.some((c) => all.items.some((d) => d._id.equals(c._id))), 'pages do not overlap');
    const drinks = await engine(b).listConflicts({ collection: 'drinks' });
    assert.equal(drinks.total, 1);
  });

  it('field granularity: edits of different fields on two tills both survive, without a conflict', async () => {
    await a.db.collection('recipes').insertOne({ _id: 'stew', name: 'Stew', price: 9, spicy: false } as Document);
    await waitConverged(topology, ['recipes']);
    const before = (await engine(b).listConflicts({ collection: 'recipes' })).total;
    await concurrently(
      [
        () => a.db.collection('recipes').updateOne({ _id: 'stew' as never }, { $set: { price: 10 } }),
        () => b.db.collection('recipes').updateOne({ _id: 'stew' as never }, { $set: { name: 'Beef stew' }, $unset: { spicy: '' } }),
      ],
      ['recipes'],
    );
    for (const db of [topology.hubDb, a.db, b.db]) {
      const stew = await db.collection('recipes').findOne({ _id: 'stew' as never });
      assert.equal(stew?.price, 10);
      assert.equal(stew?.name, 'Beef stew');
      assert.equal('spicy' in (stew as Document), false);
    }
    assert.equal((await engine(b).listConflicts({ collection: 'recipes' })).total, before);
  });

  it('field granularity: the same field edited on both tills — the newer wins and the conflict names the field', async () => {
    await concurrently(
      [
        () => a.db.collection('recipes').updateOne({ _id: 'stew' as never }, { $set: { price: 11, note: 'from A' } }),
        () => b.db.collection('recipes').updateOne({ _id: 'stew' as never }, { $set: { price: 12 } }),
      ],
      ['recipes'],
    );
    const stew = await topology.hubDb.collection('recipes').findOne({ _id: 'stew' as never });
    assert.equal(stew?.price, 12, "B's price is newer");
    assert.equal(stew?.note, 'from A', "A's other field survives");
    const conflict = (await engine(b).listConflicts({ collection: 'recipes' })).items[0];
    assert.equal(conflict?.rule, 'newer-version-per-field');
    assert.deepEqual(conflict?.fields, ['price'], 'the record names the field both tills changed');
    assert.equal(conflict?.winner, 'local');
  });

  it('a delete newer than a concurrent update wins, and the stale update never brings the document back', async () => {
    await a.db.collection('orders').insertOne({ _id: 'o-1', total: 10 } as Document);
    await waitConverged(topology, ['orders']);
    await concurrently(
      [
        () => b.db.collection('orders').updateOne({ _id: 'o-1' as never }, { $set: { total: 11 } }),
        () => a.db.collection('orders').deleteOne({ _id: 'o-1' as never }),
      ],
      ['orders'],
    );
    for (const db of [topology.hubDb, a.db, b.db]) assert.equal(await db.collection('orders').findOne({ _id: 'o-1' as never }), null);
    assert.ok((await engine(b).listConflicts({ collection: 'orders' })).items.some((c) => c.documentId === 'o-1' && c.winner === 'hub'));
  });

  it('an update newer than a concurrent delete keeps the document everywhere', async () => {
    await a.db.collection('orders').insertOne({ _id: 'o-2', total: 20 } as Document);
    await waitConverged(topology, ['orders']);
    await concurrently(
      [
        () => a.db.collection('orders').deleteOne({ _id: 'o-2' as never }),
        () => b.db.collection('orders').updateOne({ _id: 'o-2' as never }, { $set: { total: 21 } }),
      ],
      ['orders'],
    );
    for (const db of [topology.hubDb, a.db, b.db])
      assert.equal((await db.collection('orders').findOne({ _id: 'o-2' as never }))?.total, 21);
  });

  it('after a delete is forgotten (tombstone retention), a stale update from a till that was away still does not bring it back', async () => {
    await a.db.collection('orders').insertOne({ _id: 'o-3', total: 30 } as Document);
    await waitConverged(topology, ['orders']);
    await engine(a).setEnabled(false);
    await engine(b).setEnabled(false);
    await b.db.collection('orders').updateOne({ _id: 'o-3' as never }, { $set: { total: 31 } });
    await sleep(20);
    await a.db.collection('orders').deleteOne({ _id: 'o-3' as never });
    await waitFor('both tills to capture', async () => engine(a).status().outbox.depth > 0 && engine(b).status().outbox.depth > 0);
    await engine(a).setEnabled(true);
    await waitFor(
      "A's delete on the hub",
      async () => (await topology.hubDb.collection('_tillsync_tombstones').countDocuments()) > 0 && engine(a).status().outbox.depth === 0,
    );
    // The retention passed: the hub forgot the delete.
    await topology.hubDb.collection('_tillsync_tombstones').deleteMany({});
    await engine(b).setEnabled(true);
    await waitConverged(topology, ['orders']);
    for (const db of [topology.hubDb, a.db, b.db]) assert.equal(await db.collection('orders').findOne({ _id: 'o-3' as never }), null);
    const conflict = (await engine(b).listConflicts({ collection: 'orders' })).items.find((c) => c.documentId === 'o-3');
    assert.equal(conflict?.rule, 'deleted-beyond-retention', 'B logged its refused change');
    assert.equal(Number((conflict?.local.document as Document).total), 31, "B's change is kept in the log");
  });

  // New documents with the same id made on two sides (a natural key, such as a table's number): the hub
  // has one already when the second arrives, which a push of new documents must not write over unseen.
  it('the same new document made on two tills: the newer wins everywhere and the till whose one lost logs it', async () => {
    await concurrently(
      [
        () => b.db.collection('tables').insertOne({ _id: 'table-5', guests: 2 } as Document),
        () => a.db.collection('tables').insertOne({ _id: 'table-5', guests: 4 } as Document),
      ],
      ['tables'],
    );
    for (const db of [topology.hubDb, a.db, b.db])
      assert.equal((await db.collection('tables').findOne({ _id: 'table-5' as never }))?.guests, 4, "A's is the newer");
    const conflict = (await engine(b).listConflicts({ collection: 'tables' })).items.find((c) => c.documentId === 'table-5');
    assert.equal(conflict?.winner, 'hub', "B's arrived second and lost");
    assert.equal(Number((conflict?.local.document as Document).guests), 2, "B's is kept in the log");
  });

  /** A makes a table and deletes it, each pushed to the hub (which keeps the delete's tombstone); B is away. */
  async function madeAndDeletedOnA(id: string): Promise<void> {
    await a.db.collection('tables').insertOne({ _id: id, guests: 6 } as Document);
    await waitFor("A's table on the hub", async () => (await topology.hubDb.collection('tables').findOne({ _id: id as never })) !== null);
    await a.db.collection('tables').deleteOne({ _id: id as never });
    await waitFor(
      "A's delete on the hub",
      async () => (await topology.hubDb.collection('_tillsync_tombstones').countDocuments({ '_id.id': id })) === 1,
    );
    await waitFor("A's push settled", () => engine(a).status().outbox.depth === 0);
  }

  it('a new document made with the id of one deleted since on the hub: made before the delete, it does not come back', async () => {
    await engine(b).setEnabled(false);
    await b.db.collection('tables').insertOne({ _id: 'table-7', guests: 3 } as Document);
    await sleep(20);
    await madeAndDeletedOnA('table-7');
    await engine(b).setEnabled(true);
    await waitConverged(topology, ['tables']);
    await waitFor("B's push settled", () => engine(b).status().outbox.depth === 0);
    for (const db of [topology.hubDb, a.db, b.db]) assert.equal(await db.collection('tables').findOne({ _id: 'table-7' as never }), null);
  });

  it('a new document made with the id of one deleted before it on the hub is made everywhere', async () => {
    // B is away and never sees table-8 come or go.
    await engine(b).setEnabled(false);
    await madeAndDeletedOnA('table-8');
    await sleep(20);
    await b.db.collection('tables').insertOne({ _id: 'table-8', guests: 2 } as Document);
    await engine(b).setEnabled(true);
    await waitConverged(topology, ['tables']);
    await waitFor("B's push settled", () => engine(b).status().outbox.depth === 0);
    for (const db of [topology.hubDb, a.db, b.db])
      assert.equal((await db.collection('tables').findOne({ _id: 'table-8' as never }))?.guests, 2, "B's table is newer than A's delete");
    assert.equal(
      await topology.hubDb.collection('_tillsync_tombstones').countDocuments({ '_id.id': 'table-8' }),
      0,
      'the delete it outlived is forgotten',
    );
  });
});
