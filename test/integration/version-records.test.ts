/**
 * The till's version records only move forward. Reconciliation writes the
 * versions both sides agree on outside any transaction, so capture may have
 * moved a record past it meanwhile; that write then finds a newer record and
 * must leave it be. (The engine reads raw BSON, so the server's duplicate-key
 * code arrives as a BSON Int32, not a number: a plain `code !== 11000` test
 * rethrew it, and every comparison of that till failed again and again.)
 * A content hash is stored as its bytes; records an older engine wrote with
 * the hash as a string read as they were.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { TillStore } from '../../src-main/sync/till/store.ts';
import { contentHash, idKey } from '../../src-main/sync/documents.ts';
import { ENGINE } from '../../src-main/sync/core/names.ts';

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
});
