/**
 * Transient transaction errors: a transaction that failed with no lasting
 * effect carries TransientTransactionError, so the driver's withTransaction
 * runs it again. On commitTransaction the server gives the label to
 * WriteConflict (112), LockTimeout (24), SnapshotUnavailable (246) and
 * PreparedTransactionInProgress (267), and to NoSuchTransaction (251); not to
 * a retriable code such as ShutdownInProgress (91), which gets
 * RetryableWriteError (the commit itself is retried).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, type MongoClient } from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, failCommand, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

const TRANSIENT_ON_COMMIT = [112, 24, 246, 267, 251];

describe('transaction error labels', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  for (const code of TRANSIENT_ON_COMMIT) {
    it(`commitTransaction failing with ${code} is labelled TransientTransactionError and commits nothing`, async () => {
      const db = client.db(uniqueDbName(`commit${code}`));
      await db.createCollection('orders');
      const session = client.startSession();
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['commitTransaction'], errorCode: code });
      try {
        session.startTransaction();
        await db.collection<Doc>('orders').insertOne({ _id: 'pending' }, { session });
        const error = await captureError(() => session.commitTransaction(), `a commit failing with ${code}`);
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, code);
        assert.ok(error.hasErrorLabel('TransientTransactionError'), `labels: ${JSON.stringify(error.errorLabels)}`);
        assert.equal(error.hasErrorLabel('RetryableWriteError'), false);
      } finally {
        await disable();
        await session.endSession();
      }
      assert.equal(await db.collection('orders').countDocuments(), 0, 'the failed commit left nothing behind');
    });
  }

  it('withTransaction runs the transaction again after a WriteConflict on commit; its writes land once', async () => {
    const db = client.db(uniqueDbName('withtxn'));
    await db.createCollection('orders');
    const session = client.startSession();
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['commitTransaction'], errorCode: 112 });
    let attempts = 0;
    try {
      await session.withTransaction(async () => {
        attempts += 1;
        await db.collection<Doc>('orders').insertOne({ _id: 'once', attempt: attempts }, { session });
      });
    } finally {
      await disable();
      await session.endSession();
    }
    assert.equal(attempts, 2, 'the callback ran a second time');
    assert.deepEqual(await db.collection<Doc>('orders').find().toArray(), [{ _id: 'once', attempt: 2 }]);
  });

  it('a retriable error on commit gets RetryableWriteError, not TransientTransactionError; the driver retries the commit', async () => {
    const monitored = await rs.connect({ monitorCommands: true });
    const log = new CommandLog(monitored);
    const db = monitored.db(uniqueDbName('commit91'));
    await db.createCollection('orders');
    const session = monitored.startSession();
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['commitTransaction'], errorCode: 91 });
    try {
      session.startTransaction();
      await db.collection<Doc>('orders').insertOne({ _id: 'kept' }, { session });
      log.clear();
      await session.commitTransaction();
      const failed = log.started.filter((e) => e.commandName === 'commitTransaction');
      assert.equal(failed.length, 2, 'the commit was sent twice');
    } finally {
      await disable();
      await session.endSession();
      log.stop();
      await monitored.close();
    }
    assert.equal(await client.db(db.databaseName).collection('orders').countDocuments(), 1);
  });

  it('a statement failing with a retriable code inside a transaction is TransientTransactionError, not RetryableWriteError', async () => {
    const db = client.db(uniqueDbName('stmt6'));
    await db.createCollection('orders');
    const session = client.startSession();
    // HostUnreachable (6): retriable, and no state-change error, so the driver keeps the server selectable.
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['insert'], errorCode: 6 });
    try {
      session.startTransaction();
      const error = await captureError(
        () => db.collection<Doc>('orders').insertOne({ _id: 'x' }, { session }),
        'an insert in a transaction',
      );
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.ok(error.hasErrorLabel('TransientTransactionError'), `labels: ${JSON.stringify(error.errorLabels)}`);
      assert.equal(error.hasErrorLabel('RetryableWriteError'), false);
      await session.abortTransaction();
    } finally {
      await disable();
      await session.endSession();
    }
  });
});
