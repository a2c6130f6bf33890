/**
 * CRUD as MongoDB 7.0 answers it, beyond the basics: `let` variables,
 * collation, $out and $merge, views, collection validators, what an update
 * statement may carry, and database-level aggregation sources.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, type Document, type MongoClient } from 'mongodb';
import { captureError, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

const CASE_INSENSITIVE = { locale: 'en', strength: 2 } as const;

describe('CRUD options and stages', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  it('let variables reach $expr filters, pipelines and pipeline updates', async () => {
    const coll = client.db(uniqueDbName('let')).collection<Doc>('menu');
    await coll.insertMany([
      { _id: 1, dish: 'soup', price: 4 },
      { _id: 2, dish: 'cake', price: 6 },
    ]);
    const cheap = await coll.find({ $expr: { $lt: ['$price', '$$limit'] } }, { let: { limit: 5 } }).toArray();
    assert.deepEqual(cheap, [{ _id: 1, dish: 'soup', price: 4 }]);
    const labelled = await coll
      .aggregate([{ $project: { _id: 1, label: { $concat: ['$dish', '$$suffix'] } } }], { let: { suffix: '!' } })
      .toArray();
    assert.deepEqual(labelled, [
      { _id: 1, label: 'soup!' },
      { _id: 2, label: 'cake!' },
    ]);
    await coll.updateOne({ $expr: { $eq: ['$_id', '$$id'] } }, [{ $set: { price: '$$newPrice' } }], { let: { id: 2, newPrice: 7 } });
    assert.deepEqual(await coll.findOne({ _id: 2 }), { _id: 2, dish: 'cake', price: 7 });
  });

  it('a case-insensitive collation matches, counts and deletes across case', async () => {
    const coll = client.db(uniqueDbName('collation')).collection<Doc>('staff');
    await coll.insertMany([
      { _id: 1, name: 'Ana' },
      { _id: 2, name: 'ANA' },
      { _id: 3, name: 'Bo' },
    ]);
    assert.equal(await coll.countDocuments({ name: 'ana' }), 0, 'binary comparison without a collation');
    assert.equal(await coll.countDocuments({ name: 'ana' }, { collation: CASE_INSENSITIVE }), 2);
    assert.deepEqual(await coll.distinct('name', {}, { collation: CASE_INSENSITIVE }), ['Ana', 'Bo']);
    const deleted = await coll.deleteMany({ name: 'ana' }, { collation: CASE_INSENSITIVE });
    assert.equal(deleted.deletedCount, 2);
  });

  it('$out replaces the target collection with the results, keeping its indexes', async () => {
    const db = client.db(uniqueDbName('out'));
    await db.collection<Doc>('orders').insertMany([
      { _id: 1, till: 'a', total: 5 },
      { _id: 2, till: 'b', total: 7 },
      { _id: 3, till: 'a', total: 2 },
    ]);
    await db.collection<Doc>('totals').insertOne({ _id: 'stale', total: 0 });
    await db.collection('totals').createIndex({ total: 1 }, { name: 'total_1' });
    const cursor = await db
      .collection('orders')
      .aggregate([{ $group: { _id: '$till', total: { $sum: '$total' } } }, { $out: 'totals' }])
      .toArray();
    assert.deepEqual(cursor, [], 'the aggregate itself returns nothing');
    assert.deepEqual(
      await db
        .collection<Doc>('totals')
        .find({}, { sort: { _id: 1 } })
        .toArray(),
      [
        { _id: 'a', total: 7 },
        { _id: 'b', total: 7 },
      ],
    );
    const indexes = (await db.collection('totals').listIndexes().toArray()).map((i) => i.name).sort();
    assert.deepEqual(indexes, ['_id_', 'total_1']);
  });

  it('$merge inserts new documents, merges matching ones and can refuse them', async () => {
    const db = client.db(uniqueDbName('merge'));
    await db.collection<Doc>('stock').insertOne({ _id: 'flour', kg: 10, shelf: 2 });
    await db
      .aggregate([
        {
          $documents: [
            { _id: 'flour', kg: 25 },
            { _id: 'salt', kg: 1 },
          ],
        },
        { $merge: { into: 'stock' } },
      ])
      .toArray();
    assert.deepEqual(
      await db
        .collection<Doc>('stock')
        .find({}, { sort: { _id: 1 } })
        .toArray(),
      [
        { _id: 'flour', kg: 25, shelf: 2 },
        { _id: 'salt', kg: 1 },
      ],
    );
    const error = await captureError(
      () => db.aggregate([{ $documents: [{ _id: 'salt', kg: 2 }] }, { $merge: { into: 'stock', whenMatched: 'fail' } }]).toArray(),
      '$merge with whenMatched fail',
    );
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 11000);
  });

  it('a view reads through its pipeline and refuses writes', async () => {
    const db = client.db(uniqueDbName('views'));
    await db.collection<Doc>('orders').insertMany([
      { _id: 1, paid: true, total: 5 },
      { _id: 2, paid: false, total: 7 },
    ]);
    await db.createCollection('paid_orders', { viewOn: 'orders', pipeline: [{ $match: { paid: true } }, { $project: { total: 1 } }] });
    const [info] = (await db.listCollections({ name: 'paid_orders' }).toArray()) as Document[];
    assert.equal(info?.type, 'view');
    assert.deepEqual(await db.collection('paid_orders').find().toArray(), [{ _id: 1, total: 5 }]);
    assert.equal(await db.collection('paid_orders').countDocuments(), 1);
    const error = await captureError(() => db.collection<Doc>('paid_orders').insertOne({ _id: 3 }), 'an insert into a view');
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 166);
  });

  it('a validator set by collMod refuses documents that do not match; bypassDocumentValidation lets them in', async () => {
    const db = client.db(uniqueDbName('validator'));
    await db.collection<Doc>('menu').insertOne({ _id: 1, price: 4 });
    await db.command({
      collMod: 'menu',
      validator: {
        $jsonSchema: { bsonType: 'object', required: ['price'], properties: { price: { bsonType: ['int', 'double'], minimum: 0 } } },
      },
    });
    const error = await captureError(() => db.collection<Doc>('menu').insertOne({ _id: 2, price: -1 }), 'an insert the validator refuses');
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 121);
    assert.equal((error.errInfo as Document | undefined)?.failingDocumentId, 2);
    const update = await captureError(
      () => db.collection<Doc>('menu').findOneAndUpdate({ _id: 1 }, { $unset: { price: '' } }),
      'an update the validator refuses',
    );
    assert.ok(update instanceof MongoServerError);
    assert.equal(update.code, 121);
    await db.collection<Doc>('menu').insertOne({ _id: 3, price: -1 }, { bypassDocumentValidation: true });
    assert.equal(await db.collection<Doc>('menu').countDocuments(), 2);
  });

  it('an update statement with sort updates the first in that order (8.0; 7.0 refuses it); a pipeline update without _id keeps it', async () => {
    const coll = client.db(uniqueDbName('updsort')).collection<Doc>('c');
    await coll.insertMany([
      { _id: 1, a: 2 },
      { _id: 2, a: 1 },
    ]);
    const build = await client.db('admin').command({ buildInfo: 1 });
    const command = { update: 'c', updates: [{ q: {}, u: { $set: { picked: true } }, sort: { a: 1 } }] };
    if ((build.versionArray as number[])[0]! >= 8) {
      const reply = await coll.db.command(command);
      assert.equal(reply.nModified, 1);
      assert.deepEqual(await coll.find({ picked: true }).toArray(), [{ _id: 2, a: 1, picked: true }]);
    } else {
      const error = await captureError(() => coll.db.command(command), 'an update statement with sort');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 40415);
    }
    await coll.updateOne({ _id: 1 }, [{ $replaceRoot: { newRoot: { b: 2 } } }]);
    assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, b: 2 });
  });

  it('a database aggregate can start from $listLocalSessions', async () => {
    const session = client.startSession();
    try {
      await client.db('admin').command({ ping: 1 }, { session });
      const rows = await client
        .db('admin')
        .aggregate([{ $listLocalSessions: {} }, { $limit: 1 }, { $project: { _id: 0, seen: { $literal: true } } }])
        .toArray();
      assert.deepEqual(rows, [{ seen: true }]);
    } finally {
      await session.endSession();
    }
  });
});
