/**
 * A till's history stays bounded: conflicts older than the retention, or
 * beyond the count, leave only a count per collection and day (the dashboard
 * says how far back the history goes and how many older ones there were);
 * changes set aside stay until handled; a delete trace is forgotten once the
 * delete is two tombstone retentions old — and then a record created again
 * with that id, months later, syncs like any new one instead of being refused
 * as a stale change to a deleted record.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Document, MongoClient } from 'mongodb';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import type { ConflictDraft } from '../../src-main/sync/core/types.ts';
import { TillHistory, type RetentionRules } from '../../src-main/sync/till/retention.ts';
import { TillStore } from '../../src-main/sync/till/store.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

const DAY = 86_400_000;
const RULES: RetentionRules = { conflictRetentionDays: 90, conflictRetentionEntries: 10_000, tombstoneRetentionDays: 30 };

function draft(collection: string, n: number): ConflictDraft {
  return {
    collection,
    documentId: `${collection}-${n}`,
    winner: 'hub',
    rule: 'newer-version',
    local: { version: encodeVersion({ wall: 1, counter: 0, device: 'till-a' }), origin: 'till-a', document: { n, price: 4 } },
    hub: { version: encodeVersion({ wall: 2, counter: 0, device: 'hub' }), origin: 'hub', document: { n, price: 5 } },
  };
}

describe('retention on the till', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let round = 0;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
  });
  after(async () => {
    await client?.close();
    await rs?.stop();
  });

  /** A till store of its own for each test (its own engine database). */
  async function freshStore(): Promise<TillStore> {
    round += 1;
    const store = new TillStore(client, `ret_pos_${round}`, `ret_engine_${round}`);
    await store.init();
    return store;
  }

  it('keeps conflicts for the retention days; older ones are counted per collection and day', async () => {
    const store = await freshStore();
    const now = Date.now();
    const history = new TillHistory(store, RULES, { batch: 7 });
    await history.init();
    const old = new Date(now - 120 * DAY);
    const older = new Date(now - 200 * DAY);
    await store.conflicts.record(
      Array.from({ length: 12 }, (_, i) => draft('orders', i)),
      undefined,
      old,
    );
    await store.conflicts.record([draft('menu', 1), draft('menu', 2)], undefined, old);
    await store.conflicts.record([draft('orders', 99)], undefined, older);
    const recent = await store.conflicts.record([draft('orders', 100), draft('menu', 3)], undefined, new Date(now - 10 * DAY));
    await store.quarantine.record([
      { collection: 'menu', documentId: 'bad', side: 'hub', reason: 'its sync version cannot be read', change: null },
    ]);

    const pruned = await history.prune(now);
    assert.deepEqual(pruned, { conflicts: 15, deleteTraces: 0 });
    const page = await store.conflicts.list({ pageSize: 50 });
    assert.equal(page.total, 2, 'the two conflicts within 90 days stay, whole');
    assert.deepEqual(page.items.map((c) => String(c._id)).sort(), recent.map((c) => String(c._id)).sort());
    const kept = page.items.find((c) => c.collection === 'orders');
    assert.equal(
      JSON.stringify([kept?.local.document, kept?.hub.document]),
      '[{"n":100,"price":4},{"n":100,"price":5}]',
      'both versions kept',
    );
    assert.deepEqual(
      (await history.olderCounts()).map((c) => ({ ...c._id, n: c.n })),
      [
        { c: 'menu', d: old.toISOString().slice(0, 10), n: 2 },
        { c: 'orders', d: old.toISOString().slice(0, 10), n: 12 },
        { c: 'orders', d: older.toISOString().slice(0, 10), n: 1 },
      ],
    );
    assert.deepEqual(await history.reach(), { conflictsSince: now - 10 * DAY, olderConflicts: 15 });
    assert.equal(await store.quarantine.count(), 1, 'a change set aside stays until someone handles it');
    assert.deepEqual(await history.prune(now), { conflicts: 0, deleteTraces: 0 }, 'a second round finds nothing to do');
  });

  it('keeps at most the newest entries of a busy log', async () => {
    const store = await freshStore();
    const now = Date.now();
    const history = new TillHistory(store, { ...RULES, conflictRetentionEntries: 100 }, { batch: 40 });
    await history.init();
    for (let i = 0; i < 250; i += 1) await store.conflicts.record([draft('orders', i)], undefined, new Date(now - (250 - i) * 60_000));
    assert.equal((await history.prune(now)).conflicts, 150);
    const page = await store.conflicts.list({ pageSize: 200 });
    assert.equal(page.total, 100);
    assert.deepEqual(
      page.items.map((c) => c.documentId).sort(),
      Array.from({ length: 100 }, (_, i) => `orders-${i + 150}`).sort(),
      'the newest 100 stay',
    );
    assert.equal((await history.reach()).olderConflicts, 150);
  });

  it('forgets a delete trace two tombstone retentions old, and nothing the till still needs', async () => {
    const store = await freshStore();
    const now = Date.now();
    const history = new TillHistory(store, RULES);
    await history.init();
    const v = (daysAgo: number): string => encodeVersion({ wall: now - daysAgo * DAY, counter: 0, device: 'till-a' });
    const c = 'tables';
    await store.posCollection(c).insertMany([{ _id: 'live' }, { _id: 'back-again' }] as never[]);
    await store.transaction(async (session) => {
      await store.putKnown(
        [
          { c, id: 'long-gone', known: { v: v(61), h: null } },
          { c, id: 'recently-gone', known: { v: v(59), h: null } },
          { c, id: 'live', known: { v: v(400), h: 'hash-of-live' } },
          { c, id: 'back-again', known: { v: v(100), h: null } },
          { c, id: 'delete-waiting', known: { v: v(100), h: null } },
        ],
        session,
      );
      await store.outbox.append(
        [{ _id: 1, c, id: 'delete-waiting', op: 'delete', v: v(100), at: new Date(), wall: new Date(now - 100 * DAY), base: v(120) }],
        session,
      );
    });
    assert.equal((await history.prune(now)).deleteTraces, 1);
    const known = await store.known(c, ['long-gone', 'recently-gone', 'live', 'back-again', 'delete-waiting']);
    assert.deepEqual([...known.keys()].sort(), ['sback-again', 'sdelete-waiting', 'slive', 'srecently-gone']);
  });
});

