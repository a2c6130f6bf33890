/**
 * Outbox sequence numbers are never handed out twice. Capture's idle
 * checkpoint used to write the sequence outside the lock reconciliation's
 * enqueue takes, so a restart at the wrong moment could start from an older
 * number than the outbox held: new changes then collided with waiting ones
 * (capture failed on them for good) or, once those were pushed, reused their
 * numbers. Here the checkpoint is set back by hand, as that race left it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { withTopology, waitFor, type Topology } from './topology.ts';

describe('outbox sequence numbers', () => {
  let topology: Topology;
  withTopology({ tills: 1 }, (t) => (topology = t));

  it('are never handed out twice, even after a restart from a checkpoint behind the outbox', async () => {
    const till = topology.tills[0]!;
    const engineDb = till.client.db('tillsync');
    const items = till.db.collection<Document>('seq_items');
    await till.engine!.setEnabled(false); // changes wait in the outbox
    await items.insertMany([{ _id: 's1' }, { _id: 's2' }, { _id: 's3' }] as Document[]);
    await waitFor('three changes in the outbox', async () => (await engineDb.collection('outbox').countDocuments()) === 3);
    await till.stopEngine();
    await engineDb.collection('checkpoints').updateOne({ _id: 'capture' as never }, { $set: { seq: 1 } });

    const engine = await till.startEngine();
    await items.insertMany([{ _id: 's4' }, { _id: 's5' }] as Document[]);
    await waitFor('five changes in the outbox', async () => (await engineDb.collection('outbox').countDocuments()) === 5);
    const seqs = (await engineDb.collection('outbox').find({}).sort({ _id: 1 }).toArray()).map((e) => Number(e._id));
    assert.equal(new Set(seqs).size, 5, `distinct sequence numbers: ${seqs.join(', ')}`);
    await engine.setEnabled(true);
    await waitFor('all five on the hub', async () => (await topology.hubDb.collection('seq_items').countDocuments()) === 5);
    await waitFor('the outbox empty', async () => (await engineDb.collection('outbox').countDocuments()) === 0);
  });
});
