/**
 * The till's version records only move forward. Reconciliation writes the
 * versions both sides agree on outside any transaction, so capture may have
 * moved a record past it meanwhile; that write then finds a newer record and
 * must leave it be. (The engine reads raw BSON, so the server's duplicate-key
 * code arrives as a BSON Int32, not a number: a plain `code !== 11000` test
 * rethrew it, and every comparison of that till failed again and again.)
 * A content hash is stored as its bytes and a version packed (its wall time
 * and counter in one integer, its device beside it); records an older engine
 * wrote, with strings, read as they were, the server compares versions in
 * either form in version order, and a till with such records keeps syncing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Binary, type Document, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { TillStore } from '../../src-main/sync/till/store.ts';
import { madeBefore, olderThan } from '../../src-main/sync/till/version-record.ts';
import { compareVersions, decodeVersion, encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { contentHash, idKey } from '../../src-main/sync/documents.ts';
import { ENGINE } from '../../src-main/sync/core/names.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

describe('version records', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let store: TillStore;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
    store = new TillStore(client, 'vr_pos', 'vr_engine');
    await store.init();
  });

  after(async () => {
    await client?.close();
    await rs?.stop();
  });

  it('an agreement older than the record is skipped, newer ones are written, in one call', async () => {
    await store.agreeKnown([
      { c: 'menu', id: 'm-1', v: '0005', h: 'new' },
      { c: 'menu', id: 'm-2', v: '0001', h: 'old' },
    ]);
    await store.agreeKnown([
      { c: 'menu', id: 'm-1', v: '0003', h: 'stale' },
      { c: 'menu', id: 'm-2', v: '0004', h: 'newer' },
      { c: 'menu', id: 'm-3', v: '0002', h: 'first' },
    ]);
    const known = await store.known('menu', ['m-1', 'm-2', 'm-3']);
    const record = (id: string) => {
      const r = known.get(idKey(id));
      return r && { v: r.v, h: r.h };
    };
    assert.deepEqual(record('m-1'), { v: '0005', h: 'new' }, 'the newer record stays');
    assert.deepEqual(record('m-2'), { v: '0004', h: 'newer' });
    assert.deepEqual(record('m-3'), { v: '0002', h: 'first' });
  });

  it('stores a content hash as its bytes, and reads records with the hash as a string as they were', async () => {
    const [older, newer] = [contentHash({ _id: 'o-1', total: 12 }), contentHash({ _id: 'o-2', total: 15 })];
    const versions = store.engine.collection(ENGINE.versions);
    // As an older engine wrote them.
    await versions.insertMany([
      { _id: { c: 'orders', id: 'o-1' } as never, v: '0001', h: older },
      { _id: { c: 'orders', id: 'o-3' } as never, v: '0001', h: null },
    ]);
    await store.transaction((session) => store.putKnown([{ c: 'orders', id: 'o-2', known: { v: '0002', h: newer } }], session));
    assert.ok((await versions.findOne({ _id: { c: 'orders', id: 'o-2' } as never }))?.h instanceof Binary, 'stored as bytes');

    const expected = [
      ['o-1', { v: '0001', h: older }],
      ['o-2', { v: '0002', h: newer }],
      ['o-3', { v: '0001', h: null }],
    ] as const;
    const known = await store.known('orders', ['o-1', 'o-2', 'o-3']);
    const all = await store.knownIn('orders');
    for (const [id, k] of expected) {
      assert.deepEqual(known.get(idKey(id)), k, id);
      assert.deepEqual(all.get(idKey(id)), { id, ...k }, id);
    }
  });

  it('the server compares versions in either form in version order (agreements, delete traces)', async () => {
    const NOW = Date.UTC(2026, 5, 1);
    const versionArb = fc
      .record({
        wall: fc.integer({ min: NOW - 3, max: NOW + 3 }),
        counter: fc.integer({ min: 0, max: 2 }),
        device: fc.constantFrom('a', 'till-1', 'till-10', 'till-3f9a12bc', 'Z_-'),
      })
      .map(encodeVersion);
    const versions = [...new Set(fc.sample(versionArb, { numRuns: 120, seed: 18 }))];
    const raw = store.engine.collection(ENGINE.versions);
    // Each version twice: as an older engine wrote it (a string), and as this one writes it (packed).
    await raw.insertMany(versions.map((v, i) => ({ _id: { c: 'order', id: `old-${i}` } as never, v, h: null })));
    await store.transaction((session) =>
      store.putKnown(
        versions.map((v, i) => ({ c: 'order', id: `new-${i}`, known: { v, h: null } })),
        session,
      ),
    );
    const all = await store.knownIn('order');
    versions.forEach((v, i) => {
      assert.equal(all.get(idKey(`old-${i}`))?.v, v, 'an old record reads as it was');
      assert.equal(all.get(idKey(`new-${i}`))?.v, v, 'a packed one reads back exactly');
    });
    const matched = async (filter: Document): Promise<string[]> =>
      (await raw.find({ '_id.c': 'order', ...filter }).toArray()).map((r) => (r._id as unknown as { id: string }).id).sort();
    const expect = (keep: (v: string) => boolean): string[] => versions.flatMap((v, i) => (keep(v) ? [`old-${i}`, `new-${i}`] : [])).sort();
    for (const probe of fc.sample(versionArb, { numRuns: 25, seed: 7 })) {
      assert.deepEqual(
        await matched(olderThan(probe)),
        expect((v) => compareVersions(decodeVersion(v), decodeVersion(probe)) < 0),
        probe,
      );
    }
    for (let wall = NOW - 4; wall <= NOW + 4; wall += 1) {
      assert.deepEqual(
        await matched(madeBefore(wall)),
        expect((v) => decodeVersion(v).wall < wall),
        `before ${wall}`,
      );
    }
  });
});

describe('a till whose version records an older engine wrote', () => {
  let topology: Topology;
  let till: Till;

  before(async () => {
    topology = await startTopology({ tills: 1 });
    [till] = topology.tills as [Till];
  });
  after(async () => {
    await topology?.stop();
  });

  it('keeps syncing both ways, and its records move to the packed form as they change', async () => {
    const menu = till.db.collection<Document>('menu');
    const hubMenu = topology.hubDb.collection<Document>('menu');
    await menu.insertMany([
      { _id: 'm-1' as never, price: 4 },
      { _id: 'm-2' as never, price: 7 },
    ]);
    await waitFor('both on the hub', async () => (await hubMenu.countDocuments()) === 2);
    await waitFor('the push settled', () => till.engine?.status().outbox.depth === 0);
    await till.stopEngine();
    // Rewritten as an older engine wrote them: the version and the hash as strings.
    const store = new TillStore(till.client, 'pos', 'tillsync');
    const versions = store.engine.collection(ENGINE.versions);
    const known = await store.known('menu', ['m-1', 'm-2']);
    for (const [id, k] of [
      ['m-1', known.get(idKey('m-1'))],
      ['m-2', known.get(idKey('m-2'))],
    ] as const) {
      assert.ok(k);
      await versions.updateOne({ _id: { c: 'menu', id } as never }, { $set: { v: k.v, h: k.h }, $unset: { d: '' } });
    }
    await menu.updateOne({ _id: 'm-1' as never }, { $set: { price: 5 } });

    await till.startEngine(); // reconciles against the old records first
    await waitFor('the till edit on the hub', async () => (await hubMenu.findOne({ _id: 'm-1' as never }))?.price === 5);
    await hubMenu.updateOne({ _id: 'm-2' as never }, { $set: { price: 8 } });
    await waitFor('the hub edit on the till', async () => (await menu.findOne({ _id: 'm-2' as never }))?.price === 8);
    await waitFor('the push settled', () => till.engine?.status().outbox.depth === 0);
    assert.equal((await till.engine?.listConflicts({ collection: 'menu' }))?.total, 0, 'no conflict from the old form');
    for (const id of ['m-1', 'm-2']) {
      const record = await versions.findOne({ _id: { c: 'menu', id } as never });
      assert.equal(typeof record?.v, 'object', `${id} packed once it changed`);
      assert.ok(record?.h instanceof Binary, `${id}'s hash as bytes`);
    }
  });
});
