/**
 * A document one side refuses for good is set aside for that document only,
 * on the side that refused it, with the reason; the direction never stops.
 * Staff can try it again once the cause is fixed, or discard it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db, Document } from 'mongodb';
import { waitFor, withTopology, type Topology } from './topology.ts';

/** Whether this server refuses a document its collection's validator rejects (the emulator may not). */
async function enforcesValidators(db: Db): Promise<boolean> {
  const name = `probe_validator_${Date.now()}`;
  await db.createCollection(name, { validator: { $jsonSchema: { bsonType: 'object', required: ['must'] } } });
  try {
    await db.collection(name).insertOne({ other: 1 });
    return false;
  } catch {
    return true;
  } finally {
    await db.collection(name).drop();
  }
}

describe('changes one side refuses are set aside, and sync goes on', () => {
  let topology: Topology;
  withTopology({ tills: 1 }, (t) => (topology = t));

  const setAside = (kind: string) => () =>
    topology.tills[0]!.engine!.status().quarantine.latest.find((q) => q.reasonCode === kind && !q.handling);

  it("a hub change the till's unique index refuses is set aside there; later hub changes still arrive; 'try again' takes it once fixed", async () => {
    const till = topology.tills[0]!;
    const engine = till.engine!;
    await till.db.collection('sa_menu').createIndex({ sku: 1 }, { unique: true });
    const hubMenu = topology.hubDb.collection<Document>('sa_menu');
    await hubMenu.insertOne({ _id: 'soup', sku: 'S1' } as Document);
    await hubMenu.insertOne({ _id: 'stew', sku: 'S1' } as Document); // the till cannot hold both
    await hubMenu.insertOne({ _id: 'salad', sku: 'S2' } as Document);
    await waitFor('the good changes on the till', async () => (await till.db.collection('sa_menu').countDocuments()) === 2);
    const item = await waitFor('the refused change set aside', setAside('refused'));
    assert.equal(item.side, 'local', "set aside on the side that refused it: this till's database");
    assert.equal(item.collection, 'sa_menu');
    assert.equal(item.documentId, '"stew"');
    assert.match(item.reason, /same value in a field that must be unique/);
    await hubMenu.insertOne({ _id: 'bread', sku: 'S3' } as Document);
    await waitFor(
      'a later hub change on the till',
      async () => (await till.db.collection('sa_menu').findOne({ _id: 'bread' as never })) !== null,
    );
    await waitFor(
      'the till synced, the change set aside counted',
      () => engine.status().state === 'synced' && engine.status().quarantine.count === 1,
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${engine.status().state} ${JSON.stringify(engine.status().quarantine)}`);
    });

    await till.db.collection('sa_menu').dropIndex('sku_1'); // the cause, fixed
    await engine.retrySetAside(item.id!);
    await waitFor(
      'the set-aside change on the till',
      async () => (await till.db.collection('sa_menu').findOne({ _id: 'stew' as never })) !== null,
    );
    await waitFor('nothing set aside any more', () => engine.status().quarantine.count === 0).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(engine.status().quarantine)}`);
    });
  });

  it('in one batch of hub changes, the new document the till refuses is the one set aside, beside a change and another new one', async () => {
    const till = topology.tills[0]!;
    await till.db.collection('sa_batch').createIndex({ sku: 1 }, { unique: true });
    const hubMenu = topology.hubDb.collection<Document>('sa_batch');
    await till.db.collection('sa_batch').insertOne({ _id: 'tea', sku: 'T1' } as Document);
    await waitFor('the till order on the hub', async () => (await hubMenu.findOne({ _id: 'tea' as never })) !== null);
    // One hub transaction, so one pull batch: a change to a document the till has, then two new ones, the first refused.
    const session = topology.hubClient.startSession();
    try {
      await session.withTransaction(async () => {
        await hubMenu.updateOne({ _id: 'tea' as never }, { $set: { price: 2 } }, { session });
        await hubMenu.insertOne({ _id: 'coffee', sku: 'T1' } as Document, { session });
        await hubMenu.insertOne({ _id: 'juice', sku: 'J1' } as Document, { session });
      });
    } finally {
      await session.endSession();
    }
    const item = await waitFor('the refused change set aside', () =>
      topology.tills[0]!.engine!.status().quarantine.latest.find((q) => q.collection === 'sa_batch' && !q.handling),
    );
    assert.equal(item.documentId, '"coffee"', 'the document the index refused, not another of the batch');
    await waitFor('the change and the other new document on the till', async () => {
      const tea = await till.db.collection('sa_batch').findOne({ _id: 'tea' as never });
      return tea?.price === 2 && (await till.db.collection('sa_batch').findOne({ _id: 'juice' as never })) !== null;
    });
    await till.engine!.discardSetAside(item.id!);
    await waitFor('nothing set aside any more', () => till.engine!.status().quarantine.count === 0);
  });

  it("a till change the hub's unique index refuses is set aside; later till changes still go; 'discard' takes the hub's version", async () => {
    const till = topology.tills[0]!;
    const engine = till.engine!;
    await topology.hubDb.collection('sa_items').createIndex({ sku: 1 }, { unique: true });
    const items = till.db.collection<Document>('sa_items');
    await items.insertOne({ _id: 'a', sku: 'X' } as Document);
    await waitFor('the first on the hub', async () => (await topology.hubDb.collection('sa_items').countDocuments()) === 1);
    await items.insertOne({ _id: 'b', sku: 'X' } as Document); // the hub cannot hold both
    await items.insertOne({ _id: 'c', sku: 'Y' } as Document);
    await waitFor(
      'the good change on the hub',
      async () => (await topology.hubDb.collection('sa_items').findOne({ _id: 'c' as never })) !== null,
    );
    const item = await waitFor('the refused change set aside', setAside('refused'));
    assert.equal(item.side, 'hub', 'set aside for the hub, which refused it');
    assert.equal(item.documentId, '"b"');
    await waitFor('the outbox empty: nothing stuck', () => engine.status().outbox.depth === 0);
    await items.insertOne({ _id: 'd', sku: 'Z' } as Document);
    await waitFor(
      'a later till change on the hub',
      async () => (await topology.hubDb.collection('sa_items').findOne({ _id: 'd' as never })) !== null,
    );

    await engine.discardSetAside(item.id!);
    await waitFor("the till took the hub's version (the hub has no b)", async () => (await items.findOne({ _id: 'b' as never })) === null);
    await waitFor('nothing set aside any more', () => engine.status().quarantine.count === 0).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(engine.status().quarantine)}`);
    });
  });

  it('a till document too large to sync is set aside; later changes still go', async () => {
    const till = topology.tills[0]!;
    const engine = till.engine!;
    const big = till.db.collection<Document>('sa_big');
    // Under MongoDB's 16 MB, but with no room for what sync keeps beside it (the outbox entry, `_sync`).
    await big.insertOne({ _id: 'poster', image: 'x'.repeat(16 * 1024 * 1024 - 2_000) } as Document);
    await big.insertOne({ _id: 'small', note: 'fine' } as Document);
    await waitFor(
      'the small one on the hub',
      async () => (await topology.hubDb.collection('sa_big').findOne({ _id: 'small' as never })) !== null,
    );
    const item = await waitFor('the large one set aside', setAside('too-large-to-sync'));
    assert.equal(item.documentId, '"poster"');
    assert.match(item.reason, /too large to sync/);
    assert.equal(await topology.hubDb.collection('sa_big').findOne({ _id: 'poster' as never }), null);
    await waitFor('the outbox empty: nothing stuck', () => engine.status().outbox.depth === 0);
  });

  it('a hub change the till validator refuses is set aside, and one the hub validator refuses too', async (t) => {
    const till = topology.tills[0]!;
    if (!(await enforcesValidators(till.db)) || !(await enforcesValidators(topology.hubDb))) {
      t.skip('this server does not enforce collection validators (the emulator does not yet)');
      return;
    }
    const schema = { $jsonSchema: { bsonType: 'object', required: ['price'] } };
    await till.db.createCollection('sa_valid_till', { validator: schema });
    await topology.hubDb.collection('sa_valid_till').insertOne({ _id: 'no-price' } as Document);
    await topology.hubDb.collection('sa_valid_till').insertOne({ _id: 'priced', price: 3 } as Document);
    await waitFor(
      'the valid one on the till',
      async () => (await till.db.collection('sa_valid_till').findOne({ _id: 'priced' as never })) !== null,
    );
    const local = await waitFor('the invalid one set aside on the till', setAside('refused'));
    assert.equal(local.side, 'local');

    await topology.hubDb.createCollection('sa_valid_hub', { validator: schema });
    await till.db.collection('sa_valid_hub').insertOne({ _id: 'no-price' } as Document);
    await till.db.collection('sa_valid_hub').insertOne({ _id: 'priced', price: 3 } as Document);
    await waitFor(
      'the valid one on the hub',
      async () => (await topology.hubDb.collection('sa_valid_hub').findOne({ _id: 'priced' as never })) !== null,
    );
    await waitFor('the invalid one set aside for the hub', () =>
      till
        .engine!.status()
        .quarantine.latest.some((q) => q.reasonCode === 'refused' && q.side === 'hub' && q.collection === 'sa_valid_hub'),
    );
  });
});
