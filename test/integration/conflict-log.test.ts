/**
 * The conflict log on a real till database: it stores each conflict compactly
 * (the winning version as its difference from the losing one) and every read
 * gives back the whole record, BSON types and ids of any type included. A till
 * that upgrades keeps the conflicts its older engine wrote whole: they list,
 * filter, open, are marked re-applied and age out beside the new ones.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { calculateObjectSize } from 'bson';
import { Int32, Long, ObjectId, type Document, type MongoClient } from 'mongodb';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { ENGINE } from '../../src-main/sync/core/names.ts';
import type { ConflictDraft, DocumentId } from '../../src-main/sync/core/types.ts';
import { TillHistory } from '../../src-main/sync/till/retention.ts';
import { TillStore } from '../../src-main/sync/till/store.ts';
import { withReplSet } from '../conformance/helpers.ts';

const DAY = 86_400_000;

function order(id: DocumentId, status: string): Document {
  return {
    _id: id,
    table: new Int32(12),
    total: Long.fromString('9007199254740993'),
    lines: [
      { sku: 'burger', qty: new Int32(2), extras: ['cheese', 'bacon'] },
      { sku: 'fries', qty: new Int32(1), extras: [] },
    ],
    status,
  };
}

function draft(documentId: DocumentId, winner: 'local' | 'hub', local: Document | null, hub: Document | null): ConflictDraft {
  return {
    collection: 'orders',
    documentId,
    winner,
    rule: 'newer-version',
    local: { version: encodeVersion({ wall: 1_000, counter: 0, device: 'till-a' }), origin: 'till-a', document: local },
    hub: { version: encodeVersion({ wall: 2_000, counter: 0, device: 'till-b' }), origin: 'hub', document: hub },
  };
}

describe('the conflict log', () => {
  let client: MongoClient;
  withReplSet((_rs, c) => (client = c));

  /** A till store of its own (its own databases). */
  async function tillStore(name: string): Promise<TillStore> {
    const store = new TillStore(client, `${name}_pos`, `${name}_engine`);
    await store.init();
    return store;
  }

  it('keeps each conflict in less room and reads it back whole, whatever its ids and values', async () => {
    const store = await tillStore('cl_kept');
    const id = new ObjectId();
    const changed = { ...order(id, 'kitchen'), lines: [...(order(id, '').lines as Document[]), { sku: 'cola', qty: new Int32(1) }] };
    const { status: _gone, ...withoutStatus } = order(new Int32(8), 'open');
    const drafts = [
      draft(id, 'hub', order(id, 'open'), changed),
      draft(new Int32(8), 'local', withoutStatus, order(new Int32(8), 'open')),
      draft('deleted-here', 'hub', null, order('deleted-here', 'paid')),
      { ...draft('deleted-on-the-hub', 'local', order('deleted-on-the-hub', 'paid'), null), fields: ['status'] },
    ];
    const recorded = await store.conflicts.record(drafts);
    for (const r of recorded) assert.deepEqual(await store.conflicts.get(r._id.toHexString()), r);

    for (const r of recorded) {
      const stored = await store.engine.collection(ENGINE.conflicts).findOne({ _id: r._id });
      assert.ok(stored && calculateObjectSize(stored) < calculateObjectSize(r), `${String(r.documentId)}: stored in less room`);
    }
    const page = await store.conflicts.list({ collection: 'orders', pageSize: 10 });
    assert.equal(page.total, 4);
    assert.deepEqual(
      page.items.map((r) => r.hub.document?.lines),
      recorded.map((r) => r.hub.document?.lines).reverse(),
      'newest first, every nested value as it was',
    );
  });

  it('a till that upgrades reads the conflicts its older engine kept whole, beside the new ones', async () => {
    const upgraded = await tillStore('cl_upgraded');
    const now = Date.now();
    const older = [
      {
        _id: new ObjectId(),
        at: new Date(now - 100 * DAY),
        reappliedAt: null,
        ...draft('o-1', 'hub', order('o-1', 'open'), order('o-1', 'paid')),
      },
      {
        _id: new ObjectId(),
        at: new Date(now - 2 * DAY),
        reappliedAt: null,
        ...draft(new Int32(2), 'local', order(new Int32(2), 'open'), null),
      },
    ];
    // Exactly as the engine before the compact form wrote them.
    await upgraded.engine.collection(ENGINE.conflicts).insertMany(older.map((r) => ({ ...r })));
    const [newer] = await upgraded.conflicts.record(
      [draft('o-3', 'hub', order('o-3', 'open'), order('o-3', 'kitchen'))],
      undefined,
      new Date(now - DAY),
    );
    assert.ok(newer);

    const page = await upgraded.conflicts.list({ collection: 'orders' });
    assert.deepEqual(page.items, [newer, older[1], older[0]], 'one list, newest first, both forms whole');
    assert.deepEqual(await upgraded.conflicts.get(String(older[1]?._id)), older[1]);

    const reappliedAt = new Date(now);
    await upgraded.conflicts.markReapplied(older[1]?._id as ObjectId, reappliedAt);
    await upgraded.conflicts.markReapplied(newer._id, reappliedAt);
    assert.deepEqual(await upgraded.conflicts.get(String(older[1]?._id)), { ...older[1], reappliedAt });
    assert.deepEqual(await upgraded.conflicts.get(String(newer._id)), { ...newer, reappliedAt });

    const history = new TillHistory(upgraded, { conflictRetentionDays: 90, conflictRetentionEntries: 10_000, tombstoneRetentionDays: 30 });
    await history.init();
    assert.equal((await history.prune(now)).conflicts, 1, 'the older form ages out like the new');
    assert.deepEqual(await history.reach(), { conflictsSince: now - 2 * DAY, olderConflicts: 1 });
  });
});
