/**
 * showExpandedEvents: the details a 7.0 server adds — updateDescription's
 * disambiguatedPaths (a dotted path that could be read two ways, given as its
 * parts, array indexes as numbers), the dropped target of a rename, and a
 * `modify` event for every collMod.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UUID, type Db, type Document, type MongoClient } from 'mongodb';
import { nextEvent, openStream, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

const EXPANDED = { showExpandedEvents: true, maxAwaitTimeMS: 100 } as const;

describe('change streams with showExpandedEvents', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  /** Applies `update` to `doc` and returns the update event's description as a stream with `options` sees it. */
  async function describeUpdate(db: Db, doc: Doc, update: Document, options: Document): Promise<Document> {
    const coll = db.collection<Doc>('menus');
    await coll.insertOne(doc);
    const stream = coll.watch<Document, Document>([{ $match: { operationType: 'update' } }], options);
    try {
      await openStream(stream);
      await coll.updateOne({ _id: doc._id }, update);
      return (await nextEvent(stream)).updateDescription as Document;
    } finally {
      await stream.close();
    }
  }

  it('an ambiguous path (a numeric field name) is given as its parts', async () => {
    const db = client.db(uniqueDbName('disamb'));
    const description = await describeUpdate(db, { _id: 1, prices: { '1': 4.5 } }, { $set: { 'prices.1': 5 } }, EXPANDED);
    assert.deepEqual(description.updatedFields, { 'prices.1': 5 });
    assert.deepEqual(description.disambiguatedPaths, { 'prices.1': ['prices', '1'] });
  });

  it('an array index in an ambiguous path is a number', async () => {
    const db = client.db(uniqueDbName('disambidx'));
    const description = await describeUpdate(db, { _id: 1, lines: [{ '1': 'a' }] }, { $set: { 'lines.0.1': 'b' } }, EXPANDED);
    const parts = description.disambiguatedPaths?.['lines.0.1'] as unknown[];
    assert.deepEqual(parts, ['lines', 0, '1']);
    assert.equal(typeof parts[1], 'number');
  });

  it('with nothing ambiguous disambiguatedPaths is empty; without showExpandedEvents it is absent', async () => {
    const plain = await describeUpdate(client.db(uniqueDbName('disambnone')), { _id: 1, n: 1 }, { $set: { n: 2 } }, EXPANDED);
    assert.deepEqual(plain.disambiguatedPaths, {});
    const hidden = await describeUpdate(
      client.db(uniqueDbName('disambhide')),
      { _id: 1, prices: { '1': 4.5 } },
      { $set: { 'prices.1': 5 } },
      { maxAwaitTimeMS: 100 },
    );
    assert.equal('disambiguatedPaths' in hidden, false);
  });

  it('a rename over an existing collection names the dropped target', async () => {
    const db = client.db(uniqueDbName('renamedt'));
    await db.createCollection('menus_new');
    await db.createCollection('menus_old');
    const [targetInfo] = (await db.listCollections({ name: 'menus_old' }).toArray()) as Document[];
    const targetUuid = targetInfo?.info?.uuid as UUID | undefined;
    assert.ok(targetUuid instanceof UUID, 'listCollections gives the target uuid');
    const stream = db.collection('menus_new').watch<Document, Document>([], EXPANDED);
    try {
      await openStream(stream);
      await db.renameCollection('menus_new', 'menus_old', { dropTarget: true });
      const rename = await nextEvent(stream);
      assert.equal(rename.operationType, 'rename');
      assert.deepEqual(rename.to, { db: db.databaseName, coll: 'menus_old' });
      assert.deepEqual(rename.operationDescription?.to, { db: db.databaseName, coll: 'menus_old' });
      assert.ok(rename.operationDescription?.dropTarget instanceof UUID, 'dropTarget is the dropped collection’s uuid');
      assert.equal(rename.operationDescription.dropTarget.toHexString(), targetUuid.toHexString());
    } finally {
      await stream.close();
    }
  });

  it('every collMod is a modify event, with what changed and the options before', async () => {
    const db = client.db(uniqueDbName('collmod'));
    await db.createCollection('menus');
    const stream = db.collection('menus').watch<Document, Document>([], EXPANDED);
    try {
      await openStream(stream);
      await db.command({ collMod: 'menus' });
      const noop = await nextEvent(stream);
      assert.equal(noop.operationType, 'modify');
      await db.command({ collMod: 'menus', changeStreamPreAndPostImages: { enabled: true } });
      const modify = await nextEvent(stream);
      assert.equal(modify.operationType, 'modify');
      assert.deepEqual(modify.operationDescription, { changeStreamPreAndPostImages: { enabled: true } });
      assert.ok(modify.stateBeforeChange?.collectionOptions, 'the options before the change');
      assert.equal(modify.stateBeforeChange.collectionOptions.changeStreamPreAndPostImages, undefined);
    } finally {
      await stream.close();
    }
  });
});
