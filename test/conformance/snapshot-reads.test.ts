/**
 * Snapshot reads outside transactions (readConcern "snapshot", MongoDB 5.0+):
 * a snapshot session's first read takes the server's current time and is told
 * it (atClusterTime); every later read in the session sees the data as it was
 * then, whatever was written since. Writes and list commands cannot run at a
 * snapshot; a time older than the server's history is SnapshotTooOld.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, Timestamp, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, dropTestDatabases, uniqueDbName, type Doc } from './helpers.ts';

describe('snapshot reads', () => {
  let rs: ReplSet;
  let client: MongoClient;
  let monitored: MongoClient;
  let log: CommandLog;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
    monitored = await rs.connect({ monitorCommands: true });
    log = new CommandLog(monitored);
  });

  after(async () => {
    log?.stop();
    await monitored?.close();
    if (client) {
      await dropTestDatabases(client);
      await client.close();
    }
    if (rs) await rs.stop();
  });

  it('a snapshot session keeps reading the data as it was at its first read: find, aggregate and distinct', async () => {
    const dbName = uniqueDbName('snapshot');
    await client
      .db(dbName)
      .collection<Doc>('prices')
      .insertMany([
        { _id: 'tea', p: 2 },
        { _id: 'cake', p: 3 },
      ]);
    const session = monitored.startSession({ snapshot: true });
    const prices = monitored.db(dbName).collection<Doc>('prices');
    try {
      log.clear();
      assert.deepEqual(await prices.find({}, { session, sort: { _id: 1 } }).toArray(), [
        { _id: 'cake', p: 3 },
        { _id: 'tea', p: 2 },
      ]);
      await client
        .db(dbName)
        .collection<Doc>('prices')
        .updateOne({ _id: 'tea' }, { $set: { p: 9 } });
      await client.db(dbName).collection<Doc>('prices').insertOne({ _id: 'soup', p: 5 });
      await client.db(dbName).collection<Doc>('prices').deleteOne({ _id: 'cake' });

      assert.deepEqual(await prices.find({}, { session, sort: { _id: 1 } }).toArray(), [
        { _id: 'cake', p: 3 },
        { _id: 'tea', p: 2 },
      ]);
      assert.deepEqual(await prices.aggregate([{ $sort: { _id: 1 } }, { $project: { _id: 1 } }], { session }).toArray(), [
        { _id: 'cake' },
        { _id: 'tea' },
      ]);
      assert.deepEqual((await prices.distinct('p', {}, { session })).sort(), [2, 3]);
      assert.deepEqual(await prices.find({}, { sort: { _id: 1 } }).toArray(), [
        { _id: 'soup', p: 5 },
        { _id: 'tea', p: 9 },
      ]);

      const reads = log.started.filter((e) => ['find', 'aggregate', 'distinct'].includes(e.commandName));
      assert.equal(reads[0]?.command.readConcern?.level, 'snapshot');
      assert.equal(reads[0]?.command.readConcern?.atClusterTime, undefined, 'the first read names no time');
      const at = reads[1]?.command.readConcern?.atClusterTime;
      assert.ok(at instanceof Timestamp, 'later reads name the time the server gave');
      for (const read of reads.slice(1, 4)) assert.ok(read.command.readConcern?.atClusterTime?.equals(at));
    } finally {
      await session.endSession();
    }
  });

  it('writes and list commands cannot run at a snapshot: the server refuses them', async () => {
    const dbName = uniqueDbName('snapwrite');
    await client.db(dbName).collection<Doc>('prices').insertOne({ _id: 'tea', p: 2 });
    const session = monitored.startSession({ snapshot: true });
    try {
      const write = await captureError(
        () => monitored.db(dbName).collection<Doc>('prices').insertOne({ _id: 'x' }, { session }),
        'an insert in a snapshot session',
      );
      assert.ok(write instanceof MongoServerError, `a server error, got ${String(write)}`);
      const list = await captureError(() => monitored.db(dbName).listCollections({}, { session }).toArray(), 'listCollections');
      assert.ok(list instanceof MongoServerError, `a server error, got ${String(list)}`);
    } finally {
      await session.endSession();
    }
    assert.equal(await client.db(dbName).collection<Doc>('prices').countDocuments({ _id: 'x' }), 0);
  });

  it('a snapshot older than the server keeps history for is SnapshotTooOld', async () => {
    const db = client.db(uniqueDbName('snapold'));
    await db.collection<Doc>('prices').insertOne({ _id: 'tea', p: 2 });
    const error = await captureError(
      () => db.command({ find: 'prices', readConcern: { level: 'snapshot', atClusterTime: new Timestamp({ t: 1, i: 1 }) } }),
      'reading at 1970',
    );
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.codeName, 'SnapshotTooOld');
  });

  it('a read naming its time gets that time back', async () => {
    const db = client.db(uniqueDbName('snapat'));
    await db.collection<Doc>('prices').insertOne({ _id: 'tea', p: 2 });
    const first = await db.command({ find: 'prices', readConcern: { level: 'snapshot' } });
    const at = first.cursor.atClusterTime as Timestamp;
    assert.ok(at instanceof Timestamp);
    await db.collection<Doc>('prices').insertOne({ _id: 'cake', p: 3 });
    const again = await db.command({ find: 'prices', readConcern: { level: 'snapshot', atClusterTime: at } });
    assert.ok(again.cursor.atClusterTime.equals(at));
    assert.deepEqual(again.cursor.firstBatch, [{ _id: 'tea', p: 2 }]);
  });
});
