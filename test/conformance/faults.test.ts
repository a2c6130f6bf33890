/**
 * Fault injection: failCommand fail points (real mongod with enableTestCommands
 * and the emulator), plus emulator-only network faults and restarts.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Long, MongoClient, MongoNetworkError, MongoServerError, MongoServerSelectionError, type Document } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import {
  CommandLog,
  STREAM_OPTIONS,
  captureError,
  emulatorOrSkip,
  failCommand,
  nextEvents,
  openStream,
  uniqueDbName,
  waitFor,
  withReplSet,
  type Doc,
} from './helpers.ts';

describe('faults', () => {
  let rs: ReplSet;
  let client: MongoClient;

  // Registered first, so it runs before withReplSet's clean-up, which needs the server reachable.
  after(() => rs?.emulator?.setPartitioned(false));
  withReplSet((r, c) => {
    rs = r;
    client = c;
  });

  describe('failCommand fail point', () => {
    it('errorCode with times:1 fails exactly one command, then commands succeed', async () => {
      const coll = client.db(uniqueDbName('fp1')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['find'], errorCode: 2 });
      try {
        const error = await captureError(() => coll.findOne({ _id: 1 }), 'the failing find');
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 2);
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 });
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 });
      } finally {
        await disable();
      }
    });

    it('only the named commands fail', async () => {
      const coll = client.db(uniqueDbName('fpnamed')).collection<Doc>('c');
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['distinct'], errorCode: 2 });
      try {
        await coll.insertOne({ _id: 1, k: 'v' });
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, k: 'v' });
        const error = await captureError(() => coll.distinct('k'), 'the failing distinct');
        assert.ok(error instanceof MongoServerError);
        assert.equal(error.code, 2);
        assert.deepEqual(await coll.distinct('k'), ['v']);
      } finally {
        await disable();
      }
    });

    it("alwaysOn fails every time until turned 'off'", async () => {
      const coll = client.db(uniqueDbName('fpalways')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      const disable = await failCommand(client, 'alwaysOn', { failCommands: ['count'], errorCode: 8 });
      try {
        for (let i = 0; i < 3; i += 1) {
          const error = await captureError(() => coll.estimatedDocumentCount(), `count attempt ${i + 1}`);
          assert.ok(error instanceof MongoServerError);
          assert.equal(error.code, 8);
        }
      } finally {
        await disable();
      }
      assert.equal(await coll.estimatedDocumentCount(), 1);
    });

    it('a retryable read error (91) on find is retried by the driver and succeeds', async () => {
      const monitored = await rs.connect({ monitorCommands: true, retryReads: true });
      const log = new CommandLog(monitored);
      const coll = monitored.db(uniqueDbName('fpread')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['find'], errorCode: 91 });
      try {
        log.clear();
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 });
        assert.equal(log.startedNamed('find').length, 2, 'one failed attempt and one retry');
      } finally {
        await disable();
        log.stop();
        await monitored.close();
      }
    });

    it('blockConnection delays the command by about blockTimeMS', async () => {
      const coll = client.db(uniqueDbName('fpblock')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      const unblocked = Date.now();
      await coll.findOne({ _id: 1 });
      const baseline = Date.now() - unblocked;
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['find'], blockConnection: true, blockTimeMS: 400 });
      try {
        const started = Date.now();
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 }, 'a blocked command still succeeds');
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 390, `blocked for ${elapsed} ms, expected about 400`);
        assert.ok(elapsed < 400 + 1500 + baseline, `blocked for ${elapsed} ms, expected about 400`);
        const again = Date.now();
        await coll.findOne({ _id: 1 });
        assert.ok(Date.now() - again < 350, 'only one command was blocked');
      } finally {
        await disable();
      }
    });

    it('closeConnection on insert: a retryable write is retried once and inserts exactly one document', async () => {
      const monitored = await rs.connect({ monitorCommands: true, retryWrites: true });
      const log = new CommandLog(monitored);
      const coll = monitored.db(uniqueDbName('fpclose')).collection<Doc>('c');
      await coll.insertOne({ _id: 'warm-up' });
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['insert'], closeConnection: true });
      try {
        log.clear();
        const result = await coll.insertOne({ _id: 'once', v: 1 });
        assert.equal(result.insertedId, 'once');
        const inserts = log.startedNamed('insert');
        assert.equal(inserts.length, 2, 'the driver retried the insert once');
        assert.equal(String(inserts[0]?.command.txnNumber), String(inserts[1]?.command.txnNumber), 'the retry reuses the txnNumber');
        assert.equal(await coll.countDocuments({ _id: 'once' }), 1);
      } finally {
        await disable();
        log.stop();
        await monitored.close();
      }
    });

    it('closeConnection on insert without retryable writes surfaces a network error and writes nothing', async () => {
      const noRetry = await rs.connect({ retryWrites: false });
      const coll = noRetry.db(uniqueDbName('fpnoretry')).collection<Doc>('c');
      await coll.insertOne({ _id: 'warm-up' });
      const disable = await failCommand(client, { times: 1 }, { failCommands: ['insert'], closeConnection: true });
      try {
        const error = await captureError(() => coll.insertOne({ _id: 'lost' }), 'insert on a closed connection');
        assert.ok(error instanceof MongoNetworkError, `got ${String(error)}`);
        assert.equal(await coll.countDocuments({ _id: 'lost' }), 0);
        await coll.insertOne({ _id: 'next' });
        assert.equal(await coll.countDocuments({ _id: 'next' }), 1, 'the client recovers');
      } finally {
        await disable();
        await noRetry.close();
      }
    });

    it('a RetryableWriteError-labelled error on update is retried and applied once', async () => {
      const coll = client.db(uniqueDbName('fplabel')).collection<Doc>('c');
      await coll.insertOne({ _id: 1, n: 0 });
      // HostUnreachable (6), not ShutdownInProgress: a state-change error would make the driver wait for the
      // next streamed heartbeat (up to 10 s, as against mongod) before it selects the server again.
      const disable = await failCommand(
        client,
        { times: 1 },
        { failCommands: ['update'], errorCode: 6, errorLabels: ['RetryableWriteError'] },
      );
      try {
        const result = await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
        assert.equal(result.modifiedCount, 1);
        assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, n: 1 });
      } finally {
        await disable();
      }
    });
  });

  describe('retryable write de-duplication', () => {
    it('a write whose reply was lost is retried with the same txnNumber and applied only once', async () => {
      const coll = client.db(uniqueDbName('dedupe')).collection<Doc>('c');
      await coll.insertOne({ _id: 1, n: 0 });
      // The update runs, then the reply carries a retryable write-concern error, so the driver retries it.
      const disable = await failCommand(
        client,
        { times: 1 },
        {
          failCommands: ['update', 'insert'],
          writeConcernError: { code: 91, errmsg: 'Replication is being shut down', errorLabels: ['RetryableWriteError'] },
        },
      );
      try {
        const result = await coll.updateOne({ _id: 1 }, { $inc: { n: 1 } });
        assert.equal(result.matchedCount, 1);
      } finally {
        await disable();
      }
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, n: 1 }, 'the $inc was applied exactly once');

      const disableInsert = await failCommand(
        client,
        { times: 1 },
        {
          failCommands: ['insert'],
          writeConcernError: { code: 91, errmsg: 'Replication is being shut down', errorLabels: ['RetryableWriteError'] },
        },
      );
      try {
        const inserted = await coll.insertOne({ _id: 2 });
        assert.equal(inserted.insertedId, 2, 'the retried insert reports success, not a duplicate key');
      } finally {
        await disableInsert();
      }
      assert.equal(await coll.countDocuments({ _id: 2 }), 1);
    });

    it('re-sending a write with the same lsid and txnNumber returns the first result without re-applying it', async () => {
      // A client of its own: its server sessions are new, and the txnNumbers used here never reach another test.
      const own = await rs.connect();
      const db = own.db(uniqueDbName('txnnum'));
      await db.createCollection('c');
      const session = own.startSession({ causalConsistency: false });
      const update = (txnNumber: number) =>
        db.command(
          { update: 'c', updates: [{ q: { _id: 1 }, u: { $inc: { n: 1 } }, upsert: true }], txnNumber: Long.fromNumber(txnNumber) },
          { session },
        );
      try {
        const first = await update(1);
        const again = await update(1);
        assert.equal(first.n, 1);
        assert.equal(again.n, 1, 'the replayed reply reports the same count');
        assert.deepEqual(await db.collection<Doc>('c').findOne({ _id: 1 }), { _id: 1, n: 1 }, 'applied once');
        const next = await update(2);
        assert.equal(next.n, 1);
        assert.equal(next.nModified, 1);
        assert.deepEqual(await db.collection<Doc>('c').findOne({ _id: 1 }), { _id: 1, n: 2 }, 'a new txnNumber applies again');
        const stale = await captureError(() => update(1), 'a write with an older txnNumber');
        assert.ok(stale instanceof MongoServerError, `got ${String(stale)}`);
        assert.equal(stale.code, 225, 'TransactionTooOld');
        assert.deepEqual(await db.collection<Doc>('c').findOne({ _id: 1 }), { _id: 1, n: 2 }, 'the stale write changed nothing');
      } finally {
        await session.endSession();
        await own.close();
      }
    });
  });

  describe('network faults (emulator)', () => {
    it('after dropConnections the driver reconnects and the next operations work', async (t) => {
      const emulator = emulatorOrSkip(t, rs);
      if (!emulator) return;
      const coll = client.db(uniqueDbName('dropconn')).collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      emulator.dropConnections();
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 }, 'a read right after the drop succeeds (retryable read)');
      emulator.dropConnections();
      await coll.insertOne({ _id: 2 });
      assert.equal(await coll.countDocuments(), 2, 'a write right after the drop succeeds once (retryable write)');
      const fresh = await rs.connect();
      try {
        assert.equal(await fresh.db(coll.dbName).collection('c').countDocuments(), 2);
      } finally {
        await fresh.close();
      }
    });

    it('while partitioned operations time out; after the partition heals they work again', async (t) => {
      const emulator = emulatorOrSkip(t, rs);
      if (!emulator) return;
      const dbName = uniqueDbName('partition');
      await client.db(dbName).collection<Doc>('c').insertOne({ _id: 1 });
      const short = await rs.connect({ serverSelectionTimeoutMS: 600, socketTimeoutMS: 600, connectTimeoutMS: 600, retryReads: false });
      try {
        assert.deepEqual(await short.db(dbName).collection<Doc>('c').findOne({ _id: 1 }), { _id: 1 });
        emulator.setPartitioned(true);
        try {
          const started = Date.now();
          const error = await captureError(() => short.db(dbName).collection<Doc>('c').findOne({ _id: 1 }), 'a read while partitioned');
          const elapsed = Date.now() - started;
          assert.ok(
            error instanceof MongoNetworkError || error instanceof MongoServerSelectionError,
            `a network or server-selection error, got ${String(error)}`,
          );
          assert.ok(elapsed < 5_000, `gave up after ${elapsed} ms`);

          const newcomer = new MongoClient(rs.uri, { serverSelectionTimeoutMS: 600, connectTimeoutMS: 600 });
          try {
            const connectError = await captureError(() => newcomer.connect(), 'connecting while partitioned');
            assert.ok(connectError instanceof MongoServerSelectionError, `got ${String(connectError)}`);
          } finally {
            await newcomer.close();
          }
        } finally {
          emulator.setPartitioned(false);
        }
        const doc = await waitFor(() => short.db(dbName).collection<Doc>('c').findOne({ _id: 1 }), {
          timeoutMs: 10_000,
          message: 'reads to work again after the partition',
        });
        assert.deepEqual(doc, { _id: 1 });
        assert.deepEqual(await client.db(dbName).collection<Doc>('c').findOne({ _id: 1 }), { _id: 1 });
      } finally {
        emulator.setPartitioned(false);
        await short.close();
      }
    });
  });

  describe('restart', () => {
    it('stop and restart on the same port with a dbPath keeps data, indexes and change history', async (t) => {
      if (rs.kind === 'external') {
        t.skip('needs a server the harness started');
        return;
      }
      const dbPath = mkdtempSync(join(tmpdir(), 'conformance-restart-'));
      let durable: ReplSet | undefined;
      let durableClient: MongoClient | undefined;
      try {
        durable = await startReplSet({ dbPath });
        durableClient = await durable.connect();
        const db = durableClient.db(uniqueDbName('restart'));
        const coll = db.collection<Doc>('c');
        await db.createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
        await coll.createIndex({ email: 1 }, { unique: true });
        await coll.insertMany(Array.from({ length: 50 }, (_, i) => ({ _id: i, email: `u${i}@example.com`, n: i })));
        await coll.updateMany({ n: { $lt: 10 } }, { $set: { low: true } });
        await coll.deleteMany({ n: { $gte: 40 } });

        const stream = coll.watch<Document, Document>([], STREAM_OPTIONS);
        let token: Document | undefined;
        try {
          await openStream(stream);
          await coll.insertOne({ _id: 'marker', email: 'marker@example.com' });
          token = (await nextEvents(stream, 1))[0]?._id;
        } finally {
          await stream.close();
        }
        assert.ok(token);
        const before = await coll.find({}, { sort: { _id: 1 } }).toArray();
        const uriBefore = durable.uri;

        await durable.restart();
        assert.equal(durable.uri, uriBefore, 'the server is back on the same address');

        const after = await waitFor(() => coll.find({}, { sort: { _id: 1 } }).toArray(), {
          timeoutMs: 20_000,
          message: 'the existing client to reconnect after the restart',
        });
        assert.equal(after.length, 41);
        assert.deepEqual(after, before, 'every document survived the restart');

        const indexes = (await coll.listIndexes().toArray()).map((i) => i.name).sort();
        assert.deepEqual(indexes, ['_id_', 'email_1']);
        const dupError = await captureError(() => coll.insertOne({ _id: 'dup', email: 'u1@example.com' }), 'duplicate after restart');
        assert.ok(dupError instanceof MongoServerError);
        assert.equal(dupError.code, 11000, 'the unique index is still enforced');
        const [info] = (await db.listCollections({ name: 'c' }).toArray()) as Document[];
        assert.deepEqual(info?.options?.changeStreamPreAndPostImages, { enabled: true }, 'collection options survived');

        await coll.insertOne({ _id: 'after restart', email: 'after@example.com' });
        const resumed = coll.watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: token });
        try {
          const [next] = await nextEvents(resumed, 1, 10_000);
          assert.deepEqual(next?.documentKey, { _id: 'after restart' }, 'a token from before the restart still resumes');
        } finally {
          await resumed.close();
        }

        const other = await durable.connect();
        try {
          assert.equal(await other.db(db.databaseName).collection('c').countDocuments(), 42);
        } finally {
          await other.close();
        }
      } finally {
        if (durableClient) await durableClient.close();
        if (durable) await durable.stop();
        rmSync(dbPath, { recursive: true, force: true });
      }
    });
  });
});
