/**
 * Write-concern errors: the write runs (or the transaction commits), then the
 * reply reports that the write concern was not satisfied — the "ambiguous"
 * outcome a sync engine must survive. The server labels the reply itself
 * (RetryableWriteError where the write-concern code is retriable and the
 * command is a retryable write or a commit); a fail point's `errorLabels`
 * replace the server's labels.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoWriteConcernError, type CommandSucceededEvent, type Document, type MongoClient } from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, failCommand, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

/** The reply document of a command-succeeded event. */
const replyOf = (event: CommandSucceededEvent | undefined): Document | undefined => event?.reply as Document | undefined;

describe('write-concern errors', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  it('a non-retriable write-concern error: the insert ran, the driver reports the error, no label, no retry', async () => {
    const monitored = await rs.connect({ monitorCommands: true });
    const log = new CommandLog(monitored);
    const coll = monitored.db(uniqueDbName('wcefail')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['insert'],
        writeConcernError: { code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes' },
      },
    );
    try {
      log.clear();
      const error = await captureError(() => coll.insertOne({ _id: 'ambiguous', total: 12 }), 'an insert with a write-concern error');
      assert.ok(error instanceof MongoWriteConcernError, `a MongoWriteConcernError, got ${String(error)}`);
      assert.equal(error.code, 100);
      assert.equal(error.hasErrorLabel('RetryableWriteError'), false, 'UnsatisfiableWriteConcern is not retriable');
      assert.equal(log.startedNamed('insert').length, 1, 'not retried');
      const reply = replyOf(log.succeededNamed('insert')[0]);
      assert.equal(reply?.ok, 1, 'the command itself succeeded');
      assert.equal(reply?.n, 1, 'and reports the document it inserted');
    } finally {
      await disable();
      log.stop();
      await monitored.close();
    }
    assert.deepEqual(await client.db(coll.dbName).collection<Doc>('orders').findOne({ _id: 'ambiguous' }), { _id: 'ambiguous', total: 12 });
  });

  it('a retriable write-concern error on a retryable write gets RetryableWriteError from the server; the retry applies nothing twice', async () => {
    const monitored = await rs.connect({ monitorCommands: true, retryWrites: true });
    const log = new CommandLog(monitored);
    const coll = monitored.db(uniqueDbName('wceretry')).collection<Doc>('stock');
    await coll.insertOne({ _id: 'flour', kg: 10 });
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['update'],
        writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'Replication is being shut down' },
      },
    );
    try {
      log.clear();
      const result = await coll.updateOne({ _id: 'flour' }, { $inc: { kg: -2 } });
      assert.equal(result.matchedCount, 1);
      const updates = log.startedNamed('update');
      assert.equal(updates.length, 2, 'the driver retried once');
      assert.equal(String(updates[0]?.command.txnNumber), String(updates[1]?.command.txnNumber), 'with the same txnNumber');
      const first = replyOf(log.succeededNamed('update')[0]);
      assert.equal(first?.writeConcernError?.code, 91);
      assert.deepEqual(first?.errorLabels, ['RetryableWriteError'], 'the server labelled the first reply');
    } finally {
      await disable();
      log.stop();
      await monitored.close();
    }
    assert.deepEqual(
      await client.db(coll.dbName).collection<Doc>('stock').findOne({ _id: 'flour' }),
      { _id: 'flour', kg: 8 },
      'applied once',
    );
  });

  it("a fail point's errorLabels replace the server's: no RetryableWriteError, so no retry", async () => {
    const monitored = await rs.connect({ monitorCommands: true, retryWrites: true });
    const log = new CommandLog(monitored);
    const coll = monitored.db(uniqueDbName('wcelabels')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['insert'],
        errorLabels: ['TillLabel'],
        writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'Replication is being shut down' },
      },
    );
    try {
      log.clear();
      const error = await captureError(() => coll.insertOne({ _id: 'once' }), 'an insert with a labelled write-concern error');
      assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
      assert.equal(error.code, 91);
      assert.ok(error.hasErrorLabel('TillLabel'));
      assert.equal(error.hasErrorLabel('RetryableWriteError'), false);
      assert.equal(log.startedNamed('insert').length, 1, 'not retried');
    } finally {
      await disable();
      log.stop();
      await monitored.close();
    }
    assert.equal(await client.db(coll.dbName).collection<Doc>('orders').countDocuments({ _id: 'once' }), 1, 'the insert ran');
  });

  it('without retryable writes the server adds no RetryableWriteError; the write still ran', async () => {
    const noRetry = await rs.connect({ retryWrites: false });
    const coll = noRetry.db(uniqueDbName('wcenoretry')).collection<Doc>('orders');
    await coll.insertOne({ _id: 'warm-up' });
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['insert'],
        writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'Replication is being shut down' },
      },
    );
    try {
      const error = await captureError(() => coll.insertOne({ _id: 'plain' }), 'an insert without retryable writes');
      assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
      assert.equal(error.hasErrorLabel('RetryableWriteError'), false);
    } finally {
      await disable();
      await noRetry.close();
    }
    assert.equal(await client.db(coll.dbName).collection<Doc>('orders').countDocuments({ _id: 'plain' }), 1);
  });

  it('a commit with a retriable write-concern error has committed; the retried commit succeeds and nothing is applied twice', async () => {
    const monitored = await rs.connect({ monitorCommands: true });
    const log = new CommandLog(monitored);
    const db = monitored.db(uniqueDbName('wcecommit'));
    await db.createCollection('orders');
    const session = monitored.startSession();
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['commitTransaction'],
        writeConcernError: { code: 91, codeName: 'ShutdownInProgress', errmsg: 'Replication is being shut down' },
      },
    );
    try {
      log.clear();
      session.startTransaction();
      await db.collection<Doc>('orders').insertOne({ _id: 'in-txn', total: 5 }, { session });
      await session.commitTransaction();
      const commits = log.succeededNamed('commitTransaction');
      assert.equal(commits.length, 2, 'the driver retried the commit once');
      assert.equal(replyOf(commits[0])?.writeConcernError?.code, 91);
      assert.deepEqual(replyOf(commits[0])?.errorLabels, ['RetryableWriteError']);
      assert.equal(replyOf(commits[1])?.writeConcernError, undefined, 'the retried commit is clean');
    } finally {
      await disable();
      await session.endSession();
      log.stop();
      await monitored.close();
    }
    assert.equal(await client.db(db.databaseName).collection('orders').countDocuments(), 1);
  });

  it('a commit with a non-retriable write-concern error is reported as such, yet the transaction committed', async () => {
    const db = client.db(uniqueDbName('wcecommit64'));
    await db.createCollection('orders');
    const session = client.startSession();
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['commitTransaction'],
        writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out' },
      },
    );
    try {
      session.startTransaction();
      await db.collection<Doc>('orders').insertOne({ _id: 'committed-anyway' }, { session });
      const error = await captureError(() => session.commitTransaction(), 'a commit whose write concern timed out');
      assert.ok(error instanceof MongoWriteConcernError, `got ${String(error)}`);
      assert.equal(error.code, 64);
      assert.ok(error.hasErrorLabel('UnknownTransactionCommitResult'), 'the driver says the outcome is unknown');
      assert.equal(error.hasErrorLabel('TransientTransactionError'), false, 'and not that it may run the transaction again');
    } finally {
      await disable();
      await session.endSession();
    }
    assert.equal(await db.collection<Doc>('orders').countDocuments({ _id: 'committed-anyway' }), 1, 'the transaction committed');
  });
});
