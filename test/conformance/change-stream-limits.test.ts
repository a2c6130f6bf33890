/**
 * The 16 MB limits. A document over 16 MB is refused: BadValue when it is
 * only just over, BSONObjectTooLarge (10334) when the server cannot even read
 * it. A change event over the limit — a large document's pre- and post-image
 * together — fails the stream with BSONObjectTooLarge, unless the pipeline
 * ends with $changeStreamSplitLargeEvent: then it arrives as fragments, each
 * with its own resume token.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, type Db, type Document, type MongoClient } from 'mongodb';
import { captureError, nextEvent, nextEvents, openStream, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

const MB = 1024 * 1024;
/** Pre- and post-images together are about 20 MB; each alone fits. */
const BIG = 'x'.repeat(10 * MB);
const IMAGES = { fullDocument: 'required', fullDocumentBeforeChange: 'required', maxAwaitTimeMS: 100 } as const;

describe('16 MB limits', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  /** A collection with pre- and post-images holding one 10 MB document. */
  async function bigDocument(prefix: string): Promise<Db> {
    const db = client.db(uniqueDbName(prefix));
    await db.createCollection('menus', { changeStreamPreAndPostImages: { enabled: true } });
    await db.collection<Doc>('menus').insertOne({ _id: 'big', text: BIG, v: 0 });
    return db;
  }

  it('a document of more than 16 MB + 16 KB fails with BSONObjectTooLarge and is not stored', async () => {
    const coll = client.db(uniqueDbName('huge')).collection<Doc>('c');
    // 16 MB + 100 KB: more than the server reads, less than the 17 MB the driver's serializer can hold.
    const error = await captureError(() => coll.insertOne({ _id: 'huge', text: 'x'.repeat(16 * MB + 100 * 1024) }), 'inserting 16.1 MB');
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 10334);
    assert.equal(error.codeName, 'BSONObjectTooLarge');
    assert.equal(await coll.countDocuments({ _id: 'huge' }), 0);
  });

  it('a document just over 16 MB is refused as too large to insert', async () => {
    const coll = client.db(uniqueDbName('justover')).collection<Doc>('c');
    const error = await captureError(() => coll.insertOne({ _id: 'over', text: 'x'.repeat(16 * MB) }), 'inserting 16 MB + a little');
    assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
    assert.equal(error.code, 2);
    assert.match(error.message, /object to insert too large/);
    assert.equal(await coll.countDocuments({ _id: 'over' }), 0);
  });

  it('an event over 16 MB fails the stream with BSONObjectTooLarge; the stream is not resumed', async () => {
    const db = await bigDocument('bigevent');
    const stream = db.collection('menus').watch<Document, Document>([], IMAGES);
    try {
      await openStream(stream);
      await db.collection<Doc>('menus').updateOne({ _id: 'big' }, { $set: { v: 1 } });
      const error = await captureError(() => nextEvent(stream, 10_000), 'reading a 20 MB event');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 10334);
      assert.equal(stream.closed, true);
    } finally {
      await stream.close();
    }
  });

  it('with $changeStreamSplitLargeEvent the event arrives as fragments that make it up whole; each fragment resumes', async () => {
    const db = await bigDocument('split');
    const menus = db.collection<Doc>('menus');
    const stream = menus.watch<Document, Document>([{ $changeStreamSplitLargeEvent: {} }], IMAGES);
    let fragments: Document[];
    try {
      await openStream(stream);
      await menus.updateOne({ _id: 'big' }, { $set: { v: 1 } });
      await menus.insertOne({ _id: 'next' });
      fragments = await nextEvents(stream, 2, 10_000);
      const after = await nextEvent(stream, 10_000);
      assert.deepEqual(after.documentKey, { _id: 'next' }, 'the next event follows the fragments');
    } finally {
      await stream.close();
    }
    assert.deepEqual(
      fragments.map((f) => f.splitEvent),
      [
        { fragment: 1, of: 2 },
        { fragment: 2, of: 2 },
      ],
    );
    const whole: Document = {};
    for (const fragment of fragments) {
      for (const [key, value] of Object.entries(fragment)) if (key !== '_id' && key !== 'splitEvent') whole[key] = value;
    }
    assert.equal(whole.operationType, 'update');
    assert.deepEqual(whole.documentKey, { _id: 'big' });
    assert.equal(whole.fullDocumentBeforeChange?.v, 0);
    assert.equal(whole.fullDocument?.v, 1);
    assert.equal(whole.fullDocument?.text.length, BIG.length);
    assert.ok(
      fragments[0]?.fullDocument === undefined || fragments[0]?.fullDocumentBeforeChange === undefined,
      'the images are in different fragments',
    );
    assert.notDeepEqual(fragments[0]?._id, fragments[1]?._id, 'each fragment has its own resume token');

    // Resuming from the first fragment gives the second; from the last, the next event.
    const fromFirst = menus.watch<Document, Document>([{ $changeStreamSplitLargeEvent: {} }], {
      ...IMAGES,
      resumeAfter: fragments[0]?._id,
    });
    try {
      const next = await nextEvent(fromFirst, 10_000);
      assert.deepEqual(next.splitEvent, { fragment: 2, of: 2 });
      assert.deepEqual(next._id, fragments[1]?._id);
    } finally {
      await fromFirst.close();
    }
    const fromLast = menus.watch<Document, Document>([{ $changeStreamSplitLargeEvent: {} }], { ...IMAGES, resumeAfter: fragments[1]?._id });
    try {
      assert.deepEqual((await nextEvent(fromLast, 10_000)).documentKey, { _id: 'next' });
    } finally {
      await fromLast.close();
    }
  });

  it('$changeStreamSplitLargeEvent must be the last stage', async () => {
    const db = client.db(uniqueDbName('splitlast'));
    await db.createCollection('c');
    const stream = db
      .collection('c')
      .watch<Document, Document>([{ $changeStreamSplitLargeEvent: {} }, { $match: { operationType: 'insert' } }]);
    try {
      const error = await captureError(() => stream.tryNext(), 'opening a stream with the split stage first');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 7182802);
    } finally {
      await stream.close();
    }
  });
});
