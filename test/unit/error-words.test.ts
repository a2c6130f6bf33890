/**
 * The words a till operator reads for the errors a server really returns: a
 * read the server ended (its cursor gone after a restart) is not "refused a
 * change", a duplicate key is, and a server that is not there is unreachable.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Document } from 'mongodb';
import type { ReplSet } from '../harness/replset.ts';
import { describeError } from '../../src-main/sync/errors.ts';
import { captureError as failure, withReplSet } from '../conformance/helpers.ts';

describe('error words', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  it('a cursor the server no longer has reads as an interrupted read, not a refused change', async () => {
    const db = client.db('error_words');
    await db.collection('c').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i as never })));
    const opened = await db.command({ find: 'c', batchSize: 1 });
    const id = (opened.cursor as Document).id;
    await db.command({ killCursors: 'c', cursors: [id] });
    const err = await failure(() => db.command({ getMore: id, collection: 'c' }));

    const words = describeError(err, 'hub');
    assert.equal(words.reason, 'read-interrupted');
    assert.deepEqual(words.toInfo(0).params, { side: 'hub' });
    assert.match(words.message, /head-office hub stopped a read in progress .*picked up where it left off/);
    assert.doesNotMatch(words.message, /refused/);
  });

  it('a write conflict between two transactions is a busy moment, tried again, not a refused change', async () => {
    const coll = client.db('error_words').collection<{ _id: string; n?: number }>('busy');
    await coll.insertOne({ _id: 'menu' });
    const first = client.startSession();
    const second = client.startSession();
    try {
      first.startTransaction();
      await coll.updateOne({ _id: 'menu' }, { $set: { n: 1 } }, { session: first });
      second.startTransaction();
      const err = await failure(() => coll.updateOne({ _id: 'menu' }, { $set: { n: 2 } }, { session: second }));
      const words = describeError(err, 'hub');
      assert.equal(words.reason, 'busy');
      assert.deepEqual(words.toInfo(0).params, { side: 'hub' });
      assert.match(
        words.message,
        /^Another till was changing the same records on the head-office hub at the same moment; sync tried again/,
      );
      assert.doesNotMatch(words.message, /refused/);
    } finally {
      await first.abortTransaction().catch(() => undefined);
      await second.abortTransaction().catch(() => undefined);
      await first.endSession();
      await second.endSession();
    }
  });

  it('a duplicate key is a change the side refused, with the server’s words and code', async () => {
    const coll = client.db('error_words').collection<{ _id: string }>('dup');
    await coll.insertOne({ _id: 'a' });
    const words = describeError(await failure(() => coll.insertOne({ _id: 'a' })), 'local');
    assert.equal(words.reason, 'local-rejected');
    assert.equal(words.toInfo(0).params?.serverCode, '11000');
    assert.match(words.message, /^This till's database refused a change: E11000/);
  });

  it('a connection closed during a bulk write is unreachable, not a refused change', async () => {
    const noRetry = await rs.connect({ retryWrites: false });
    try {
      await noRetry.db('admin').command({
        configureFailPoint: 'failCommand',
        mode: { times: 1 },
        data: { failCommands: ['insert'], closeConnection: true },
      });
      const coll = noRetry.db('error_words').collection<{ _id: string }>('bulk');
      const err = await failure(() => coll.bulkWrite([{ insertOne: { document: { _id: 'x' } } }]));
      assert.equal((err as Error).name, 'MongoBulkWriteError', 'the driver wraps the network error');
      const words = describeError(err, 'hub');
      assert.equal(words.reason, 'hub-unreachable');
      assert.doesNotMatch(words.message, /refused/);
    } finally {
      await noRetry.close();
    }
  });

  it('a server that is not there is unreachable, and changes are kept', async () => {
    const gone = new MongoClient('mongodb://127.0.0.1:9/?directConnection=true', { serverSelectionTimeoutMS: 300 });
    try {
      const words = describeError(await failure(() => gone.db('x').command({ ping: 1 })), 'hub');
      assert.equal(words.reason, 'hub-unreachable');
      assert.match(words.message, /Changes are kept/);
    } finally {
      await gone.close();
    }
  });
});
