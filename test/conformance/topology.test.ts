/**
 * Handshake and topology: the driver must see a writable primary of a named
 * replica set, with sessions and retryable writes available.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, MongoClient, MongoServerSelectionError, Timestamp, type TopologyDescriptionChangedEvent } from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, seedsOf, uniqueDbName, uriOption, waitFor, type Doc, withReplSet } from './helpers.ts';

describe('topology and handshake', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  it('hello reports a writable primary of the replica set it was dialled as', async () => {
    const hello = await client.db('admin').command({ hello: 1 });
    assert.equal(hello.ok, 1);
    assert.equal(hello.isWritablePrimary, true);
    assert.equal(hello.secondary, false);
    assert.equal(typeof hello.setName, 'string');
    assert.ok(hello.setName.length > 0);
    const uriSetName = uriOption(rs.uri, 'replicaSet');
    if (uriSetName) assert.equal(hello.setName, uriSetName);
    assert.ok(Array.isArray(hello.hosts), 'hosts is an array');
    const hosts = (hello.hosts as string[]).map((h) => h.toLowerCase());
    const seeds = seedsOf(rs.uri);
    assert.ok(
      seeds.some((seed) => hosts.includes(seed)),
      `hello.hosts ${JSON.stringify(hosts)} contains one of the dialled seeds ${JSON.stringify(seeds)}`,
    );
    assert.equal(typeof hello.primary, 'string');
    assert.ok(hosts.includes(String(hello.primary).toLowerCase()), 'primary is one of hosts');
    assert.equal(typeof hello.me, 'string');
    assert.ok(hello.maxWireVersion >= 21, `maxWireVersion ${hello.maxWireVersion} >= 21 (MongoDB 7.0)`);
    assert.ok(hello.minWireVersion <= hello.maxWireVersion);
    assert.equal(typeof hello.logicalSessionTimeoutMinutes, 'number');
    assert.ok(hello.logicalSessionTimeoutMinutes > 0);
    assert.equal(hello.maxBsonObjectSize, 16 * 1024 * 1024);
    assert.ok(hello.maxMessageSizeBytes >= 48_000_000);
    assert.ok(hello.maxWriteBatchSize >= 1000);
    assert.ok(hello.localTime instanceof Date, 'localTime is a Date');
    assert.ok(Math.abs(hello.localTime.getTime() - Date.now()) < 10 * 60_000, 'localTime is close to now');
    assert.ok(hello.operationTime instanceof Timestamp, 'operationTime is a Timestamp');
    assert.ok(hello.$clusterTime?.clusterTime instanceof Timestamp, '$clusterTime.clusterTime is a Timestamp');
  });

  it('legacy isMaster answers like hello', async () => {
    const reply = await client.db('admin').command({ isMaster: 1 });
    assert.equal(reply.ok, 1);
    assert.equal(reply.ismaster, true);
    assert.equal(typeof reply.setName, 'string');
    assert.ok(reply.maxWireVersion >= 21);
  });

  it('a client given ?replicaSet=<name> discovers the primary', async () => {
    const hello = await client.db('admin').command({ hello: 1 });
    const seed = seedsOf(rs.uri)[0];
    assert.ok(seed);
    const uri = `mongodb://${seed}/?replicaSet=${encodeURIComponent(hello.setName)}`;
    const other = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    const types: string[] = [];
    other.on('topologyDescriptionChanged', (e: TopologyDescriptionChangedEvent) => types.push(e.newDescription.type));
    try {
      await other.connect();
      const ping = await other.db('admin').command({ ping: 1 });
      assert.equal(ping.ok, 1);
      await waitFor(() => types.includes('ReplicaSetWithPrimary'), { message: 'topology type ReplicaSetWithPrimary' });
      const db = other.db(uniqueDbName('topo'));
      await db.collection<Doc>('c').insertOne({ _id: 1, via: 'replicaSet uri' });
      assert.deepEqual(await db.collection<Doc>('c').findOne({ _id: 1 }), { _id: 1, via: 'replicaSet uri' });
    } finally {
      await other.close();
    }
  });

  it('a client given the wrong replica set name finds no server', async () => {
    const seed = seedsOf(rs.uri)[0];
    const other = new MongoClient(`mongodb://${seed}/?replicaSet=not_the_set_name`, { serverSelectionTimeoutMS: 700 });
    try {
      const error = await captureError(() => other.db('admin').command({ ping: 1 }), 'ping with a wrong set name');
      assert.ok(error instanceof MongoServerSelectionError, `got ${String(error)}`);
    } finally {
      await other.close();
    }
  });

  it('explicit sessions work and carry operationTime / clusterTime', async () => {
    const db = client.db(uniqueDbName('sess'));
    const session = client.startSession({ causalConsistency: true });
    try {
      await db.collection<Doc>('c').insertOne({ _id: 'a', n: 1 }, { session });
      assert.ok(session.id?.id instanceof Binary, 'lsid.id is a Binary');
      assert.equal(session.id?.id.sub_type, 4, 'lsid.id is a UUID');
      const opTime = session.operationTime;
      assert.ok(opTime instanceof Timestamp, 'session.operationTime is a Timestamp after a write');
      assert.ok(session.clusterTime?.clusterTime instanceof Timestamp, 'session.clusterTime is gossiped');
      const doc = await db.collection<Doc>('c').findOne({ _id: 'a' }, { session });
      assert.deepEqual(doc, { _id: 'a', n: 1 });
      const later = session.operationTime;
      assert.ok(later instanceof Timestamp);
      assert.ok(later.greaterThanOrEqual(opTime), 'operationTime never goes backwards within a session');
    } finally {
      await session.endSession();
    }
  });

  it('writes are sent as retryable writes (txnNumber) and succeed', async () => {
    const monitored = await rs.connect({ monitorCommands: true, retryWrites: true });
    const log = new CommandLog(monitored);
    try {
      const coll = monitored.db(uniqueDbName('retry')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      await coll.updateOne({ _id: 1 }, { $set: { x: 1 } });
      await coll.findOneAndUpdate({ _id: 1 }, { $inc: { x: 1 } });
      await coll.deleteOne({ _id: 1 });
      for (const name of ['insert', 'update', 'findAndModify', 'delete']) {
        const [started] = log.startedNamed(name);
        assert.ok(started, `${name} was sent`);
        assert.ok(started.command.txnNumber !== undefined, `${name} carries txnNumber (driver sees retryable writes)`);
        assert.ok(started.command.lsid, `${name} carries lsid`);
      }
      assert.equal(await coll.countDocuments(), 0);
    } finally {
      log.stop();
      await monitored.close();
    }
  });
});
