/**
 * Which change-stream errors the driver resumes from, by the labels the server
 * gives. A getMore error injected by failCommand comes before the getMore has
 * checked out its cursor, so the server does not know it is a change stream's
 * and adds no ResumableChangeStreamError: the stream must stop. The same error
 * after checkout (failGetMoreAfterCursorCheckout) is labelled, and the stream
 * resumes, each event arriving once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, type Collection, type Document, type MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import {
  STREAM_OPTIONS,
  captureError,
  dropTestDatabases,
  expectNoEvent,
  failCommand,
  nextEvent,
  nextEvents,
  openStream,
  uniqueDbName,
  type Doc,
  type Stream,
} from './helpers.ts';

/** Retriable codes that are no state-change error (the driver keeps the server selectable). */
const RESUMABLE_AFTER_CHECKOUT = [6, 89, 262, 234, 133];

describe('change stream error labels', () => {
  let rs: ReplSet;
  let client: MongoClient;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
  });

  after(async () => {
    if (client) {
      for (const name of ['failCommand', 'failGetMoreAfterCursorCheckout']) {
        await client
          .db('admin')
          .command({ configureFailPoint: name, mode: 'off' })
          .catch(() => undefined);
      }
      await dropTestDatabases(client);
      await client.close();
    }
    if (rs) await rs.stop();
  });

  async function failAfterCheckout(data: Document): Promise<() => Promise<void>> {
    await client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: { times: 1 }, data });
    return async () => {
      await client.db('admin').command({ configureFailPoint: 'failGetMoreAfterCursorCheckout', mode: 'off' });
    };
  }

  /** A stream on a fresh collection that has seen one event, with the collection to write to. */
  async function streamWithOneEvent(prefix: string): Promise<{ stream: Stream; coll: Collection<Doc> }> {
    const dbName = uniqueDbName(prefix);
    await client.db(dbName).createCollection('c');
    const stream = client.db(dbName).collection('c').watch<Document, Document>([], STREAM_OPTIONS);
    await openStream(stream);
    const coll = client.db(dbName).collection<Doc>('c');
    await coll.insertOne({ _id: 'A' });
    assert.deepEqual((await nextEvent(stream)).documentKey, { _id: 'A' });
    return { stream, coll };
  }

  it('a failCommand error on getMore, even a retriable one, gets no ResumableChangeStreamError: the stream stops', async () => {
    const { stream, coll } = await streamWithOneEvent('fcnolabel');
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['getMore'], errorCode: 6 });
    try {
      await coll.insertOne({ _id: 'B' });
      const error = await captureError(() => nextEvents(stream, 1, 5_000), 'iterating into the injected error');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 6);
      assert.equal(error.hasErrorLabel('ResumableChangeStreamError'), false, `labels: ${JSON.stringify(error.errorLabels)}`);
      assert.equal(stream.closed, true, 'the driver did not resume');
    } finally {
      await disable();
      await stream.close();
    }
  });

  for (const code of RESUMABLE_AFTER_CHECKOUT) {
    it(`a getMore failing with ${code} after checking out its cursor is labelled resumable: the stream resumes, each event once`, async () => {
      const { stream, coll } = await streamWithOneEvent(`co${code}`);
      const disable = await failAfterCheckout({ errorCode: code });
      try {
        await coll.insertMany([{ _id: 'B' }, { _id: 'C' }]);
        const events = await nextEvents(stream, 2, 10_000);
        assert.deepEqual(
          events.map((e) => e.documentKey._id),
          ['B', 'C'],
        );
        await expectNoEvent(stream, 200);
        assert.equal(stream.closed, false);
      } finally {
        await disable();
        await stream.close();
      }
    });
  }

  it('a non-retriable error after checkout is not resumed', async () => {
    const { stream, coll } = await streamWithOneEvent('conores');
    const disable = await failAfterCheckout({ errorCode: 2 });
    try {
      await coll.insertOne({ _id: 'B' });
      const error = await captureError(() => nextEvents(stream, 1, 5_000), 'iterating into BadValue');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 2);
      assert.equal(error.hasErrorLabel('ResumableChangeStreamError'), false);
      assert.equal(stream.closed, true);
    } finally {
      await disable();
      await stream.close();
    }
  });

  it('ChangeStreamFatalError after checkout carries NonResumableChangeStreamError', async () => {
    const { stream, coll } = await streamWithOneEvent('cofatal');
    const disable = await failAfterCheckout({ errorCode: 280 });
    try {
      await coll.insertOne({ _id: 'B' });
      const error = await captureError(() => nextEvents(stream, 1, 5_000), 'iterating into ChangeStreamFatalError');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 280);
      assert.ok(error.hasErrorLabel('NonResumableChangeStreamError'), `labels: ${JSON.stringify(error.errorLabels)}`);
      assert.equal(stream.closed, true);
    } finally {
      await disable();
      await stream.close();
    }
  });

  it('closeConnection after checkout: the stream resumes and misses nothing', async () => {
    const { stream, coll } = await streamWithOneEvent('coclose');
    const disable = await failAfterCheckout({ closeConnection: true });
    try {
      await coll.insertOne({ _id: 'B' });
      assert.deepEqual((await nextEvent(stream, 10_000)).documentKey, { _id: 'B' });
    } finally {
      await disable();
      await stream.close();
    }
  });
});
