/**
 * What a transaction may run and what a single member can promise:
 * `count` is refused inside a transaction (OperationNotSupportedInTransaction);
 * `create` and `createIndexes` are allowed (since 4.4), their effect visible to
 * others once the transaction commits; a write concern no single member can
 * satisfy (`w: 10`, an unknown tag) is reported after the write ran.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, MongoWriteConcernError, type MongoClient } from 'mongodb';
import { captureError, failCommand, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

describe('transaction rules and unsatisfiable write concerns', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  async function collectionNames(dbName: string): Promise<string[]> {
    return (await client.db(dbName).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  }

  it('count inside a transaction is OperationNotSupportedInTransaction, with no TransientTransactionError', async () => {
    const db = client.db(uniqueDbName('txncount'));
    await db.collection<Doc>('orders').insertOne({ _id: 1 });
    const session = client.startSession();
    try {
      session.startTransaction();
      const error = await captureError(() => db.collection<Doc>('orders').count({ _id: 1 }, { session }), 'count in a transaction');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.codeName, 'OperationNotSupportedInTransaction');
      assert.equal(error.code, 263);
      assert.equal(error.hasErrorLabel('TransientTransactionError'), false);
      await session.abortTransaction();
    } finally {
      await session.endSession();
    }
  });

  it('create inside a transaction: others see the collection once it commits; an abort leaves none', async () => {
    const dbName = uniqueDbName('txncreate');
    await client.db(dbName).createCollection('existing');
    const session = client.startSession();
    try {
      session.startTransaction();
      await client.db(dbName).createCollection('orders', { session });
      await client.db(dbName).collection<Doc>('orders').insertOne({ _id: 'first' }, { session });
      assert.deepEqual(await collectionNames(dbName), ['existing'], 'not visible before the commit');
      await session.commitTransaction();
      assert.deepEqual(await collectionNames(dbName), ['existing', 'orders']);
      assert.equal(await client.db(dbName).collection('orders').countDocuments(), 1);

      session.startTransaction();
      await client.db(dbName).createCollection('scratch', { session });
      await session.abortTransaction();
      assert.deepEqual(await collectionNames(dbName), ['existing', 'orders'], 'an aborted create leaves nothing');
    } finally {
      await session.endSession();
    }
  });

  it('createIndexes inside a transaction on a new collection; on an existing one it is refused', async () => {
    const dbName = uniqueDbName('txnindex');
    await client.db(dbName).createCollection('existing');
    const session = client.startSession();
    try {
      session.startTransaction();
      await client.db(dbName).collection('lines').createIndex({ orderId: 1 }, { name: 'orderId_1', session });
      await session.commitTransaction();
      const names = (await client.db(dbName).collection('lines').listIndexes().toArray()).map((i) => i.name).sort();
      assert.deepEqual(names, ['_id_', 'orderId_1']);

      session.startTransaction();
      const error = await captureError(
        () => client.db(dbName).collection('existing').createIndex({ x: 1 }, { session }),
        'createIndexes on an existing collection in a transaction',
      );
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 263);
      await session.abortTransaction().catch(() => undefined);
    } finally {
      await session.endSession();
    }
  });

  it('w: 10 on a one-member set: the write runs and UnsatisfiableWriteConcern is reported', async () => {
    const coll = client.db(uniqueDbName('w10')).collection<Doc>('orders');
    const error = await captureError(() => coll.insertOne({ _id: 'w10' }, { writeConcern: { w: 10 } }), 'an insert with w: 10');
    assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
    assert.equal(error.code, 100);
    assert.equal(error.codeName, 'UnsatisfiableWriteConcern');
    assert.equal(await coll.countDocuments({ _id: 'w10' }), 1, 'the insert ran');
  });

  it('a write-concern tag the set has no mode for is UnknownReplWriteConcern', async () => {
    const db = client.db(uniqueDbName('wtag'));
    const error = await captureError(
      () => db.command({ insert: 'orders', documents: [{ _id: 'tag' }], writeConcern: { w: 'allTills' } }),
      'an insert with an unknown tag',
    );
    assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
    assert.equal(error.code, 79);
    assert.equal(await db.collection<Doc>('orders').countDocuments({ _id: 'tag' }), 1, 'the insert ran');
  });

  it('a commit with w: 10 commits and reports the write concern error, not as unknown or transient', async () => {
    const db = client.db(uniqueDbName('commitw10'));
    await db.createCollection('orders');
    const session = client.startSession();
    try {
      session.startTransaction({ writeConcern: { w: 10 } });
      await db.collection<Doc>('orders').insertOne({ _id: 1 }, { session });
      const error = await captureError(() => session.commitTransaction(), 'a commit with w: 10');
      assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
      assert.equal(error.code, 100);
      assert.equal(error.hasErrorLabel('TransientTransactionError'), false);
      assert.equal(error.hasErrorLabel('UnknownTransactionCommitResult'), false);
    } finally {
      await session.endSession();
    }
    assert.equal(await db.collection('orders').countDocuments(), 1, 'committed');
  });

  it('error 11601 is named Interrupted', async () => {
    const coll = client.db(uniqueDbName('interrupted')).collection<Doc>('orders');
    await coll.insertOne({ _id: 1 });
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['find'], errorCode: 11601 });
    try {
      const error = await captureError(() => coll.findOne({ _id: 1 }), 'an interrupted find');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.codeName, 'Interrupted');
    } finally {
      await disable();
    }
  });
});
