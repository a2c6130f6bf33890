/**
 * Change streams: scopes, event shapes, full-document and pre-image options,
 * invalidation, resume tokens and start points, and prompt delivery.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, Timestamp, type Db, type Document, type MongoClient } from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import {
  CommandLog,
  STREAM_OPTIONS,
  captureError,
  expectNoEvent,
  nextEvent,
  nextEvents,
  openStream,
  uniqueDbName,
  waitFor,
  type Doc,
  type Stream,
  withReplSet,
} from './helpers.ts';

const HEX_TOKEN = /^[0-9A-F]+$/;

function tokenData(token: unknown): string {
  assert.ok(token && typeof token === 'object', `a resume token is a document, got ${String(token)}`);
  const data = (token as Document)._data;
  assert.equal(typeof data, 'string', 'resume token _data is a string');
  assert.match(data, HEX_TOKEN, 'resume token _data is upper-case hex');
  return data as string;
}

function assertCommonFields(event: Document, operationType: string): void {
  assert.equal(event.operationType, operationType);
  tokenData(event._id);
  assert.ok(event.clusterTime instanceof Timestamp, `${operationType}: clusterTime is a Timestamp`);
  assert.ok(event.wallTime instanceof Date, `${operationType}: wallTime is a Date`);
  assert.ok(Math.abs(event.wallTime.getTime() - Date.now()) < 5 * 60_000, `${operationType}: wallTime is about now`);
}

describe('change streams', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  async function freshDb(prefix: string, ...collections: string[]): Promise<Db> {
    const db = client.db(uniqueDbName(prefix));
    for (const name of collections) await db.createCollection(name);
    return db;
  }

  async function withStream<T>(stream: Stream, fn: (s: Stream) => Promise<T>): Promise<T> {
    try {
      return await fn(await openStream(stream));
    } finally {
      await stream.close();
    }
  }

  describe('scopes', () => {
    it('a collection stream sees only its own collection', async () => {
      const db = await freshDb('scopecoll', 'c', 'other');
      const otherDb = client.db(uniqueDbName('scopecoll2'));
      await otherDb.createCollection('c');
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await db.collection<Doc>('other').insertOne({ _id: 'not me' });
        await otherDb.collection<Doc>('c').insertOne({ _id: 'not me either' });
        await db.collection<Doc>('c').insertOne({ _id: 'me' });
        const event = await nextEvent(stream);
        assert.deepEqual(event.documentKey, { _id: 'me' });
        await expectNoEvent(stream, 200);
      });
    });

    it('a database stream (db.watch) sees every collection of its database and nothing else', async () => {
      const db = await freshDb('scopedb', 'a', 'b');
      const otherDb = client.db(uniqueDbName('scopedb2'));
      await otherDb.createCollection('a');
      await withStream(db.watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await db.collection<Doc>('a').insertOne({ _id: 1 });
        await otherDb.collection<Doc>('a').insertOne({ _id: 'elsewhere' });
        await db.collection<Doc>('b').insertOne({ _id: 2 });
        const events = await nextEvents(stream, 2);
        assert.deepEqual(
          events.map((e) => [e.ns, e.documentKey]),
          [
            [{ db: db.databaseName, coll: 'a' }, { _id: 1 }],
            [{ db: db.databaseName, coll: 'b' }, { _id: 2 }],
          ],
        );
        await expectNoEvent(stream, 200);
      });
    });

    it('a cluster stream (client.watch) sees every database', async () => {
      const db1 = await freshDb('scopecl1', 'x');
      const db2 = await freshDb('scopecl2', 'y');
      const probe = `cf_probe_${process.pid}`;
      const mine = { $match: { $or: [{ 'ns.db': { $in: [db1.databaseName, db2.databaseName] } }, { 'ns.coll': probe }] } };
      await withStream(client.watch<Document, Document>([mine], STREAM_OPTIONS), async (stream) => {
        await client.db('admin').collection<Doc>(probe).insertOne({ _id: 'admin is not watched' });
        await client.db('admin').collection(probe).drop();
        await db1.collection<Doc>('x').insertOne({ _id: 1 });
        await db2.collection<Doc>('y').insertOne({ _id: 2 });
        const events = await nextEvents(stream, 2);
        assert.deepEqual(
          events.map((e) => e.ns),
          [
            { db: db1.databaseName, coll: 'x' },
            { db: db2.databaseName, coll: 'y' },
          ],
          'a cluster stream excludes the admin database',
        );
      });
    });

    it('a user $match stage filters events on the server', async () => {
      const db = await freshDb('match', 'c');
      const pipeline = [{ $match: { operationType: 'insert', 'fullDocument.keep': true } }];
      await withStream(db.collection('c').watch<Document, Document>(pipeline, STREAM_OPTIONS), async (stream) => {
        await db.collection<Doc>('c').insertOne({ _id: 1, keep: false });
        await db.collection<Doc>('c').insertOne({ _id: 2, keep: true });
        await db.collection<Doc>('c').updateOne({ _id: 2 }, { $set: { x: 1 } });
        await db.collection<Doc>('c').insertOne({ _id: 3, keep: true });
        const events = await nextEvents(stream, 2);
        assert.deepEqual(
          events.map((e) => e.documentKey._id),
          [2, 3],
        );
        await expectNoEvent(stream, 200);
      });
    });
  });

  describe('event shapes', () => {
    it('insert: fullDocument, ns, documentKey, clusterTime equal to the write operationTime', async () => {
      const db = await freshDb('insert', 'c');
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        const session = client.startSession();
        let writeTime: Timestamp | undefined;
        try {
          await db.collection<Doc>('c').insertOne({ _id: 1, name: 'first', nested: { a: [1, 2] } }, { session });
          writeTime = session.operationTime;
        } finally {
          await session.endSession();
        }
        const event = await nextEvent(stream);
        assertCommonFields(event, 'insert');
        assert.deepEqual(event.ns, { db: db.databaseName, coll: 'c' });
        assert.deepEqual(event.documentKey, { _id: 1 });
        assert.deepEqual(event.fullDocument, { _id: 1, name: 'first', nested: { a: [1, 2] } });
        assert.equal('updateDescription' in event, false);
        assert.equal('fullDocumentBeforeChange' in event, false);
        assert.equal(event.lsid, undefined);
        assert.equal(event.txnNumber, undefined);
        assert.ok(writeTime && event.clusterTime.equals(writeTime), 'event clusterTime is the write operationTime');
      });
    });

    it('update: updateDescription with updatedFields (dotted paths), removedFields and truncatedArrays; no fullDocument', async () => {
      const db = await freshDb('update', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1, a: 1, b: 'x', gone: true, nested: { c: 1, d: 1 } });
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.updateOne({ _id: 1 }, { $set: { b: 'y', 'nested.c': 2 }, $inc: { a: 5 }, $unset: { gone: '' } });
        const event = await nextEvent(stream);
        assertCommonFields(event, 'update');
        assert.deepEqual(event.ns, { db: db.databaseName, coll: 'c' });
        assert.deepEqual(event.documentKey, { _id: 1 });
        assert.deepEqual(event.updateDescription, {
          updatedFields: { a: 6, b: 'y', 'nested.c': 2 },
          removedFields: ['gone'],
          truncatedArrays: [],
        });
        assert.equal('fullDocument' in event, false, 'no fullDocument on update by default');
      });
    });

    it('setting an array element is reported with a dotted index path', async () => {
      const db = await freshDb('arrelem', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1, arr: ['a', 'b', 'c'] });
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.updateOne({ _id: 1 }, { $set: { 'arr.1': 'B' } });
        const event = await nextEvent(stream);
        assert.deepEqual(event.updateDescription, { updatedFields: { 'arr.1': 'B' }, removedFields: [], truncatedArrays: [] });
      });
    });

    it('an upsert is an insert event; findOneAndUpdate/Replace/Delete give update/replace/delete events', async () => {
      const db = await freshDb('famevents', 'c');
      const coll = db.collection<Doc>('c');
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.updateOne({ _id: 'u' }, { $set: { v: 1 } }, { upsert: true });
        await coll.findOneAndUpdate({ _id: 'u' }, { $set: { v: 2 } });
        await coll.findOneAndReplace({ _id: 'u' }, { w: 3 });
        await coll.findOneAndUpdate({ _id: 'f' }, { $set: { v: 0 } }, { upsert: true });
        await coll.findOneAndDelete({ _id: 'u' });
        const events = await nextEvents(stream, 5);
        assert.deepEqual(
          events.map((e) => [e.operationType, e.documentKey._id]),
          [
            ['insert', 'u'],
            ['update', 'u'],
            ['replace', 'u'],
            ['insert', 'f'],
            ['delete', 'u'],
          ],
        );
        assert.deepEqual(events[0]?.fullDocument, { _id: 'u', v: 1 });
        assert.deepEqual(events[1]?.updateDescription?.updatedFields, { v: 2 });
        assert.deepEqual(events[2]?.fullDocument, { _id: 'u', w: 3 });
        assert.deepEqual(events[3]?.fullDocument, { _id: 'f', v: 0 });
      });
    });

    it('a stream on a collection that does not exist yet sees its first writes', async () => {
      const db = client.db(uniqueDbName('notyet'));
      await withStream(db.collection('later').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await db.collection<Doc>('later').insertOne({ _id: 'first' });
        const event = await nextEvent(stream);
        assert.equal(event.operationType, 'insert');
        assert.deepEqual(event.documentKey, { _id: 'first' });
      });
    });

    it('a pipeline update that shortens an array reports truncatedArrays', async () => {
      const db = await freshDb('trunc', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1, a: 1, array: ['foo', { a: 'bar' }, 1, 2, 3] });
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.updateOne({ _id: 1 }, [{ $set: { array: ['foo', { a: 'bar' }] } }]);
        const event = await nextEvent(stream);
        assert.equal(event.operationType, 'update');
        assert.deepEqual(event.updateDescription, {
          updatedFields: {},
          removedFields: [],
          truncatedArrays: [{ field: 'array', newSize: 2 }],
        });
      });
    });

    it('replace: fullDocument is the new document; delete: only documentKey', async () => {
      const db = await freshDb('repdel', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1, old: true });
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.replaceOne({ _id: 1 }, { fresh: 'yes' });
        await coll.deleteOne({ _id: 1 });
        const [replace, del] = await nextEvents(stream, 2);
        assert.ok(replace && del);
        assertCommonFields(replace, 'replace');
        assert.deepEqual(replace.fullDocument, { _id: 1, fresh: 'yes' });
        assert.deepEqual(replace.documentKey, { _id: 1 });
        assert.deepEqual(replace.ns, { db: db.databaseName, coll: 'c' });
        assert.equal('updateDescription' in replace, false);
        assertCommonFields(del, 'delete');
        assert.deepEqual(del.documentKey, { _id: 1 });
        assert.deepEqual(del.ns, { db: db.databaseName, coll: 'c' });
        assert.equal('fullDocument' in del, false, 'no fullDocument on delete');
        assert.ok(del.clusterTime.greaterThan(replace.clusterTime), 'later writes have later clusterTimes');
      });
    });

    it('multi-document writes give one event per document, in order; a no-op update gives none', async () => {
      const db = await freshDb('multi', 'c');
      const coll = db.collection<Doc>('c');
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.insertMany([
          { _id: 1, g: 1 },
          { _id: 2, g: 1 },
          { _id: 3, g: 2 },
        ]);
        await coll.updateMany({ g: 1 }, { $set: { seen: true } });
        await coll.updateOne({ _id: 3 }, { $set: { g: 2 } }); // changes nothing
        await coll.deleteMany({});
        const events = await nextEvents(stream, 8);
        assert.deepEqual(
          events.map((e) => [e.operationType, e.documentKey._id]),
          [
            ['insert', 1],
            ['insert', 2],
            ['insert', 3],
            ['update', 1],
            ['update', 2],
            ['delete', 1],
            ['delete', 2],
            ['delete', 3],
          ],
        );
        await expectNoEvent(stream, 200);
      });
    });
  });

  describe('fullDocument and fullDocumentBeforeChange', () => {
    it("fullDocument 'updateLookup' gives the current majority-committed document, or null once deleted", async () => {
      const db = await freshDb('lookup', 'c');
      const coll = db.collection<Doc>('c');
      const majority = { writeConcern: { w: 'majority' as const } };
      await coll.insertMany([
        { _id: 1, v: 0 },
        { _id: 2, v: 0 },
      ]);
      const options = { ...STREAM_OPTIONS, fullDocument: 'updateLookup' as const };
      await withStream(db.collection('c').watch<Document, Document>([], options), async (stream) => {
        await coll.updateOne({ _id: 1 }, { $set: { v: 1 } }, majority);
        await coll.updateOne({ _id: 1 }, { $set: { v: 2 } }, majority);
        await coll.updateOne({ _id: 2 }, { $set: { v: 1 } }, majority);
        await coll.deleteOne({ _id: 2 }, majority);
        const [first, second, third, fourth] = await nextEvents(stream, 4);
        assert.deepEqual(first?.updateDescription?.updatedFields, { v: 1 });
        assert.deepEqual(first?.fullDocument, { _id: 1, v: 2 }, 'the lookup returns the current document, not the post-image');
        assert.deepEqual(second?.fullDocument, { _id: 1, v: 2 });
        assert.equal(third?.operationType, 'update');
        assert.equal(third?.fullDocument, null, 'a deleted document looks up as null');
        assert.equal(fourth?.operationType, 'delete');
      });
    });

    it("fullDocument 'whenAvailable' gives null and 'required' fails (47) when post-images are disabled", async () => {
      const db = await freshDb('postoff', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1 });
      const whenAvailable = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, fullDocument: 'whenAvailable' });
      const required = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, fullDocument: 'required' });
      try {
        await openStream(whenAvailable);
        await openStream(required);
        await coll.updateOne({ _id: 1 }, { $set: { x: 1 } });
        const event = await nextEvent(whenAvailable);
        assert.equal(event.operationType, 'update');
        assert.ok('fullDocument' in event, 'fullDocument is present');
        assert.equal(event.fullDocument, null);
        const error = await captureError(() => nextEvent(required), "iterating a 'required' stream");
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 47, 'NoMatchingDocument');
        assert.equal(required.closed, true, 'the error is not resumable: the stream is closed');
      } finally {
        await whenAvailable.close();
        await required.close();
      }
    });

    it("with changeStreamPreAndPostImages enabled, 'whenAvailable' and 'required' give the post-image of each update", async () => {
      const db = client.db(uniqueDbName('poston'));
      await db.createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
      const coll = db.collection<Doc>('c');
      for (const mode of ['whenAvailable', 'required'] as const) {
        await coll.insertOne({ _id: mode, v: 0 });
        const options = { ...STREAM_OPTIONS, fullDocument: mode };
        await withStream(db.collection('c').watch<Document, Document>([], options), async (stream) => {
          await coll.updateOne({ _id: mode }, { $inc: { v: 1 } });
          await coll.updateOne({ _id: mode }, { $inc: { v: 1 }, $set: { tag: 'b' } });
          const [first, second] = await nextEvents(stream, 2);
          assert.deepEqual(first?.fullDocument, { _id: mode, v: 1 }, `${mode}: the first event carries the post-image of the first update`);
          assert.deepEqual(second?.fullDocument, { _id: mode, v: 2, tag: 'b' }, `${mode}: second post-image`);
        });
      }
    });

    it("fullDocumentBeforeChange 'whenAvailable'/'required' give pre-images of update, replace and delete when enabled", async () => {
      const db = client.db(uniqueDbName('preon'));
      await db.createCollection('c', { changeStreamPreAndPostImages: { enabled: true } });
      const coll = db.collection<Doc>('c');
      for (const mode of ['whenAvailable', 'required'] as const) {
        await coll.insertOne({ _id: mode, v: 0 });
        const options = { ...STREAM_OPTIONS, fullDocumentBeforeChange: mode };
        await withStream(db.collection('c').watch<Document, Document>([], options), async (stream) => {
          await coll.updateOne({ _id: mode }, { $set: { v: 1 } });
          await coll.replaceOne({ _id: mode }, { replaced: true });
          await coll.deleteOne({ _id: mode });
          await coll.insertOne({ _id: `${mode}-new` });
          const [update, replace, del, insert] = await nextEvents(stream, 4);
          assert.equal(update?.operationType, 'update');
          assert.deepEqual(update?.fullDocumentBeforeChange, { _id: mode, v: 0 }, `${mode}: update pre-image`);
          assert.equal(replace?.operationType, 'replace');
          assert.deepEqual(replace?.fullDocumentBeforeChange, { _id: mode, v: 1 }, `${mode}: replace pre-image`);
          assert.deepEqual(replace?.fullDocument, { _id: mode, replaced: true });
          assert.equal(del?.operationType, 'delete');
          assert.deepEqual(del?.fullDocumentBeforeChange, { _id: mode, replaced: true }, `${mode}: delete pre-image`);
          assert.equal(insert?.operationType, 'insert');
          assert.equal('fullDocumentBeforeChange' in (insert ?? {}), false, 'inserts have no pre-image field');
        });
      }
    });

    it("fullDocumentBeforeChange 'whenAvailable' gives null, 'off' omits it, 'required' fails when pre-images are disabled", async () => {
      const db = await freshDb('preoff', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 1, v: 0 });
      const whenAvailable = db
        .collection('c')
        .watch<Document, Document>([], { ...STREAM_OPTIONS, fullDocumentBeforeChange: 'whenAvailable' });
      const off = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, fullDocumentBeforeChange: 'off' });
      const required = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, fullDocumentBeforeChange: 'required' });
      try {
        await openStream(whenAvailable);
        await openStream(off);
        await openStream(required);
        await coll.updateOne({ _id: 1 }, { $set: { v: 1 } });
        await coll.deleteOne({ _id: 1 });
        const [update, del] = await nextEvents(whenAvailable, 2);
        assert.ok(update && 'fullDocumentBeforeChange' in update, 'the field is present');
        assert.equal(update.fullDocumentBeforeChange, null);
        assert.ok(del && 'fullDocumentBeforeChange' in del);
        assert.equal(del.fullDocumentBeforeChange, null);
        const plain = await nextEvent(off);
        assert.equal('fullDocumentBeforeChange' in plain, false);
        const error = await captureError(() => nextEvent(required), "iterating a 'required' stream");
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.ok([47, 51770].includes(Number(error.code)), `code ${error.code} is NoMatchingDocument (47) or 51770`);
        assert.equal(required.closed, true);
      } finally {
        await whenAvailable.close();
        await off.close();
        await required.close();
      }
    });
  });

  describe('invalidation and DDL events', () => {
    it("dropping the collection gives 'drop' then 'invalidate', and the stream closes", async () => {
      const db = await freshDb('drop', 'c');
      await db.collection<Doc>('c').insertOne({ _id: 0 });
      const stream = db.collection('c').watch<Document, Document>([], STREAM_OPTIONS);
      try {
        await openStream(stream);
        await db.collection<Doc>('c').insertOne({ _id: 1 });
        await db.collection('c').drop();
        const [insert, drop, invalidate] = await nextEvents(stream, 3);
        assert.equal(insert?.operationType, 'insert');
        assert.ok(drop && invalidate);
        assertCommonFields(drop, 'drop');
        assert.deepEqual(drop.ns, { db: db.databaseName, coll: 'c' });
        assertCommonFields(invalidate, 'invalidate');
        assert.ok(tokenData(invalidate._id) > tokenData(drop._id), 'the invalidate token sorts after the drop');
        assert.equal(stream.closed, true, 'the server closed the cursor after invalidate');
      } finally {
        await stream.close();
      }
    });

    it("renaming the collection gives 'rename' with 'to' then 'invalidate'; a database stream just continues", async () => {
      const db = await freshDb('rename', 'src');
      const collStream = db.collection('src').watch<Document, Document>([], STREAM_OPTIONS);
      const dbStream = db.watch<Document, Document>([], STREAM_OPTIONS);
      try {
        await openStream(collStream);
        await openStream(dbStream);
        await db.collection('src').rename('dst');
        await db.collection<Doc>('dst').insertOne({ _id: 'after rename' });
        const [rename, invalidate] = await nextEvents(collStream, 2);
        assert.ok(rename && invalidate);
        assertCommonFields(rename, 'rename');
        assert.deepEqual(rename.ns, { db: db.databaseName, coll: 'src' });
        assert.deepEqual(rename.to, { db: db.databaseName, coll: 'dst' });
        assert.equal(invalidate.operationType, 'invalidate');
        assert.equal(collStream.closed, true);

        const [dbRename, dbInsert] = await nextEvents(dbStream, 2);
        assert.equal(dbRename?.operationType, 'rename');
        assert.deepEqual(dbRename?.to, { db: db.databaseName, coll: 'dst' });
        assert.equal(dbInsert?.operationType, 'insert');
        assert.deepEqual(dbInsert?.ns, { db: db.databaseName, coll: 'dst' });
        assert.equal(dbStream.closed, false);
      } finally {
        await collStream.close();
        await dbStream.close();
      }
    });

    it("dropDatabase on a database stream: 'drop' per collection, 'dropDatabase', 'invalidate'; a cluster stream continues", async () => {
      const db = await freshDb('dropdb', 'a', 'b');
      const other = await freshDb('dropdb2', 'z');
      const dbStream = db.watch<Document, Document>([], STREAM_OPTIONS);
      const mine = { $match: { 'ns.db': { $in: [db.databaseName, other.databaseName] } } };
      const clusterStream = client.watch<Document, Document>([mine], STREAM_OPTIONS);
      try {
        await openStream(dbStream);
        await openStream(clusterStream);
        await db.dropDatabase();
        await other.collection<Doc>('z').insertOne({ _id: 'still watching' });

        const events = await nextEvents(dbStream, 4);
        const drops = events.slice(0, 2);
        for (const drop of drops) assert.equal(drop.operationType, 'drop');
        assert.deepEqual(drops.map((e) => e.ns.coll).sort(), ['a', 'b']);
        assert.ok(events[2]);
        assertCommonFields(events[2], 'dropDatabase');
        assert.deepEqual(events[2].ns, { db: db.databaseName });
        assert.equal(events[3]?.operationType, 'invalidate');
        assert.equal(dbStream.closed, true);

        const clusterEvents = await nextEvents(clusterStream, 4);
        assert.deepEqual(
          clusterEvents.map((e) => e.operationType),
          ['drop', 'drop', 'dropDatabase', 'insert'],
          'a cluster stream is never invalidated',
        );
        assert.deepEqual(clusterEvents[3]?.documentKey, { _id: 'still watching' });
      } finally {
        await dbStream.close();
        await clusterStream.close();
      }
    });
  });

  describe('resume tokens and start points', () => {
    it('resume tokens are {_data: upper-case hex} and sort in stream order, also within a transaction', async () => {
      const db = await freshDb('tokens', 'c');
      const coll = db.collection<Doc>('c');
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        for (let i = 0; i < 5; i += 1) await coll.insertOne({ _id: i });
        const session = client.startSession();
        try {
          await session.withTransaction(async (s) => {
            await coll.insertOne({ _id: 'tx1' }, { session: s });
            await coll.insertOne({ _id: 'tx2' }, { session: s });
            await coll.updateOne({ _id: 0 }, { $set: { inTx: true } }, { session: s });
          });
        } finally {
          await session.endSession();
        }
        await coll.updateMany({}, { $set: { all: true } });
        const events = await nextEvents(stream, 5 + 3 + 7);
        const tokens = events.map((e) => tokenData(e._id));
        for (let i = 1; i < tokens.length; i += 1) {
          assert.ok(
            tokens[i - 1]! < tokens[i]!,
            `token ${i - 1} < token ${i} (${events[i - 1]?.operationType} then ${events[i]?.operationType})`,
          );
        }
        assert.equal(new Set(tokens).size, tokens.length, 'tokens are unique');
      });
    });

    it('resumeAfter an event token continues with exactly the following events', async () => {
      const db = await freshDb('resume', 'c');
      const coll = db.collection<Doc>('c');
      let token: Document | undefined;
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3 }]);
        const events = await nextEvents(stream, 3);
        token = events[0]?._id;
      });
      assert.ok(token);
      await coll.insertOne({ _id: 4 });
      const resumed = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: token });
      try {
        const events = await nextEvents(resumed, 3);
        assert.deepEqual(
          events.map((e) => e.documentKey._id),
          [2, 3, 4],
        );
        await expectNoEvent(resumed, 200);
      } finally {
        await resumed.close();
      }
    });

    it('startAfter an invalidate token works; resumeAfter it fails with InvalidResumeToken (260)', async () => {
      const db = await freshDb('startafter', 'c');
      const coll = db.collection<Doc>('c');
      let invalidateToken: Document | undefined;
      await withStream(db.collection('c').watch<Document, Document>([], STREAM_OPTIONS), async (stream) => {
        await coll.insertOne({ _id: 'old' });
        await coll.drop();
        const events = await nextEvents(stream, 3);
        assert.equal(events[2]?.operationType, 'invalidate');
        invalidateToken = events[2]?._id;
      });
      assert.ok(invalidateToken);
      await coll.insertOne({ _id: 'recreated' });

      const bad = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: invalidateToken });
      try {
        const error = await captureError(() => bad.tryNext(), 'resumeAfter an invalidate token');
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 260);
        assert.equal(error.codeName, 'InvalidResumeToken');
      } finally {
        await bad.close();
      }

      const good = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, startAfter: invalidateToken });
      try {
        const first = await nextEvent(good);
        assert.equal(first.operationType, 'insert');
        assert.deepEqual(first.documentKey, { _id: 'recreated' });
        await coll.insertOne({ _id: 'later' });
        const second = await nextEvent(good);
        assert.deepEqual(second.documentKey, { _id: 'later' });
      } finally {
        await good.close();
      }
    });

    it("startAtOperationTime from a session's operationTime includes that write and everything after", async () => {
      const db = await freshDb('startat', 'c');
      const coll = db.collection<Doc>('c');
      await coll.insertOne({ _id: 'before' });
      const session = client.startSession();
      let startAt: Timestamp | undefined;
      try {
        await coll.insertOne({ _id: 1 }, { session });
        startAt = session.operationTime;
      } finally {
        await session.endSession();
      }
      assert.ok(startAt instanceof Timestamp);
      await coll.insertOne({ _id: 2 });
      await coll.updateOne({ _id: 1 }, { $set: { x: 1 } });
      const stream = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, startAtOperationTime: startAt });
      try {
        const events = await nextEvents(stream, 3);
        assert.deepEqual(
          events.map((e) => [e.operationType, e.documentKey._id]),
          [
            ['insert', 1],
            ['insert', 2],
            ['update', 1],
          ],
        );
        assert.ok(events[0]?.clusterTime.equals(startAt), 'the first event is at the start time');
        await expectNoEvent(stream, 200);
      } finally {
        await stream.close();
      }
    });

    it('after an empty batch the resume token is the postBatchResumeToken, and resuming from it loses nothing', async () => {
      const monitored = await rs.connect({ monitorCommands: true });
      const log = new CommandLog(monitored);
      const db = monitored.db(uniqueDbName('pbrt'));
      await db.createCollection('c');
      const stream = db.collection('c').watch<Document, Document>([], STREAM_OPTIONS);
      try {
        await openStream(stream);
        const aggregate = log.succeededNamed('aggregate')[0]?.reply as Document | undefined;
        assert.ok(aggregate, 'the aggregate succeeded');
        assert.notEqual(String(aggregate.cursor.id), '0', 'a change stream cursor stays open even with an empty first batch');
        assert.deepEqual(aggregate.cursor.firstBatch, []);
        tokenData(aggregate.cursor.postBatchResumeToken);
        for (const getMore of log.succeededNamed('getMore')) {
          tokenData((getMore.reply as Document).cursor.postBatchResumeToken);
        }
        const emptyToken = stream.resumeToken;
        const emptyData = tokenData(emptyToken);

        await db.collection<Doc>('c').insertOne({ _id: 'x' });
        const event = await nextEvent(stream);
        assert.ok(tokenData(event._id) > emptyData, 'the event token sorts after the earlier postBatchResumeToken');
        await expectNoEvent(stream, 150);
        assert.ok(tokenData(stream.resumeToken) >= tokenData(event._id), 'the token never goes backwards');

        const resumed = db.collection('c').watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: emptyToken });
        try {
          const again = await nextEvent(resumed);
          assert.deepEqual(again.documentKey, { _id: 'x' }, 'resuming from the empty-batch token delivers the insert');
          assert.deepEqual(again._id, event._id, 'with the same resume token');
        } finally {
          await resumed.close();
        }
      } finally {
        await stream.close();
        log.stop();
        await monitored.close();
      }
    });

    it('projecting out _id fails with ChangeStreamFatalError (280)', async () => {
      const db = await freshDb('noid', 'c');
      const stream = db.collection('c').watch<Document, Document>([{ $project: { _id: 0 } }], STREAM_OPTIONS);
      try {
        await openStream(stream);
        await db.collection<Doc>('c').insertOne({ _id: 1 });
        const error = await captureError(() => nextEvent(stream), 'reading an event without _id');
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 280);
        assert.ok(error.hasErrorLabel('NonResumableChangeStreamError'));
      } finally {
        await stream.close();
      }
    });
  });

  describe('delivery', () => {
    it('an event arrives promptly while a getMore is waiting (maxAwaitTimeMS 5000)', async () => {
      const monitored = await rs.connect({ monitorCommands: true });
      const log = new CommandLog(monitored);
      const db = monitored.db(uniqueDbName('prompt'));
      await db.createCollection('c');
      const stream = db.collection('c').watch<Document, Document>([], { maxAwaitTimeMS: 5000 });
      try {
        const pending = stream.next();
        pending.catch(() => undefined);
        await waitFor(() => log.startedNamed('getMore').length > 0, { message: 'the first getMore to be sent' });
        await client.db(db.databaseName).collection<Doc>('c').insertOne({ _id: 'now' });
        const written = Date.now();
        const event = await pending;
        const latency = Date.now() - written;
        assert.deepEqual(event.documentKey, { _id: 'now' });
        assert.ok(latency < 1000, `the event arrived ${latency} ms after the write`);
      } finally {
        await stream.close();
        log.stop();
        await monitored.close();
      }
    });
  });
});
