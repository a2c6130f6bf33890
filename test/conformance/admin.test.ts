/**
 * Administrative and monitoring commands a sync engine and its health checks use.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, Timestamp, type Document, type MongoClient } from 'mongodb';
import { captureError, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

describe('admin commands', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  it('ping answers ok:1 on admin and on any database', async () => {
    assert.deepEqual(pick(await client.db('admin').command({ ping: 1 }), ['ok']), { ok: 1 });
    assert.deepEqual(pick(await client.db(uniqueDbName('ping')).command({ ping: 1 }), ['ok']), { ok: 1 });
  });

  it('buildInfo reports a 7.0+ version and a matching versionArray', async () => {
    const info = await client.db('admin').command({ buildInfo: 1 });
    assert.equal(info.ok, 1);
    assert.equal(typeof info.version, 'string');
    assert.ok(Array.isArray(info.versionArray), 'versionArray is an array');
    assert.equal(info.versionArray.length, 4);
    for (const part of info.versionArray) assert.equal(typeof part, 'number');
    const [major, minor, patch] = info.versionArray as number[];
    assert.ok(info.version.startsWith(`${major}.${minor}.${patch}`), `version ${info.version} matches versionArray`);
    assert.ok((major ?? 0) >= 7, `major version ${major} >= 7`);
  });

  it('serverStatus has host, version, process, uptime, connections, opcounters and repl', async () => {
    const admin = client.db('admin');
    const build = await admin.command({ buildInfo: 1 });
    const hello = await admin.command({ hello: 1 });
    const before = await admin.command({ serverStatus: 1 });
    assert.equal(before.ok, 1);
    assert.equal(typeof before.host, 'string');
    assert.ok(before.host.length > 0);
    assert.equal(before.version, build.version);
    assert.equal(before.process, 'mongod');
    assert.equal(typeof before.uptime, 'number');
    assert.ok(before.uptime >= 0);
    assert.ok(before.localTime instanceof Date, 'localTime is a Date');
    assert.ok(num(before.connections?.current) >= 1, 'at least this connection is counted');
    assert.ok(num(before.connections?.available) >= 0);
    for (const counter of ['insert', 'query', 'update', 'delete', 'getmore', 'command']) {
      assert.ok(Number.isFinite(num(before.opcounters?.[counter])), `opcounters.${counter} is a number`);
    }
    assert.equal(before.repl?.setName, hello.setName);
    assert.equal(before.repl?.isWritablePrimary, true);

    const coll = client.db(uniqueDbName('status')).collection<Doc>('c');
    await coll.insertOne({ _id: 1 });
    await coll.updateOne({ _id: 1 }, { $set: { a: 1 } });
    await coll.find({}).toArray();
    await coll.deleteOne({ _id: 1 });

    const after = await admin.command({ serverStatus: 1 });
    for (const counter of ['insert', 'query', 'update', 'delete']) {
      assert.ok(
        num(after.opcounters[counter]) >= num(before.opcounters[counter]) + 1,
        `opcounters.${counter} grew: ${num(before.opcounters[counter])} -> ${num(after.opcounters[counter])}`,
      );
    }
    assert.ok(after.uptime >= before.uptime);
  });

  it('replSetGetStatus describes a healthy one-member set whose commit point follows writes', async () => {
    const hello = await client.db('admin').command({ hello: 1 });
    const session = client.startSession();
    let writeTime: Timestamp | undefined;
    try {
      await client
        .db(uniqueDbName('rsstatus'))
        .collection<Doc>('c')
        .insertOne({ _id: 1 }, { session, writeConcern: { w: 'majority' } });
      writeTime = session.operationTime;
    } finally {
      await session.endSession();
    }
    assert.ok(writeTime instanceof Timestamp);

    const status = await client.db('admin').command({ replSetGetStatus: 1 });
    assert.equal(status.ok, 1);
    assert.equal(status.set, hello.setName);
    assert.equal(status.myState, 1);
    assert.ok(status.date instanceof Date, 'date is a Date');
    assert.ok(Array.isArray(status.members) && status.members.length >= 1);
    const self = (status.members as Document[]).find((m) => m.self === true) ?? status.members[0];
    assert.equal(self.stateStr, 'PRIMARY');
    assert.equal(self.state, 1);
    assert.equal(self.health, 1);
    assert.ok(self.optime?.ts instanceof Timestamp, 'members[].optime.ts is a Timestamp');
    const committed = status.optimes?.lastCommittedOpTime?.ts;
    assert.ok(committed instanceof Timestamp, 'optimes.lastCommittedOpTime.ts is a Timestamp');
    assert.ok(committed.greaterThanOrEqual(writeTime), 'a majority-acknowledged write is at or before the commit point');
    const applied = status.optimes?.appliedOpTime?.ts;
    assert.ok(applied instanceof Timestamp, 'optimes.appliedOpTime.ts is a Timestamp');
    assert.ok(applied.greaterThanOrEqual(committed));
  });

  it('the oplog can be read in $natural order and has a window and a maximum size', async () => {
    const session = client.startSession();
    let writeTime: Timestamp | undefined;
    try {
      await client.db(uniqueDbName('oplog')).collection<Doc>('c').insertOne({ _id: 1 }, { session });
      writeTime = session.operationTime;
    } finally {
      await session.endSession();
    }
    assert.ok(writeTime instanceof Timestamp);

    const oplog = client.db('local').collection('oplog.rs');
    const [first] = await oplog.find({}).sort({ $natural: 1 }).limit(1).toArray();
    const [last] = await oplog.find({}).sort({ $natural: -1 }).limit(1).toArray();
    assert.ok(first, 'oplog has an oldest entry');
    assert.ok(last, 'oplog has a newest entry');
    assert.ok(first.ts instanceof Timestamp, 'first.ts is a Timestamp');
    assert.ok(last.ts instanceof Timestamp, 'last.ts is a Timestamp');
    assert.ok(first.ts.lessThanOrEqual(last.ts), 'oldest entry is not newer than the newest');
    assert.ok(last.ts.greaterThanOrEqual(writeTime), 'the newest entry is at or after our last write');

    const stats = await client.db('local').command({ collStats: 'oplog.rs' });
    assert.equal(stats.ok, 1);
    assert.equal(stats.capped, true);
    assert.ok(num(stats.maxSize) > 0, `maxSize ${stats.maxSize} > 0`);
  });

  it('dbStats counts collections and documents of a database', async () => {
    const db = client.db(uniqueDbName('dbstats'));
    await db.collection<Doc>('a').insertMany([{ _id: 1 }, { _id: 2 }]);
    await db.collection<Doc>('b').insertOne({ _id: 1 });
    const stats = await db.command({ dbStats: 1 });
    assert.equal(stats.ok, 1);
    assert.equal(stats.db, db.databaseName);
    assert.equal(num(stats.collections), 2);
    assert.equal(num(stats.objects), 3);
    assert.ok(num(stats.indexes) >= 2, 'at least the two _id indexes');
  });

  it('session housekeeping commands used by drivers and test runners answer ok', async () => {
    const admin = client.db('admin');
    assert.equal((await admin.command({ endSessions: [] })).ok, 1);
    assert.equal((await admin.command({ killAllSessions: [] })).ok, 1);
    assert.equal((await admin.command({ refreshSessions: [] })).ok, 1);
  });

  it('an unknown command fails with CommandNotFound (59) naming the command', async () => {
    const error = await captureError(() => client.db(uniqueDbName('nocmd')).command({ conformanceNoSuchCommand: 1 }), 'an unknown command');
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 59);
    assert.equal(error.codeName, 'CommandNotFound');
    assert.match(error.message, /conformanceNoSuchCommand/);
  });
});

function pick(doc: Document, keys: string[]): Document {
  return Object.fromEntries(keys.map((k) => [k, doc[k]]));
}

/** Counters may come back as int32, double or Long (when promoteLongs is off); make them numbers. */
function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (value && typeof value === 'object' && 'toNumber' in value && typeof value.toNumber === 'function') {
    return Number(value.toNumber());
  }
  return Number.NaN;
}