describe('retention in the engine', () => {
  let topology: Topology;
  let till: Till;

  before(async () => {
    topology = await startTopology({
      tills: 1,
      engine: { housekeepingIntervalMs: 1_000, conflictRetentionEntries: 100, tombstoneRetentionDays: 30 },
    });
    [till] = topology.tills as [Till];
  });
  after(async () => {
    await topology?.stop();
  });

  it('says how far back the conflict history goes, and how many older conflicts it only counts', async () => {
    const engine = till.engine;
    assert.ok(engine);
    const store = new TillStore(till.client, 'pos', 'tillsync');
    const start = Date.now() - DAY;
    for (let i = 0; i < 130; i += 1) await store.conflicts.record([draft('orders', i)], undefined, new Date(start + i * 1000));
    const s = await waitFor('the history in the status', () => {
      const st = engine.status();
      return st.history?.olderConflicts === 30 && st.conflicts.count === 100 ? st : undefined;
    });
    assert.deepEqual(s.history, { conflictsSince: start + 30_000, olderConflicts: 30, keepDays: 90, keepEntries: 100 });
  });

  it('a record created again, with the id of one deleted two retentions ago, syncs like a new one', async () => {
    const engine = till.engine;
    assert.ok(engine);
    const tables = till.db.collection<Document>('tables');
    await tables.insertOne({ _id: 'table-5' as never, seats: 4 });
    await waitFor(
      'table 5 on the hub',
      async () => (await topology.hubDb.collection('tables').countDocuments({ _id: 'table-5' as never })) === 1,
    );
    await tables.deleteOne({ _id: 'table-5' as never });
    const tombstones = topology.hubDb.collection('_tillsync_tombstones');
    await waitFor('its delete on the hub', async () => (await tombstones.countDocuments()) === 1);
    await waitFor('the delete settled', () => engine.status().outbox.depth === 0);
    // Two retentions pass: the hub forgets the delete (its tombstone is pruned), and this till's trace of it ages.
    await tombstones.deleteMany({});
    const versions = till.client.db('tillsync').collection('versions');
    const old = encodeVersion({ wall: Date.now() - 61 * DAY, counter: 0, device: till.name });
    assert.equal(
      (await versions.updateOne({ _id: { c: 'tables', id: 'table-5' } as never, h: null }, { $set: { v: old } })).modifiedCount,
      1,
    );
    await waitFor('housekeeping to forget the trace', async () => (await versions.countDocuments({ '_id.c': 'tables' })) === 0);

    await tables.insertOne({ _id: 'table-5' as never, seats: 6 });
    await waitFor(
      'the new table 5 on the hub',
      async () => (await topology.hubDb.collection('tables').findOne({ _id: 'table-5' as never }))?.seats === 6,
    );
    await waitFor('the push settled', () => engine.status().outbox.depth === 0);
    assert.deepEqual(await tables.findOne({ _id: 'table-5' as never }), { _id: 'table-5', seats: 6 }, 'kept on the till');
    const refused = await engine.listConflicts({ collection: 'tables' });
    assert.equal(refused.total, 0, 'not refused as a stale change to a deleted record');
  });
});
