/**
 * Automatic resume of change streams by the driver after transient getMore
 * failures (through the failCommand fail point), and the history-lost error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, type Document, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import {
  CommandLog,
  STREAM_OPTIONS,
  captureError,
  emulatorOrSkip,
  expectNoEvent,
  failCommand,
  nextEvent,
  nextEvents,
  openStream,
  uniqueDbName,
  type Doc,
  withReplSet,
} from './helpers.ts';

describe('change stream resume', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  /**
   * Opens a stream, reads one event, arms the fail point, writes more and
   * checks that exactly the later events arrive, once each, after a resume.
   */
  async function resumesThrough(failData: Document, times = 1, batchSize?: number): Promise<void> {
    const monitored = await rs.connect({ monitorCommands: true });
    const log = new CommandLog(monitored);
    const dbName = uniqueDbName('resume');
    await client.db(dbName).createCollection('c');
    const coll = client.db(dbName).collection<Doc>('c');
    const stream = monitored
      .db(dbName)
      .collection('c')
      .watch<Document, Document>([], { ...STREAM_OPTIONS, ...(batchSize ? { batchSize } : {}) });
    let disable: (() => Promise<void>) | undefined;
    try {
      await openStream(stream);
      await coll.insertOne({ _id: 'A' });
      const a = await nextEvent(stream);
      assert.deepEqual(a.documentKey, { _id: 'A' });
      const aggregatesBefore = log.startedNamed('aggregate').length;

      disable = await failCommand(client, { times }, { failCommands: ['getMore'], ...failData });
      await coll.insertMany([{ _id: 'B' }, { _id: 'C' }, { _id: 'D' }]);
      const events = await nextEvents(stream, 3, 10_000);
      assert.deepEqual(
        events.map((e) => e.documentKey._id),
        ['B', 'C', 'D'],
        'every later event arrives once, in order',
      );
      await expectNoEvent(stream, 200);

      const resumes = log.startedNamed('aggregate').slice(aggregatesBefore);
      assert.ok(resumes.length >= 1, 'the driver re-ran the aggregate to resume');
      for (const resume of resumes) {
        const stage = resume.command.pipeline?.[0]?.$changeStream;
        assert.ok(stage?.resumeAfter, 'the resume aggregate carries resumeAfter');
      }
      assert.equal(stream.closed, false);
    } finally {
      if (disable) await disable();
      await stream.close();
      log.stop();
      await monitored.close();
    }
  }

  it('resumes after getMore fails with CursorNotFound (43)', async () => {
    await resumesThrough({ errorCode: 43 });
  });

  it('resumes after getMore fails with a ResumableChangeStreamError-labelled error (91)', async () => {
    await resumesThrough({ errorCode: 91, errorLabels: ['ResumableChangeStreamError'] });
  });

  it('resumes after the connection is closed during getMore', async () => {
    await resumesThrough({ closeConnection: true });
  });

  it('resumes repeatedly after consecutive connection failures with batchSize 1', async () => {
    await resumesThrough({ closeConnection: true }, 2, 1);
  });

  it('does not resume a non-resumable error (ChangeStreamFatalError 280): the stream reports it and closes', async () => {
    const dbName = uniqueDbName('noresume');
    await client.db(dbName).createCollection('c');
    const stream = client.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS);
    let disable: (() => Promise<void>) | undefined;
    try {
      await openStream(stream);
      disable = await failCommand(client, { times: 1 }, { failCommands: ['getMore'], errorCode: 280 });
      await client.db(dbName).collection<Doc>('c').insertOne({ _id: 1 });
      const error = await captureError(() => nextEvent(stream), 'iterating into a fatal error');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 280);
      assert.equal(stream.closed, true);
    } finally {
      if (disable) await disable();
      await stream.close();
    }
  });

  it('a stream resumes across dropped connections (emulator)', async (t) => {
    const emulator = emulatorOrSkip(t, rs);
    if (!emulator) return;
    const dbName = uniqueDbName('dropconn');
    await client.db(dbName).createCollection('c');
    const watcher = await rs.connect();
    const stream = watcher.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS);
    try {
      await openStream(stream);
      await client.db(dbName).collection<Doc>('c').insertOne({ _id: 1 });
      assert.deepEqual((await nextEvent(stream)).documentKey, { _id: 1 });
      emulator.dropConnections();
      await client.db(dbName).collection<Doc>('c').insertOne({ _id: 2 });
      const events = await nextEvents(stream, 1, 10_000);
      assert.deepEqual(events[0]?.documentKey, { _id: 2 });
      await expectNoEvent(stream, 200);
    } finally {
      await stream.close();
      await watcher.close();
    }
  });

  it('resuming from a token whose history was truncated fails with ChangeStreamHistoryLost (286) (emulator)', async (t) => {
    const emulator = emulatorOrSkip(t, rs);
    if (!emulator) return;
    const dbName = uniqueDbName('histlost');
    const coll = client.db(dbName).collection<Doc>('c');
    await client.db(dbName).createCollection('c');
    let oldToken: Document | undefined;
    const first = client.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS);
    try {
      await openStream(first);
      await coll.insertOne({ _id: 'old' });
      oldToken = (await nextEvent(first))._id;
    } finally {
      await first.close();
    }
    assert.ok(oldToken);
    await coll.insertOne({ _id: 'newer' });
    emulator.truncateOplog(0);
    await coll.insertOne({ _id: 'newest' });

    const resumed = client
      .db(dbName)
      .collection('c')
      .watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: oldToken });
    try {
      const error = await captureError(() => resumed.tryNext(), 'resuming from a lost point');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 286);
      assert.equal(error.codeName, 'ChangeStreamHistoryLost');
      assert.ok(error.hasErrorLabel('NonResumableChangeStreamError'), `labels: ${JSON.stringify(error.errorLabels)}`);
    } finally {
      await resumed.close();
    }

    const fresh = client.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS);
    try {
      await openStream(fresh);
      await coll.insertOne({ _id: 'after truncation' });
      assert.deepEqual((await nextEvent(fresh)).documentKey, { _id: 'after truncation' }, 'a new stream still works');
    } finally {
      await fresh.close();
    }
  });

  it('with a bounded oplog, a token that fell off the end gives 286 while a recent one resumes (emulator)', async (t) => {
    if (!emulatorOrSkip(t, rs)) return;
    const small = await startReplSet({ oplogMaxEvents: 20 });
    const smallClient = await small.connect();
    try {
      const coll = smallClient.db('bounded').collection<Doc>('c');
      await smallClient.db('bounded').createCollection('c');
      const stream = coll.watch<Document, Document>([], STREAM_OPTIONS);
      const tokens: Document[] = [];
      try {
        await openStream(stream);
        // Read as we go: a stream that falls further behind than the oplog keeps would itself get 286.
        for (let i = 0; i < 60; i += 1) {
          await coll.insertOne({ _id: i });
          tokens.push((await nextEvent(stream))._id);
        }
      } finally {
        await stream.close();
      }

      const [oldest] = await smallClient.db('local').collection('oplog.rs').find({}).sort({ $natural: 1 }).limit(1).toArray();
      assert.ok(oldest?.ts, 'the oplog still has entries');

      const lost = coll.watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: tokens[0] });
      try {
        const error = await captureError(() => lost.tryNext(), 'resuming from an event that fell out of the oplog');
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 286);
      } finally {
        await lost.close();
      }

      const recent = coll.watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: tokens[55] });
      try {
        const events = await nextEvents(recent, 4);
        assert.deepEqual(
          events.map((e) => e.documentKey._id),
          [56, 57, 58, 59],
        );
      } finally {
        await recent.close();
      }
    } finally {
      await smallClient.close();
      await small.stop();
    }
  });
});
