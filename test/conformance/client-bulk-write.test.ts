/**
 * MongoDB 8.0's bulkWrite command, as the driver's MongoClient.bulkWrite sends
 * it, in the shape the sync engine uses to push a batch to the hub: in one
 * transaction, an upsert on a marker collection, a deleteMany on tombstones and
 * inserts into a POS collection, ordered, then commit. Checked: the result and
 * the server's reply, the change events (in order, with the transaction's lsid
 * and txnNumber), a duplicate key inside the transaction (the driver's error,
 * the failed commit or the abort, nothing written), a deleteMany that deletes,
 * and a retried bulkWrite that writes once.
 *
 * The command is 8.0's: against an older mongod these tests are skipped.
 */
import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import {
  type Binary,
  MongoClientBulkWriteError,
  MongoServerError,
  type AnyClientBulkWriteModel,
  type Document,
  type MongoClient,
} from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import {
  CommandLog,
  captureError,
  failCommand,
  nextEvents,
  openStream,
  uniqueDbName,
  withReplSet,
  type Doc,
  type Stream,
} from './helpers.ts';

/** Every namespace holds documents with any _id (the tests use strings and numbers). */
type Schemas = Record<string, Doc>;

/** The batch the engine pushes: marker upsert, tombstone cleanup, then the new POS documents. */
function pushBatch(dbName: string, batch: string, docs: Doc[]): AnyClientBulkWriteModel<Doc>[] {
  return [
    {
      name: 'updateOne',
      namespace: `${dbName}.marker`,
      filter: { _id: 'till-1' },
      update: { $set: { batch } },
      upsert: true,
    },
    { name: 'deleteMany', namespace: `${dbName}.tombstones`, filter: { _id: { $in: docs.map((d) => d._id as string) } } },
    ...docs.map((document): AnyClientBulkWriteModel<Doc> => ({ name: 'insertOne', namespace: `${dbName}.pos`, document })),
  ];
}

/** A session id (`{id: UUID}`) as hex, to compare the one of a command with the one of an event. */
function lsidHex(lsid: unknown): string {
  return ((lsid as Document).id as Binary).toString('hex');
}

