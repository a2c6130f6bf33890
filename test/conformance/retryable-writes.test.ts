/**
 * Retryable writes through the `onPrimaryTransactionalWrite` fail point: the
 * write is applied and the connection closes before the reply (the reply is
 * lost), so the driver sends it again with the same txnNumber — and the server
 * answers from its record instead of applying it twice. With
 * `failBeforeCommitExceptionCode` the write fails before it commits and is
 * not reflected.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Document, MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, dropTestDatabases, uniqueDbName, type Doc, type FailPointMode } from './helpers.ts';

async function onPrimaryTransactionalWrite(client: MongoClient, mode: FailPointMode, data: Document = {}): Promise<() => Promise<void>> {
  await client.db('admin').command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode, data });
  return async () => {
    await client.db('admin').command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode: 'off' });
  };
}

describe('retryable writes whose reply is lost', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let monitored: MongoClient;
  let log: CommandLog;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
    monitored = await rs.connect({ monitorCommands: true, retryWrites: true });
    log = new CommandLog(monitored);
  });

  after(async () => {
    log?.stop();
    await monitored?.close();
    if (client) {
      await client
        .db('admin')
        .command({ configureFailPoint: 'onPrimaryTransactionalWrite', mode: 'off' })
        .catch(() => undefined);
      await dropTestDatabases(client);
      await client.close();
    }
    if (rs) await rs.stop();
  });

  it('insertOne: applied, reply lost, retried with the same txnNumber, inserted once', async () => {
    const coll = monitored.db(uniqueDbName('rwinsert')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    const disable = await onPrimaryTransactionalWrite(client, { times: 1 });
    try {
      log.clear();
      const result = await coll.insertOne({ _id: 'order-1', total: 9.5 });
      assert.equal(result.insertedId, 'order-1', 'the retry reports success, not a duplicate key');
    } finally {
      await disable();
    }
    const inserts = log.startedNamed('insert');
    assert.equal(inserts.length, 2, 'sent twice');
    assert.equal(String(inserts[0]?.command.txnNumber), String(inserts[1]?.command.txnNumber));
    assert.equal(log.succeededNamed('insert').length, 1, 'the first reply never arrived');
    assert.deepEqual(await coll.find({ _id: 'order-1' }).toArray(), [{ _id: 'order-1', total: 9.5 }]);
  });

  it('findOneAndUpdate with $inc: the retry returns the first result and increments once', async () => {
    const coll = monitored.db(uniqueDbName('rwfam')).collection<Doc>('stock');
    await coll.insertOne({ _id: 'flour', kg: 10 });
    const disable = await onPrimaryTransactionalWrite(client, { times: 1 });
    let before: Document | null;
    try {
      before = await coll.findOneAndUpdate({ _id: 'flour' }, { $inc: { kg: -3 } }, { returnDocument: 'before' });
    } finally {
      await disable();
    }
    assert.deepEqual(before, { _id: 'flour', kg: 10 }, 'the document as it was before the one update');
    assert.deepEqual(await coll.findOne({ _id: 'flour' }), { _id: 'flour', kg: 7 });
  });

  it('insertMany, ordered: a lost reply after the first write still leaves every document once', async () => {
    const coll = monitored.db(uniqueDbName('rwmany')).collection<Doc>('lines');
    await coll.insertOne({ _id: 0 });
    const disable = await onPrimaryTransactionalWrite(client, { times: 1 });
    try {
      await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
    } finally {
      await disable();
    }
    assert.deepEqual(await coll.find({}, { sort: { _id: 1 } }).toArray(), [{ _id: 0 }, { _id: 1 }, { _id: 2 }, { _id: 3 }]);
  });

  it('failBeforeCommitExceptionCode on every attempt: the write fails and is not reflected', async () => {
    const coll = monitored.db(uniqueDbName('rwfail')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    const disable = await onPrimaryTransactionalWrite(client, 'alwaysOn', { failBeforeCommitExceptionCode: 1 });
    try {
      log.clear();
      await captureError(() => coll.insertOne({ _id: 'never' }), 'an insert that fails before it commits');
      assert.equal(log.startedNamed('insert').length, 2, 'the driver tried twice');
    } finally {
      await disable();
    }
    assert.equal(await coll.countDocuments({ _id: 'never' }), 0);
  });

  it('failBeforeCommitExceptionCode without closing the connection: the statement reports that error and is not reflected', async () => {
    const coll = monitored.db(uniqueDbName('rwstmt')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    // Skip the first write: statement 0 commits, statement 1 fails, and an ordered insert stops there.
    const again = await onPrimaryTransactionalWrite(client, { skip: 1 }, { closeConnection: false, failBeforeCommitExceptionCode: 1 });
    try {
      const error = await captureError(
        () => coll.insertMany([{ _id: 'd' }, { _id: 'e' }, { _id: 'f' }]),
        'insertMany with a failing second write',
      );
      assert.equal((error as { code?: number }).code, 1, `got ${String(error)}`);
    } finally {
      await again();
    }
    assert.deepEqual(
      (await coll.find({ _id: { $in: ['d', 'e', 'f'] } }, { sort: { _id: 1 } }).toArray()).map((d) => d._id),
      ['d'],
      'the first write stands, the failed one is not reflected, and the ordered insert stopped',
    );
  });
});
