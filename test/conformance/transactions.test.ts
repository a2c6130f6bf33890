/**
 * Multi-document transactions: isolation until commit, abort, snapshot reads,
 * write conflicts and the driver's withTransaction retry loop.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, MongoServerError, Timestamp, type ClientSession, type Document, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import {
  STREAM_OPTIONS,
  captureError,
  dropTestDatabases,
  expectNoEvent,
  nextEvents,
  openStream,
  uniqueDbName,
  type Doc,
} from './helpers.ts';

describe('transactions', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let observer: MongoClient;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
    observer = await rs.connect();
  });

  after(async () => {
    if (client) {
      await dropTestDatabases(client);
      await client.close();
    }
    if (observer) await observer.close();
    if (rs) await rs.stop();
  });

  async function withSession<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = client.startSession();
    try {
      return await fn(session);
    } finally {
      await session.endSession();
    }
  }

  it('writes in a transaction are invisible to others until commit, then all appear at once', async () => {
    const dbName = uniqueDbName('txvis');
    const db = client.db(dbName);
    await db.createCollection('a');
    await db.createCollection('b');
    await db.collection<Doc>('a').insertOne({ _id: 'x', v: 1 });
    const seenA = observer.db(dbName).collection<Doc>('a');
    const seenB = observer.db(dbName).collection<Doc>('b');

    await withSession(async (session) => {
      session.startTransaction();
      await db.collection<Doc>('a').insertOne({ _id: 'new', v: 0 }, { session });
      await db.collection<Doc>('a').updateOne({ _id: 'x' }, { $set: { v: 2 } }, { session });
      await db.collection<Doc>('b').insertOne({ _id: 'other' }, { session });

      assert.deepEqual(
        await db.collection<Doc>('a').findOne({ _id: 'new' }, { session }),
        { _id: 'new', v: 0 },
        'the transaction sees its own insert',
      );
      assert.deepEqual(await db.collection<Doc>('a').findOne({ _id: 'x' }, { session }), { _id: 'x', v: 2 }, 'and its own update');

      assert.equal(await seenA.findOne({ _id: 'new' }), null, 'another client does not see the uncommitted insert');
      assert.deepEqual(await seenA.findOne({ _id: 'x' }), { _id: 'x', v: 1 }, 'nor the uncommitted update');
      assert.equal(await seenB.countDocuments(), 0);
      assert.equal(await db.collection<Doc>('a').findOne({ _id: 'new' }), null, 'nor does the same client outside the session');

      await session.commitTransaction();
    });

    assert.deepEqual(await seenA.find({}, { sort: { _id: 1 } }).toArray(), [
      { _id: 'new', v: 0 },
      { _id: 'x', v: 2 },
    ]);
    assert.deepEqual(await seenB.find().toArray(), [{ _id: 'other' }]);
  });

  it('change streams see transactional writes only after commit, tagged with lsid and txnNumber and one clusterTime', async () => {
    const dbName = uniqueDbName('txcs');
    const db = client.db(dbName);
    await db.createCollection('c');
    const stream = await openStream(observer.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS));
    let commitTime: Timestamp | undefined;
    try {
      await withSession(async (session) => {
        session.startTransaction();
        await db.collection<Doc>('c').insertOne({ _id: 1 }, { session });
        await db.collection<Doc>('c').insertOne({ _id: 2 }, { session });
        await db.collection<Doc>('c').updateOne({ _id: 1 }, { $set: { seen: true } }, { session });
        await expectNoEvent(stream, 400);
        await session.commitTransaction();

        const events = await nextEvents(stream, 3);
        assert.deepEqual(
          events.map((e) => [e.operationType, e.documentKey?._id]),
          [
            ['insert', 1],
            ['insert', 2],
            ['update', 1],
          ],
        );
        const sessionId = session.id?.id;
        assert.ok(sessionId instanceof Binary);
        for (const event of events) {
          assert.ok(event.lsid?.id instanceof Binary, 'event.lsid.id is a Binary');
          assert.deepEqual([...event.lsid.id.buffer], [...sessionId.buffer], 'event.lsid.id is the session id');
          assert.notEqual(event.txnNumber, undefined, 'event has txnNumber');
          assert.equal(String(event.txnNumber), String(events[0]?.txnNumber), 'all events share the txnNumber');
          assert.ok(event.clusterTime instanceof Timestamp, 'clusterTime is a Timestamp');
          assert.ok(event.clusterTime.equals(events[0]?.clusterTime), 'all events share the commit clusterTime');
        }
        commitTime = events[0]?.clusterTime;
      });

      await db.collection<Doc>('c').insertOne({ _id: 3 });
      const [plain] = await nextEvents(stream, 1);
      assert.equal(plain?.documentKey?._id, 3);
      assert.equal(plain?.lsid, undefined, 'a write outside a transaction has no lsid');
      assert.equal(plain?.txnNumber, undefined, 'a write outside a transaction has no txnNumber');
      assert.ok(commitTime && plain?.clusterTime.greaterThan(commitTime), 'a later write has a later clusterTime');
    } finally {
      await stream.close();
    }
  });

  it('abortTransaction discards every write and produces no change events', async () => {
    const dbName = uniqueDbName('txabort');
    const db = client.db(dbName);
    const coll = db.collection<Doc>('c');
    await coll.insertMany([
      { _id: 1, v: 1 },
      { _id: 2, v: 2 },
    ]);
    const stream = await openStream(observer.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS));
    try {
      await withSession(async (session) => {
        session.startTransaction();
        await coll.insertOne({ _id: 3 }, { session });
        await coll.updateOne({ _id: 1 }, { $set: { v: 100 } }, { session });
        await coll.deleteOne({ _id: 2 }, { session });
        await session.abortTransaction();
      });
      assert.deepEqual(await coll.find({}, { sort: { _id: 1 } }).toArray(), [
        { _id: 1, v: 1 },
        { _id: 2, v: 2 },
      ]);
      await coll.insertOne({ _id: 'after' });
      const [first] = await nextEvents(stream, 1);
      assert.equal(first?.documentKey?._id, 'after', 'the first event is the write after the aborted transaction');
      await expectNoEvent(stream, 200);
    } finally {
      await stream.close();
    }
  });

  it('a transaction reads from one snapshot even if others commit meanwhile', async () => {
    const dbName = uniqueDbName('txsnap');
    const coll = client.db(dbName).collection<Doc>('c');
    await coll.insertOne({ _id: 1, v: 'old' });
    await withSession(async (session) => {
      session.startTransaction({ readConcern: { level: 'snapshot' } });
      assert.deepEqual(await coll.findOne({ _id: 1 }, { session }), { _id: 1, v: 'old' });
      await observer
        .db(dbName)
        .collection<Doc>('c')
        .updateOne({ _id: 1 }, { $set: { v: 'new' } });
      await observer.db(dbName).collection<Doc>('c').insertOne({ _id: 2 });
      assert.deepEqual(await coll.findOne({ _id: 1 }, { session }), { _id: 1, v: 'old' }, 'still the snapshot value');
      assert.equal(await coll.countDocuments({}, { session }), 1, 'a document inserted later is not visible');
      await session.commitTransaction();
    });
    assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, v: 'new' });
  });

  it('two transactions writing the same document: the second gets WriteConflict (112) with TransientTransactionError', async () => {
    const dbName = uniqueDbName('txconf');
    const coll = client.db(dbName).collection<Doc>('c');
    await coll.insertOne({ _id: 'counter', n: 0 });
    const first = client.startSession();
    const second = client.startSession();
    try {
      first.startTransaction();
      await coll.updateOne({ _id: 'counter' }, { $inc: { n: 1 } }, { session: first });

      second.startTransaction();
      const error = await captureError(
        () => coll.updateOne({ _id: 'counter' }, { $inc: { n: 10 } }, { session: second }),
        'the conflicting write',
      );
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 112);
      assert.equal(error.codeName, 'WriteConflict');
      assert.ok(error.hasErrorLabel('TransientTransactionError'), `labels: ${JSON.stringify(error.errorLabels)}`);

      const commitError = await captureError(() => second.commitTransaction(), 'committing the failed transaction');
      assert.ok(commitError instanceof MongoServerError, `got ${String(commitError)}`);
      assert.equal(commitError.code, 251, 'the server already aborted it: NoSuchTransaction');

      await first.commitTransaction();
      assert.deepEqual(await coll.findOne({ _id: 'counter' }), { _id: 'counter', n: 1 }, 'only the first transaction took effect');
    } finally {
      await first.endSession();
      await second.endSession();
    }
  });

  it('a transaction that writes a document changed after its snapshot gets WriteConflict', async () => {
    const dbName = uniqueDbName('txstale');
    const coll = client.db(dbName).collection<Doc>('c');
    await coll.insertOne({ _id: 1, n: 0 });
    await withSession(async (session) => {
      session.startTransaction({ readConcern: { level: 'snapshot' } });
      assert.deepEqual(await coll.findOne({ _id: 1 }, { session }), { _id: 1, n: 0 });
      await observer
        .db(dbName)
        .collection<Doc>('c')
        .updateOne({ _id: 1 }, { $inc: { n: 5 } });
      const error = await captureError(() => coll.updateOne({ _id: 1 }, { $inc: { n: 1 } }, { session }), 'stale write');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 112);
      assert.ok(error.hasErrorLabel('TransientTransactionError'));
      await session.abortTransaction();
    });
    assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, n: 5 });
  });

  it('withTransaction retries through a write conflict and applies each effect exactly once', async () => {
    const dbName = uniqueDbName('txretry');
    const coll = client.db(dbName).collection<Doc>('c');
    await coll.insertOne({ _id: 'counter', n: 0, log: [] });
    const blocker = client.startSession();
    let attempts = 0;
    let conflictSeen: unknown;
    try {
      blocker.startTransaction();
      await coll.updateOne({ _id: 'counter' }, { $inc: { n: 1 }, $push: { log: 'blocker' } } as Document, { session: blocker });

      await withSession((session) =>
        session.withTransaction(async (s) => {
          attempts += 1;
          try {
            await coll.updateOne({ _id: 'counter' }, { $inc: { n: 1 }, $push: { log: `attempt ${attempts}` } } as Document, { session: s });
          } catch (error) {
            if (attempts === 1) {
              conflictSeen = error;
              // Let the retry succeed: the blocking transaction finishes first.
              await blocker.commitTransaction();
            }
            throw error;
          }
        }),
      );
    } finally {
      await blocker.endSession();
    }
    assert.ok(conflictSeen instanceof MongoServerError, 'the first attempt hit a conflict');
    assert.equal(conflictSeen.code, 112);
    assert.equal(attempts, 2, 'the callback ran twice');
    assert.deepEqual(await coll.findOne({ _id: 'counter' }), { _id: 'counter', n: 2, log: ['blocker', 'attempt 2'] });
  });
});
