/**
 * Collections, databases and indexes: create/collMod/drop/rename, listing, and
 * unique-index enforcement with the error details a sync engine reports.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, MongoServerError, type Document, type MongoClient } from 'mongodb';
import { captureError, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

describe('DDL', () => {
  let client: MongoClient;

  withReplSet((_rs, c) => (client = c));

  async function collectionInfo(dbName: string, name: string): Promise<Document | undefined> {
    const [info] = await client.db(dbName).listCollections({ name }).toArray();
    return info;
  }

  async function collectionNames(dbName: string): Promise<string[]> {
    return (await client.db(dbName).listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  }

  describe('collections', () => {
    it('createCollection creates an empty collection that listCollections describes', async () => {
      const dbName = uniqueDbName('create');
      await client.db(dbName).createCollection('fresh');
      assert.equal(await client.db(dbName).collection('fresh').countDocuments(), 0);
      const info = await collectionInfo(dbName, 'fresh');
      assert.ok(info, 'listCollections lists the new collection');
      assert.equal(info.name, 'fresh');
      assert.equal(info.type, 'collection');
      assert.equal(typeof info.options, 'object');
      assert.equal(info.info?.readOnly, false);
      assert.ok(info.info?.uuid instanceof Binary, 'info.uuid is a Binary');
      assert.equal(info.info.uuid.sub_type, 4, 'info.uuid is a UUID');
      assert.deepEqual(info.idIndex?.key, { _id: 1 });
      assert.equal(info.idIndex?.name, '_id_');
    });

    it('creating an existing collection: same options succeed (7.0+), different options fail with NamespaceExists (48)', async () => {
      const dbName = uniqueDbName('createdup');
      const db = client.db(dbName);
      await db.createCollection('c');
      await db.collection<Doc>('c').insertOne({ _id: 1 });
      await db.createCollection('c');
      const error = await captureError(() => db.createCollection('c', { capped: true, size: 4096 }), 'create with other options');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 48);
      assert.equal(error.codeName, 'NamespaceExists');
      assert.deepEqual(await db.collection<Doc>('c').find().toArray(), [{ _id: 1 }], 'the existing data is untouched');
      const info = await collectionInfo(dbName, 'c');
      assert.notEqual(info?.options?.capped, true, 'the existing collection is not turned into a capped one');
    });

    it('the first insert creates the collection implicitly', async () => {
      const dbName = uniqueDbName('implicit');
      await client.db(dbName).collection<Doc>('auto').insertOne({ _id: 1 });
      assert.deepEqual(await collectionNames(dbName), ['auto']);
    });

    it('changeStreamPreAndPostImages can be set at create time and with collMod, and shows in listCollections options', async () => {
      const dbName = uniqueDbName('prepost');
      const db = client.db(dbName);
      await db.createCollection('atCreate', { changeStreamPreAndPostImages: { enabled: true } });
      assert.deepEqual((await collectionInfo(dbName, 'atCreate'))?.options?.changeStreamPreAndPostImages, { enabled: true });

      await db.createCollection('viaCollMod');
      assert.notEqual((await collectionInfo(dbName, 'viaCollMod'))?.options?.changeStreamPreAndPostImages?.enabled, true);
      const reply = await db.command({ collMod: 'viaCollMod', changeStreamPreAndPostImages: { enabled: true } });
      assert.equal(reply.ok, 1);
      assert.deepEqual((await collectionInfo(dbName, 'viaCollMod'))?.options?.changeStreamPreAndPostImages, { enabled: true });

      await db.command({ collMod: 'viaCollMod', changeStreamPreAndPostImages: { enabled: false } });
      assert.notEqual((await collectionInfo(dbName, 'viaCollMod'))?.options?.changeStreamPreAndPostImages?.enabled, true);
    });

    it('collMod on a missing collection fails with NamespaceNotFound (26)', async () => {
      const db = client.db(uniqueDbName('collmodmiss'));
      await db.createCollection('other');
      const error = await captureError(
        () => db.command({ collMod: 'missing', changeStreamPreAndPostImages: { enabled: true } }),
        'collMod of a missing collection',
      );
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 26);
    });

    it('listCollections filters by name and by options, and nameOnly returns names and types', async () => {
      const dbName = uniqueDbName('listcoll');
      const db = client.db(dbName);
      await db.createCollection('alpha');
      await db.createCollection('beta');
      await db.createCollection('gamma', { capped: true, size: 8192 });
      assert.deepEqual(await collectionNames(dbName), ['alpha', 'beta', 'gamma']);
      const byName = await db.listCollections({ name: 'beta' }).toArray();
      assert.equal(byName.length, 1);
      assert.equal(byName[0]?.name, 'beta');
      assert.deepEqual(await db.listCollections({ name: 'nope' }).toArray(), []);
      const capped = await db.listCollections({ 'options.capped': true }).toArray();
      assert.deepEqual(
        capped.map((c) => c.name),
        ['gamma'],
      );
      for (const entry of await db.listCollections({}, { nameOnly: true }).toArray()) {
        assert.equal(typeof entry.name, 'string');
        assert.equal(entry.type, 'collection');
      }
      const names = (await db.collections()).map((c) => c.collectionName).sort();
      assert.deepEqual(names, ['alpha', 'beta', 'gamma']);
    });

    it('drop removes the collection and its documents', async () => {
      const dbName = uniqueDbName('drop');
      const db = client.db(dbName);
      await db.collection<Doc>('doomed').insertMany([{ _id: 1 }, { _id: 2 }]);
      await db.collection<Doc>('kept').insertOne({ _id: 1 });
      assert.equal(await db.collection('doomed').drop(), true);
      assert.deepEqual(await collectionNames(dbName), ['kept']);
      assert.equal(await db.collection('doomed').countDocuments(), 0);
      await db.collection('doomed').drop(); // dropping a missing collection is not an error for the driver
      await db.collection<Doc>('doomed').insertOne({ _id: 3 });
      assert.deepEqual(await db.collection<Doc>('doomed').find().toArray(), [{ _id: 3 }], 'a re-created collection starts empty');
    });

    it('renameCollection moves the data; renaming onto an existing name fails unless dropTarget', async () => {
      const dbName = uniqueDbName('rename');
      const db = client.db(dbName);
      await db.collection<Doc>('src').insertMany([{ _id: 1 }, { _id: 2 }]);
      await db.collection<Doc>('taken').insertOne({ _id: 't' });
      await db.collection('src').rename('dst');
      assert.deepEqual(await collectionNames(dbName), ['dst', 'taken']);
      assert.equal(await db.collection('dst').countDocuments(), 2);
      const error = await captureError(() => db.collection('dst').rename('taken'), 'rename onto an existing collection');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 48);
      await db.collection('dst').rename('taken', { dropTarget: true });
      assert.deepEqual(await collectionNames(dbName), ['taken']);
      assert.deepEqual(
        await db
          .collection<Doc>('taken')
          .find({}, { sort: { _id: 1 } })
          .toArray(),
        [{ _id: 1 }, { _id: 2 }],
      );
    });
  });

  describe('databases', () => {
    it('listDatabases lists databases that hold collections, and dropDatabase removes one', async () => {
      const dbName = uniqueDbName('listdb');
      const db = client.db(dbName);
      await db.collection<Doc>('a').insertOne({ _id: 1 });
      await db.collection<Doc>('b').insertOne({ _id: 1 });
      const listed = await client.db('admin').admin().listDatabases();
      assert.equal(listed.ok, 1);
      const names = listed.databases.map((d) => d.name);
      assert.ok(names.includes(dbName), `${dbName} is listed`);
      assert.ok(names.includes('admin'), 'admin is listed');
      assert.ok(names.includes('local'), 'local is listed');
      const entry = listed.databases.find((d) => d.name === dbName);
      assert.equal(typeof entry?.sizeOnDisk, 'number');
      assert.equal(entry?.empty, false);
      assert.equal(typeof listed.totalSize, 'number');
      const nameOnly = await client.db('admin').admin().listDatabases({ nameOnly: true });
      assert.ok(nameOnly.databases.some((d) => d.name === dbName));

      assert.equal(await db.dropDatabase(), true);
      const after = (await client.db('admin').admin().listDatabases()).databases.map((d) => d.name);
      assert.ok(!after.includes(dbName), 'a dropped database is no longer listed');
      assert.deepEqual(await collectionNames(dbName), []);
      assert.equal(await db.collection('a').countDocuments(), 0);
    });
  });

  describe('indexes', () => {
    it('createIndex (unique and compound) and listIndexes', async () => {
      const coll = client.db(uniqueDbName('idx')).collection<Doc>('users');
      assert.equal(await coll.createIndex({ email: 1 }, { unique: true }), 'email_1');
      assert.equal(await coll.createIndex({ tenant: 1, createdAt: -1 }), 'tenant_1_createdAt_-1');
      assert.equal(await coll.createIndex({ code: 1 }, { name: 'by_code' }), 'by_code');
      assert.equal(await coll.createIndex({ email: 1 }, { unique: true }), 'email_1', 'creating the same index again is fine');
      const indexes = await coll.listIndexes().toArray();
      const byName = new Map(indexes.map((i) => [i.name as string, i]));
      assert.deepEqual([...byName.keys()].sort(), ['_id_', 'by_code', 'email_1', 'tenant_1_createdAt_-1']);
      assert.deepEqual(byName.get('_id_')?.key, { _id: 1 });
      assert.deepEqual(byName.get('email_1')?.key, { email: 1 });
      assert.equal(byName.get('email_1')?.unique, true);
      assert.deepEqual(byName.get('tenant_1_createdAt_-1')?.key, { tenant: 1, createdAt: -1 });
      assert.notEqual(byName.get('tenant_1_createdAt_-1')?.unique, true);
      assert.deepEqual(byName.get('by_code')?.key, { code: 1 });
      for (const index of indexes) assert.equal(index.v, 2, `${index.name} is a v2 index`);
      assert.deepEqual(Object.keys(await coll.indexInformation()).sort(), ['_id_', 'by_code', 'email_1', 'tenant_1_createdAt_-1']);
    });

    it('a unique index rejects duplicates with code 11000, keyPattern and keyValue', async () => {
      const coll = client.db(uniqueDbName('uniq')).collection<Doc>('users');
      await coll.createIndex({ email: 1 }, { unique: true });
      await coll.insertOne({ _id: 1, email: 'a@example.com' });
      const insertError = await captureError(() => coll.insertOne({ _id: 2, email: 'a@example.com' }), 'duplicate insert');
      assert.ok(insertError instanceof MongoServerError, `got ${String(insertError)}`);
      assert.equal(insertError.code, 11000);
      assert.deepEqual(insertError.keyPattern, { email: 1 });
      assert.deepEqual(insertError.keyValue, { email: 'a@example.com' });
      assert.match(insertError.message, /email_1/, 'the message names the index');

      await coll.insertOne({ _id: 3, email: 'b@example.com' });
      const updateError = await captureError(
        () => coll.updateOne({ _id: 3 }, { $set: { email: 'a@example.com' } }),
        'update to a duplicate value',
      );
      assert.ok(updateError instanceof MongoServerError, `got ${String(updateError)}`);
      assert.equal(updateError.code, 11000);
      assert.deepEqual(updateError.keyValue, { email: 'a@example.com' });
      assert.deepEqual(await coll.findOne({ _id: 3 }), { _id: 3, email: 'b@example.com' }, 'the failed update changed nothing');

      await coll.insertOne({ _id: 4 });
      const missingError = await captureError(() => coll.insertOne({ _id: 5 }), 'second document without the unique field');
      assert.ok(missingError instanceof MongoServerError, `got ${String(missingError)}`);
      assert.equal(missingError.code, 11000, 'a missing field is indexed as null, so a second one is a duplicate');
      assert.deepEqual(missingError.keyValue, { email: null });
      assert.equal(await coll.countDocuments(), 3);
    });

    it('a compound unique index only rejects the same combination', async () => {
      const coll = client.db(uniqueDbName('uniqc')).collection<Doc>('codes');
      await coll.createIndex({ tenant: 1, code: 1 }, { unique: true });
      await coll.insertMany([
        { _id: 1, tenant: 't1', code: 'x' },
        { _id: 2, tenant: 't2', code: 'x' },
        { _id: 3, tenant: 't1', code: 'y' },
      ]);
      const error = await captureError(() => coll.insertOne({ _id: 4, tenant: 't1', code: 'x' }), 'duplicate pair');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 11000);
      assert.deepEqual(error.keyPattern, { tenant: 1, code: 1 });
      assert.deepEqual(error.keyValue, { tenant: 't1', code: 'x' });
    });

    it('building a unique index over existing duplicates fails and leaves no index', async () => {
      const coll = client.db(uniqueDbName('uniqbuild')).collection<Doc>('c');
      await coll.insertMany([
        { _id: 1, k: 'same' },
        { _id: 2, k: 'same' },
      ]);
      const error = await captureError(() => coll.createIndex({ k: 1 }, { unique: true }), 'unique index over duplicates');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 11000);
      const names = (await coll.listIndexes().toArray()).map((i) => i.name);
      assert.deepEqual(names, ['_id_']);
    });

    it('partial and sparse unique indexes only constrain the documents they cover; index options are listed', async () => {
      const coll = client.db(uniqueDbName('partial')).collection<Doc>('c');
      await coll.createIndex({ code: 1 }, { unique: true, partialFilterExpression: { code: { $type: 'string' } } });
      await coll.createIndex({ ref: 1 }, { unique: true, sparse: true });
      await coll.createIndex({ createdAt: 1 }, { expireAfterSeconds: 3600 });
      await coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 3, code: 5 }, { _id: 4, code: 5 }, { _id: 5, code: 'a', ref: 'r1' }]);
      const codeError = await captureError(() => coll.insertOne({ _id: 6, code: 'a' }), 'duplicate covered by the partial index');
      assert.ok(codeError instanceof MongoServerError, `got ${String(codeError)}`);
      assert.equal(codeError.code, 11000);
      const refError = await captureError(() => coll.insertOne({ _id: 7, ref: 'r1' }), 'duplicate covered by the sparse index');
      assert.ok(refError instanceof MongoServerError, `got ${String(refError)}`);
      assert.equal(refError.code, 11000);
      assert.equal(await coll.countDocuments(), 5);

      const byName = new Map((await coll.listIndexes().toArray()).map((i) => [i.name as string, i]));
      assert.deepEqual(byName.get('code_1')?.partialFilterExpression, { code: { $type: 'string' } });
      assert.equal(byName.get('code_1')?.unique, true);
      assert.equal(byName.get('ref_1')?.sparse, true);
      assert.equal(byName.get('createdAt_1')?.expireAfterSeconds, 3600);
    });

    it('listIndexes on a missing collection fails with NamespaceNotFound (26)', async () => {
      const db = client.db(uniqueDbName('noidx'));
      await db.createCollection('present');
      const error = await captureError(() => db.command({ listIndexes: 'absent' }), 'listIndexes of a missing collection');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 26);
    });

    it('dropIndex removes the index (and its constraint); a missing index fails with IndexNotFound (27)', async () => {
      const coll = client.db(uniqueDbName('dropidx')).collection<Doc>('c');
      await coll.createIndex({ k: 1 }, { unique: true });
      await coll.insertOne({ _id: 1, k: 1 });
      await coll.dropIndex('k_1');
      assert.deepEqual(
        (await coll.listIndexes().toArray()).map((i) => i.name),
        ['_id_'],
      );
      await coll.insertOne({ _id: 2, k: 1 });
      assert.equal(await coll.countDocuments({ k: 1 }), 2, 'duplicates are allowed once the unique index is gone');
      const error = await captureError(() => coll.dropIndex('k_1'), 'dropping a missing index');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 27);
    });
  });
});