describe('client bulkWrite (the bulkWrite command)', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let monitored: MongoClient;
  let log: CommandLog;
  let is80 = false;

  withReplSet((r, c) => ((rs = r), (client = c)));

  before(async () => {
    const build = await client.db('admin').command({ buildInfo: 1 });
    is80 = (build.versionArray as number[])[0]! >= 8;
    monitored = await rs.connect({ monitorCommands: true });
    log = new CommandLog(monitored);
  });

  after(async () => {
    log?.stop();
    await monitored?.close();
  });

  /** Skips a test of the 8.0 command on an older server; true when it may run. */
  function needs80(t: TestContext): boolean {
    if (!is80) t.skip('bulkWrite is a MongoDB 8.0 command');
    return is80;
  }

  /** The server's reply to the last bulkWrite the monitored client sent. */
  function lastReply(): Document {
    const replies = log.succeededNamed('bulkWrite');
    const reply = replies[replies.length - 1]?.reply as Document | undefined;
    assert.ok(reply, 'a bulkWrite reply was recorded');
    return reply;
  }

  it('commits an upsert, an empty deleteMany and inserts across three collections as one transaction', async (t) => {
    if (!needs80(t)) return;
    const dbName = uniqueDbName('cbwtxn');
    const db = monitored.db(dbName);
    for (const name of ['marker', 'tombstones', 'pos']) await db.createCollection(name);
    const stream = await openStream(db.watch<Document, Document>([], { maxAwaitTimeMS: 50 }) as Stream);
    const session = monitored.startSession();
    log.clear();
    try {
      session.startTransaction();
      const result = await monitored.bulkWrite<Schemas>(
        pushBatch(dbName, 'b1', [
          { _id: 'order-1', total: 12 },
          { _id: 'order-2', total: 30 },
        ]),
        { session, ordered: true, verboseResults: true },
      );
      assert.equal(result.upsertedCount, 1);
      assert.equal(result.matchedCount, 0);
      assert.equal(result.modifiedCount, 0);
      assert.equal(result.deletedCount, 0);
      assert.equal(result.insertedCount, 2);
      assert.deepEqual(result.updateResults?.get(0), { matchedCount: 1, modifiedCount: 0, didUpsert: true, upsertedId: 'till-1' });
      assert.deepEqual(result.deleteResults?.get(1), { deletedCount: 0 });
      assert.deepEqual(result.insertResults?.get(3), { insertedId: 'order-2' });

      // Not visible outside the transaction before it commits.
      assert.equal(await client.db(dbName).collection('pos').countDocuments(), 0);
      await session.commitTransaction();
    } finally {
      await session.endSession();
    }

    const [sent] = log.startedNamed('bulkWrite');
    assert.ok(sent);
    assert.equal(sent.databaseName, 'admin');
    assert.equal(sent.command.autocommit, false);
    assert.equal(sent.command.startTransaction, true);
    assert.deepEqual(
      (sent.command.nsInfo as Document[]).map((i) => i.ns),
      [`${dbName}.marker`, `${dbName}.tombstones`, `${dbName}.pos`],
    );

    const reply = lastReply();
    const cursor = reply.cursor as Document;
    assert.equal(cursor.ns, 'admin.$cmd.bulkWrite');
    assert.equal(Number(cursor.id), 0);
    assert.deepEqual(
      { nErrors: reply.nErrors, nInserted: reply.nInserted, nMatched: reply.nMatched, nModified: reply.nModified },
      { nErrors: 0, nInserted: 2, nMatched: 0, nModified: 0 },
    );
    assert.deepEqual({ nUpserted: reply.nUpserted, nDeleted: reply.nDeleted }, { nUpserted: 1, nDeleted: 0 });
    const batch = (cursor.firstBatch as Document[]).map((r) => ({ ...r, ok: Number(r.ok) }));
    assert.deepEqual(batch, [
      { ok: 1, idx: 0, n: 1, nModified: 0, upserted: { _id: 'till-1' } },
      { ok: 1, idx: 1, n: 0 },
      { ok: 1, idx: 2, n: 1 },
      { ok: 1, idx: 3, n: 1 },
    ]);

    const events = await nextEvents(stream, 3);
    await stream.close();
    assert.deepEqual(
      events.map((e) => [e.operationType, (e.ns as Document).coll, (e.documentKey as Document)._id]),
      [
        ['insert', 'marker', 'till-1'],
        ['insert', 'pos', 'order-1'],
        ['insert', 'pos', 'order-2'],
      ],
    );
    const first = events[0] as Document;
    assert.ok(first.lsid && first.txnNumber !== undefined, 'events of a transaction carry its lsid and txnNumber');
    assert.equal(Number(first.txnNumber), Number(sent.command.txnNumber));
    assert.equal(lsidHex(first.lsid), lsidHex(sent.command.lsid));
    for (const e of events) {
      assert.equal(Number(e.txnNumber), Number(first.txnNumber));
      assert.equal(lsidHex(e.lsid), lsidHex(first.lsid));
      assert.equal(String(e.clusterTime), String(first.clusterTime), 'one commit, one cluster time');
    }
    assert.deepEqual(await client.db(dbName).collection('marker').find().toArray(), [{ _id: 'till-1', batch: 'b1' }]);
    assert.equal(await client.db(dbName).collection('pos').countDocuments(), 2);
  });

  for (const ending of ['commit', 'abort'] as const) {
    it(`a duplicate key inside the transaction fails the bulkWrite; ${ending} then leaves nothing written`, async (t) => {
      if (!needs80(t)) return;
      const dbName = uniqueDbName(`cbwdup${ending}`);
      const db = monitored.db(dbName);
      for (const name of ['marker', 'tombstones']) await db.createCollection(name);
      await db.collection<Doc>('pos').insertOne({ _id: 'order-2', total: 1 });
      const session = monitored.startSession();
      log.clear();
      try {
        session.startTransaction();
        const error = await captureError(
          () =>
            monitored.bulkWrite<Schemas>(
              pushBatch(dbName, 'b2', [
                { _id: 'order-1', total: 12 },
                { _id: 'order-2', total: 30 },
                { _id: 'order-3', total: 7 },
              ]),
              { session, ordered: true },
            ),
          'a bulkWrite inserting a duplicate key',
        );
        assert.ok(error instanceof MongoClientBulkWriteError, `got ${String(error)}`);
        assert.deepEqual([...error.writeErrors.keys()], [3]);
        assert.equal(error.writeErrors.get(3)?.code, 11000);
        assert.equal(error.partialResult?.insertedCount, 1);
        assert.equal(error.partialResult?.upsertedCount, 1);

        const reply = lastReply();
        assert.equal(reply.ok, 1);
        assert.equal(reply.nErrors, 1);
        assert.equal(reply.nInserted, 1);
        // errorsOnly (the driver's default): the one failure, and nothing after it ran.
        const [failed, ...others] = (reply.cursor as Document).firstBatch as Document[];
        assert.deepEqual(others, []);
        assert.ok(failed);
        assert.equal(Number(failed.ok), 0);
        assert.equal(failed.idx, 3);
        assert.equal(failed.code, 11000);
        assert.match(String(failed.errmsg), /E11000 duplicate key error/);
        assert.deepEqual(failed.keyPattern, { _id: 1 });
        assert.deepEqual(failed.keyValue, { _id: 'order-2' });

        if (ending === 'commit') {
          const commitError = await captureError(() => session.commitTransaction(), 'committing the failed transaction');
          assert.ok(commitError instanceof MongoServerError, `got ${String(commitError)}`);
          assert.equal(commitError.code, 251, commitError.message);
          assert.ok(commitError.hasErrorLabel('TransientTransactionError'));
        } else {
          await session.abortTransaction();
        }
      } finally {
        await session.endSession();
      }
      assert.equal(await client.db(dbName).collection('marker').countDocuments(), 0);
      assert.deepEqual(await client.db(dbName).collection('pos').find().toArray(), [{ _id: 'order-2', total: 1 }]);
    });
  }

  it('a deleteMany that matches deletes them all and counts them', async (t) => {
    if (!needs80(t)) return;
    const dbName = uniqueDbName('cbwdel');
    const db = monitored.db(dbName);
    await db.collection<Doc>('tombstones').insertMany([
      { _id: 'a', gone: true },
      { _id: 'b', gone: true },
      { _id: 'c', gone: false },
    ]);
    log.clear();
    const result = await monitored.bulkWrite<Schemas>(
      [
        { name: 'deleteMany', namespace: `${dbName}.tombstones`, filter: { gone: true } },
        { name: 'deleteOne', namespace: `${dbName}.tombstones`, filter: { _id: 'missing' } },
      ],
      { verboseResults: true },
    );
    assert.equal(result.deletedCount, 2);
    assert.deepEqual(result.deleteResults?.get(0), { deletedCount: 2 });
    assert.deepEqual(result.deleteResults?.get(1), { deletedCount: 0 });
    const reply = lastReply();
    assert.equal(reply.nDeleted, 2);
    assert.equal(reply.nErrors, 0);
    const batch = ((reply.cursor as Document).firstBatch as Document[]).map((r) => ({ ...r, ok: Number(r.ok) }));
    assert.deepEqual(batch, [
      { ok: 1, idx: 0, n: 2 },
      { ok: 1, idx: 1, n: 0 },
    ]);
    // deleteMany is a multi write: the batch is not a retryable write.
    assert.equal(log.startedNamed('bulkWrite')[0]?.command.txnNumber, undefined);
    assert.deepEqual(await client.db(dbName).collection('tombstones').find().toArray(), [{ _id: 'c', gone: false }]);
  });

  it('unordered goes on after an error; ordered stops at it', async (t) => {
    if (!needs80(t)) return;
    const dbName = uniqueDbName('cbword');
    const coll = client.db(dbName).collection<Doc>('pos');
    await coll.insertOne({ _id: 1 });
    const models = (ids: number[]): AnyClientBulkWriteModel<Doc>[] =>
      ids.map((id) => ({ name: 'insertOne', namespace: `${dbName}.pos`, document: { _id: id } }));
    const unordered = await captureError(() => client.bulkWrite<Schemas>(models([1, 2, 1, 3]), { ordered: false }));
    assert.ok(unordered instanceof MongoClientBulkWriteError);
    assert.deepEqual([...unordered.writeErrors.keys()], [0, 2]);
    assert.equal(unordered.partialResult?.insertedCount, 2);
    const ordered = await captureError(() => client.bulkWrite<Schemas>(models([4, 3, 5])));
    assert.ok(ordered instanceof MongoClientBulkWriteError);
    assert.deepEqual([...ordered.writeErrors.keys()], [1]);
    assert.deepEqual(
      (await coll.find().sort({ _id: 1 }).toArray()).map((d) => d._id),
      [1, 2, 3, 4],
    );
  });

  it('is retried after a retryable write-concern error, and the retry writes nothing again', async (t) => {
    if (!needs80(t)) return;
    const dbName = uniqueDbName('cbwretry');
    const disable = await failCommand(
      client,
      { times: 1 },
      {
        failCommands: ['bulkWrite'],
        errorLabels: ['RetryableWriteError'],
        writeConcernError: { code: 91, errmsg: 'Replication is being shut down' },
      },
    );
    try {
      log.clear();
      const result = await monitored.bulkWrite<Schemas>([
        { name: 'insertOne', namespace: `${dbName}.pos`, document: { _id: 'once' } },
        { name: 'updateOne', namespace: `${dbName}.marker`, filter: { _id: 'm' }, update: { $inc: { n: 1 } }, upsert: true },
      ]);
      assert.equal(result.insertedCount, 1);
      assert.equal(result.upsertedCount, 1);
    } finally {
      await disable();
    }
    const sent = log.startedNamed('bulkWrite');
    assert.equal(sent.length, 2, 'sent, then retried');
    assert.ok(sent[0]?.command.txnNumber !== undefined, 'a batch without multi writes is a retryable write');
    assert.equal(Number(sent[1]?.command.txnNumber), Number(sent[0]?.command.txnNumber));
    assert.equal(await client.db(dbName).collection('pos').countDocuments(), 1);
    assert.deepEqual(await client.db(dbName).collection('marker').find().toArray(), [{ _id: 'm', n: 1 }]);
  });
});
