/**
 * A change event over 16 MB — an update of a large document carries both the
 * change and the document after it — cannot be sent whole. MongoDB fails a
 * stream at such an event, again at each resume; the engine's streams ask for
 * it in fragments and join them, so neither direction stops there.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { waitFor, withTopology, type Topology } from './topology.ts';

/** 9 MB: a document this large is fine, but its update's event (change + document after) is over 16 MB. */
const LARGE = 'x'.repeat(9 * 1024 * 1024);

describe('change events over 16 MB', () => {
  let topology: Topology;
  withTopology({ tills: 1 }, (t) => (topology = t));

  it('an HQ update of a large document reaches the till, and later changes follow it', async () => {
    const till = topology.tills[0]!;
    const hub = topology.hubDb.collection<Document>('le_posters');
    await hub.insertOne({ _id: 'menu-board', image: 'small' } as Document);
    await waitFor(
      'the poster on the till',
      async () => (await till.db.collection('le_posters').findOne({ _id: 'menu-board' as never })) !== null,
    );
    await hub.updateOne({ _id: 'menu-board' } as Document, { $set: { image: LARGE } });
    await hub.insertOne({ _id: 'after', note: 'later' } as Document);
    await waitFor(
      'the large update on the till',
      async () => (await till.db.collection('le_posters').findOne({ _id: 'menu-board' as never }))?.image?.length === LARGE.length,
      60_000,
    );
    await waitFor(
      'the later change on the till',
      async () => (await till.db.collection('le_posters').findOne({ _id: 'after' as never })) !== null,
    );
    assert.equal(till.engine!.status().quarantine.count, 0, 'nothing set aside');
  });

  it('a till update of a large document reaches the hub, and later changes follow it', async () => {
    const till = topology.tills[0]!;
    const local = till.db.collection<Document>('le_photos');
    await local.insertOne({ _id: 'dish', image: 'small' } as Document);
    await waitFor(
      'the photo on the hub',
      async () => (await topology.hubDb.collection('le_photos').findOne({ _id: 'dish' as never })) !== null,
    );
    await local.updateOne({ _id: 'dish' } as Document, { $set: { image: LARGE } });
    await local.insertOne({ _id: 'after', note: 'later' } as Document);
    await waitFor(
      'the large update on the hub',
      async () => (await topology.hubDb.collection('le_photos').findOne({ _id: 'dish' as never }))?.image?.length === LARGE.length,
      60_000,
    );
    await waitFor(
      'the later change on the hub',
      async () => (await topology.hubDb.collection('le_photos').findOne({ _id: 'after' as never })) !== null,
    );
    assert.equal(till.engine!.status().quarantine.count, 0, 'nothing set aside');
  });
});
