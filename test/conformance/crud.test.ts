/**
 * CRUD through the driver: writes and their results, update operators, the
 * findAndModify family, queries with cursors, aggregation, counting and BSON
 * type fidelity.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Binary,
  BSONRegExp,
  Decimal128,
  Double,
  Int32,
  Long,
  MaxKey,
  MinKey,
  MongoBulkWriteError,
  MongoServerError,
  ObjectId,
  Timestamp,
  UUID,
  type Collection,
  type Document,
  type MongoClient,
} from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import { CommandLog, captureError, uniqueDbName, type Doc, withReplSet } from './helpers.ts';

describe('CRUD', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  function freshCollection(prefix: string, name = 'c'): Collection<Doc> {
    return client.db(uniqueDbName(prefix)).collection<Doc>(name);
  }

  async function ids(coll: Collection<Doc>): Promise<unknown[]> {
    return (await coll.find({}, { sort: { _id: 1 }, projection: { _id: 1 } }).toArray()).map((d) => d._id);
  }

  describe('inserts', () => {
    it('insertOne returns the given or a generated _id and the document reads back', async () => {
      const coll = freshCollection('ins');
      const given = await coll.insertOne({ _id: 'k1', v: 1 });
      assert.equal(given.acknowledged, true);
      assert.equal(given.insertedId, 'k1');
      const doc: Doc = { v: 2 };
      const generated = await coll.insertOne(doc);
      assert.ok(generated.insertedId instanceof ObjectId, 'a missing _id is generated as an ObjectId');
      assert.deepEqual(await coll.findOne({ _id: generated.insertedId }), { _id: generated.insertedId, v: 2 });
      assert.deepEqual(await coll.findOne({ _id: 'k1' }), { _id: 'k1', v: 1 });
    });

    it('insertOne with a duplicate _id fails with E11000 naming the key', async () => {
      const coll = freshCollection('insdup');
      await coll.insertOne({ _id: 7, v: 'first' });
      const error = await captureError(() => coll.insertOne({ _id: 7, v: 'second' }), 'duplicate insert');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 11000);
      assert.match(error.message, /E11000 duplicate key error/);
      assert.deepEqual(error.keyPattern, { _id: 1 });
      assert.deepEqual(error.keyValue, { _id: 7 });
      assert.deepEqual(await coll.find({}).toArray(), [{ _id: 7, v: 'first' }]);
    });

    it('insertMany inserts every document and reports their ids by index', async () => {
      const coll = freshCollection('insmany');
      const result = await coll.insertMany([{ _id: 'a' }, { _id: 'b' }, { x: 1 }]);
      assert.equal(result.insertedCount, 3);
      assert.equal(result.insertedIds[0], 'a');
      assert.equal(result.insertedIds[1], 'b');
      assert.ok(result.insertedIds[2] instanceof ObjectId);
      assert.equal(await coll.countDocuments(), 3);
    });

    it('ordered insertMany stops at the first duplicate', async () => {
      const coll = freshCollection('insord');
      const error = await captureError(
        () => coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 2 }, { _id: 3 }], { ordered: true }),
        'ordered insertMany with a duplicate',
      );
      assert.ok(error instanceof MongoBulkWriteError, `got ${String(error)}`);
      assert.equal(error.code, 11000);
      const writeErrors = asArray(error.writeErrors);
      assert.equal(writeErrors.length, 1);
      assert.equal(writeErrors[0]?.index, 2);
      assert.equal(writeErrors[0]?.code, 11000);
      assert.equal(error.insertedCount, 2);
      assert.deepEqual(await ids(coll), [1, 2]);
    });

    it('unordered insertMany reports every duplicate and inserts the rest', async () => {
      const coll = freshCollection('insunord');
      const error = await captureError(
        () => coll.insertMany([{ _id: 1 }, { _id: 2 }, { _id: 2 }, { _id: 3 }, { _id: 1 }, { _id: 4 }], { ordered: false }),
        'unordered insertMany with duplicates',
      );
      assert.ok(error instanceof MongoBulkWriteError, `got ${String(error)}`);
      assert.equal(error.code, 11000);
      const writeErrors = asArray(error.writeErrors);
      assert.deepEqual(
        writeErrors.map((e) => [e.index, e.code]),
        [
          [2, 11000],
          [4, 11000],
        ],
      );
      assert.equal(error.insertedCount, 4);
      assert.deepEqual(await ids(coll), [1, 2, 3, 4]);
    });
  });

  describe('updates', () => {
    it('updateOne applies $set $inc $unset $push $addToSet $pull $rename $min $max $mul $currentDate', async () => {
      const coll = freshCollection('upd');
      await coll.insertOne({
        _id: 1,
        a: 1,
        b: 'x',
        nested: { c: 1, keep: true },
        arr: [1, 2],
        tags: ['a'],
        pulled: [1, 2, 3, 2],
        old: 'r',
        lo: 5,
        hi: 5,
        m: 3,
      });
      const before = Date.now();
      const update: Document = {
        $set: { b: 'y', 'nested.d': 2 },
        $inc: { a: 2, fresh: 5 },
        $unset: { 'nested.c': '' },
        $push: { arr: { $each: [3, 4] } },
        $addToSet: { tags: { $each: ['a', 'b', 'b'] } },
        $pull: { pulled: 2 },
        $rename: { old: 'renamed' },
        $min: { lo: 3 },
        $max: { hi: 9 },
        $mul: { m: 4 },
        $currentDate: { touched: true, stamp: { $type: 'timestamp' } },
      };
      const result = await coll.updateOne({ _id: 1 }, update);
      assert.equal(result.matchedCount, 1);
      assert.equal(result.modifiedCount, 1);
      assert.equal(result.upsertedId, null);
      const doc = await coll.findOne({ _id: 1 });
      assert.ok(doc);
      const { touched, stamp, ...rest } = doc;
      assert.deepEqual(rest, {
        _id: 1,
        a: 3,
        b: 'y',
        nested: { keep: true, d: 2 },
        arr: [1, 2, 3, 4],
        tags: ['a', 'b'],
        pulled: [1, 3],
        renamed: 'r',
        lo: 3,
        hi: 9,
        m: 12,
        fresh: 5,
      });
      assert.ok(touched instanceof Date, '$currentDate: true sets a Date');
      assert.ok(Math.abs(touched.getTime() - before) < 5 * 60_000, '$currentDate is about now');
      assert.ok(stamp instanceof Timestamp, "$currentDate {$type:'timestamp'} sets a Timestamp");
    });

    it('$min/$max that change nothing and a $set to the same value leave modifiedCount 0', async () => {
      const coll = freshCollection('updnoop');
      await coll.insertOne({ _id: 1, lo: 1, hi: 10, s: 'same' });
      const result = await coll.updateOne({ _id: 1 }, { $min: { lo: 5 }, $max: { hi: 2 }, $set: { s: 'same' } });
      assert.equal(result.matchedCount, 1);
      assert.equal(result.modifiedCount, 0);
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, lo: 1, hi: 10, s: 'same' });
    });

    it('upsert inserts from the filter equalities plus $set/$setOnInsert and reports upsertedId', async () => {
      const coll = freshCollection('upsert');
      const first = await coll.updateOne({ _id: 'u1', kind: 'k' }, { $set: { x: 1 }, $setOnInsert: { created: true } }, { upsert: true });
      assert.equal(first.upsertedId, 'u1');
      assert.equal(first.upsertedCount, 1);
      assert.equal(first.matchedCount, 0);
      assert.equal(first.modifiedCount, 0);
      assert.deepEqual(await coll.findOne({ _id: 'u1' }), { _id: 'u1', kind: 'k', x: 1, created: true });

      const second = await coll.updateOne(
        { _id: 'u1', kind: 'k' },
        { $set: { x: 2 }, $setOnInsert: { created: 'again' } },
        { upsert: true },
      );
      assert.equal(second.upsertedId, null);
      assert.equal(second.upsertedCount, 0);
      assert.equal(second.matchedCount, 1);
      assert.equal(second.modifiedCount, 1);
      assert.deepEqual(await coll.findOne({ _id: 'u1' }), { _id: 'u1', kind: 'k', x: 2, created: true });

      const generated = await coll.updateOne({ name: 'no id' }, { $inc: { n: 1 } }, { upsert: true });
      assert.ok(generated.upsertedId instanceof ObjectId, 'an upsert without _id generates an ObjectId');
      assert.deepEqual(await coll.findOne({ _id: generated.upsertedId }), { _id: generated.upsertedId, name: 'no id', n: 1 });
    });

    it('updateMany updates every match and counts only real modifications', async () => {
      const coll = freshCollection('updmany');
      await coll.insertMany([
        { _id: 1, g: 'a', v: 0 },
        { _id: 2, g: 'a', v: 1 },
        { _id: 3, g: 'a', v: 0 },
        { _id: 4, g: 'b', v: 0 },
      ]);
      const result = await coll.updateMany({ g: 'a' }, { $set: { v: 1 } });
      assert.equal(result.matchedCount, 3);
      assert.equal(result.modifiedCount, 2);
      assert.deepEqual(await coll.find({}, { sort: { _id: 1 } }).toArray(), [
        { _id: 1, g: 'a', v: 1 },
        { _id: 2, g: 'a', v: 1 },
        { _id: 3, g: 'a', v: 1 },
        { _id: 4, g: 'b', v: 0 },
      ]);
      const none = await coll.updateMany({ g: 'zzz' }, { $set: { v: 9 } });
      assert.equal(none.matchedCount, 0);
      assert.equal(none.modifiedCount, 0);
    });

    it('arrayFilters and the positional $ operator update the right array elements', async () => {
      const coll = freshCollection('arrf');
      await coll.insertOne({
        _id: 1,
        grades: [80, 95, 90, 70],
        items: [
          { k: 'a', q: 1 },
          { k: 'b', q: 2 },
        ],
      });
      await coll.updateOne({ _id: 1 }, { $set: { 'grades.$[g]': 100 } }, { arrayFilters: [{ g: { $gte: 90 } }] });
      await coll.updateOne({ _id: 1, 'items.k': 'b' }, { $inc: { 'items.$.q': 10 } });
      await coll.updateOne({ _id: 1 }, { $set: { 'items.$[].seen': true } });
      assert.deepEqual(await coll.findOne({ _id: 1 }), {
        _id: 1,
        grades: [80, 100, 100, 70],
        items: [
          { k: 'a', q: 1, seen: true },
          { k: 'b', q: 12, seen: true },
        ],
      });
    });

    it('replaceOne swaps the whole document but keeps _id; upsert works', async () => {
      const coll = freshCollection('repl');
      await coll.insertOne({ _id: 1, a: 1, b: 2 });
      const result = await coll.replaceOne({ _id: 1 }, { c: 3 });
      assert.equal(result.matchedCount, 1);
      assert.equal(result.modifiedCount, 1);
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, c: 3 });
      const upserted = await coll.replaceOne({ _id: 2 }, { d: 4 }, { upsert: true });
      assert.equal(upserted.upsertedId, 2);
      assert.deepEqual(await coll.findOne({ _id: 2 }), { _id: 2, d: 4 });
    });

    it('an update that would change _id is rejected', async () => {
      const coll = freshCollection('immut');
      await coll.insertOne({ _id: 1, a: 1 });
      const error = await captureError(() => coll.updateOne({ _id: 1 }, { $set: { _id: 2 } }), 'changing _id');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 66, 'ImmutableField');
      assert.deepEqual(await coll.findOne({}), { _id: 1, a: 1 });
    });
  });

  describe('update errors', () => {
    it('invalid updates fail with the server error codes and change nothing', async () => {
      const coll = freshCollection('upderr');
      await coll.insertOne({ _id: 1, s: 'text', n: 1 });
      const cases: Array<[string, Document, number]> = [
        ['$inc on a string', { $inc: { s: 1 } }, 14],
        ['$push to a non-array', { $push: { s: 'x' } }, 2],
        ['two operators on one path', { $set: { n: 2 }, $inc: { n: 1 } }, 40],
        ['unknown operator', { $frobnicate: { n: 1 } }, 9],
      ];
      const wrong: string[] = [];
      for (const [name, update, code] of cases) {
        try {
          await coll.updateOne({ _id: 1 }, update);
          wrong.push(`${name}: succeeded, expected error ${code}`);
        } catch (error) {
          if (!(error instanceof MongoServerError) || error.code !== code) {
            wrong.push(`${name}: got ${String(error)} (code ${(error as MongoServerError).code}), expected ${code}`);
          }
        }
        await coll.replaceOne({ _id: 1 }, { s: 'text', n: 1 });
      }
      assert.deepEqual(wrong, []);
      await captureError(() => coll.updateOne({ _id: 1 }, { $inc: { s: 1 }, $set: { n: 99 } }), 'a failing update');
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, s: 'text', n: 1 }, 'a failed update changes nothing');
    });

    it('$set creates missing intermediate documents; $unset of a missing field modifies nothing', async () => {
      const coll = freshCollection('updpath');
      await coll.insertOne({ _id: 1 });
      await coll.updateOne({ _id: 1 }, { $set: { 'a.b.c': 1 } });
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, a: { b: { c: 1 } } });
      const result = await coll.updateOne({ _id: 1 }, { $unset: { nothere: '' } });
      assert.equal(result.matchedCount, 1);
      assert.equal(result.modifiedCount, 0);
    });
  });

  describe('deletes', () => {
    it('deleteOne removes one match and deleteMany removes all matches', async () => {
      const coll = freshCollection('del');
      await coll.insertMany([
        { _id: 1, g: 'a' },
        { _id: 2, g: 'a' },
        { _id: 3, g: 'b' },
        { _id: 4, g: 'a' },
      ]);
      const one = await coll.deleteOne({ g: 'a' });
      assert.equal(one.deletedCount, 1);
      assert.equal(await coll.countDocuments({ g: 'a' }), 2);
      const many = await coll.deleteMany({ g: 'a' });
      assert.equal(many.deletedCount, 2);
      assert.deepEqual(await ids(coll), [3]);
      const none = await coll.deleteMany({ g: 'a' });
      assert.equal(none.deletedCount, 0);
    });
  });

  describe('findOneAnd*', () => {
    it('findOneAndUpdate returns the document before or after the update', async () => {
      const coll = freshCollection('fam');
      await coll.insertMany([
        { _id: 1, n: 1, g: 'x' },
        { _id: 2, n: 5, g: 'x' },
      ]);
      const beforeDoc = await coll.findOneAndUpdate({ g: 'x' }, { $inc: { n: 1 } }, { sort: { n: -1 }, returnDocument: 'before' });
      assert.deepEqual(beforeDoc, { _id: 2, n: 5, g: 'x' });
      const afterDoc = await coll.findOneAndUpdate({ _id: 2 }, { $inc: { n: 1 } }, { returnDocument: 'after' });
      assert.deepEqual(afterDoc, { _id: 2, n: 7, g: 'x' });
      const projected = await coll.findOneAndUpdate(
        { _id: 1 },
        { $set: { g: 'y' } },
        { returnDocument: 'after', projection: { _id: 0, g: 1 } },
      );
      assert.deepEqual(projected, { g: 'y' });
      const missing = await coll.findOneAndUpdate({ _id: 99 }, { $set: { n: 0 } });
      assert.equal(missing, null);
      assert.equal(await coll.countDocuments(), 2);
    });

    it('findOneAndUpdate with upsert returns null before and the new document after', async () => {
      const coll = freshCollection('famups');
      const beforeDoc = await coll.findOneAndUpdate({ _id: 'a' }, { $set: { v: 1 } }, { upsert: true, returnDocument: 'before' });
      assert.equal(beforeDoc, null);
      const afterDoc = await coll.findOneAndUpdate({ _id: 'b' }, { $set: { v: 2 } }, { upsert: true, returnDocument: 'after' });
      assert.deepEqual(afterDoc, { _id: 'b', v: 2 });
      const meta = await coll.findOneAndUpdate(
        { _id: 'c' },
        { $set: { v: 3 } },
        { upsert: true, returnDocument: 'after', includeResultMetadata: true },
      );
      assert.equal(meta.ok, 1);
      assert.deepEqual(meta.value, { _id: 'c', v: 3 });
      assert.equal(meta.lastErrorObject?.n, 1);
      assert.equal(meta.lastErrorObject?.updatedExisting, false);
      assert.equal(meta.lastErrorObject?.upserted, 'c');
      assert.deepEqual(await ids(coll), ['a', 'b', 'c']);
    });

    it('findOneAndReplace returns before/after and can upsert', async () => {
      const coll = freshCollection('famrep');
      await coll.insertOne({ _id: 1, a: 1 });
      assert.deepEqual(await coll.findOneAndReplace({ _id: 1 }, { b: 2 }), { _id: 1, a: 1 });
      assert.deepEqual(await coll.findOneAndReplace({ _id: 1 }, { c: 3 }, { returnDocument: 'after' }), { _id: 1, c: 3 });
      assert.deepEqual(await coll.findOneAndReplace({ _id: 2 }, { d: 4 }, { upsert: true, returnDocument: 'after' }), { _id: 2, d: 4 });
      assert.equal(await coll.findOneAndReplace({ _id: 3 }, { e: 5 }), null);
      assert.deepEqual(await coll.find({}, { sort: { _id: 1 } }).toArray(), [
        { _id: 1, c: 3 },
        { _id: 2, d: 4 },
      ]);
    });

    it('findOneAndDelete returns the deleted document (sorted pick) and removes it', async () => {
      const coll = freshCollection('famdel');
      await coll.insertMany([
        { _id: 1, p: 3 },
        { _id: 2, p: 9 },
        { _id: 3, p: 5 },
      ]);
      assert.deepEqual(await coll.findOneAndDelete({}, { sort: { p: -1 } }), { _id: 2, p: 9 });
      assert.equal(await coll.findOneAndDelete({ _id: 42 }), null);
      assert.deepEqual(await ids(coll), [1, 3]);
    });
  });

  describe('queries and cursors', () => {
    it('find applies filter, sort, projection, skip and limit', async () => {
      const coll = freshCollection('find');
      await coll.insertMany(Array.from({ length: 20 }, (_, n) => ({ _id: n, n, group: n % 3, sq: n * n })));
      const docs = await coll.find({ group: 1 }).sort({ n: -1 }).project({ _id: 0, n: 1 }).skip(1).limit(3).toArray();
      assert.deepEqual(docs, [{ n: 16 }, { n: 13 }, { n: 10 }]);
      const excluded = await coll.find({ n: { $lt: 2 } }, { projection: { sq: 0, group: 0 }, sort: { n: 1 } }).toArray();
      assert.deepEqual(excluded, [
        { _id: 0, n: 0 },
        { _id: 1, n: 1 },
      ]);
      const multiKey = await coll
        .find({ n: { $gte: 14 } })
        .sort({ group: 1, n: -1 })
        .project({ _id: 1 })
        .toArray();
      assert.deepEqual(
        multiKey.map((d) => d._id),
        [18, 15, 19, 16, 17, 14],
      );
    });

    it('find understands the common query operators', async () => {
      const coll = freshCollection('ops');
      await coll.insertMany([
        { _id: 1, n: 1, s: 'apple', tags: ['red', 'fruit'], sub: { k: 1 }, items: [{ q: 1, ok: true }] },
        { _id: 2, n: 2, s: 'banana', tags: ['yellow', 'fruit'], sub: { k: 2 }, items: [{ q: 5, ok: false }] },
        { _id: 3, n: 3, s: 'cherry', tags: ['red'], items: [] },
        { _id: 4, n: null, s: 'date', tags: [], sub: { k: 1 } },
      ]);
      const q = async (filter: Document) => (await coll.find(filter, { sort: { _id: 1 } }).toArray()).map((d) => d._id);
      assert.deepEqual(await q({ n: { $gt: 1, $lte: 3 } }), [2, 3]);
      assert.deepEqual(await q({ n: { $in: [1, 3] } }), [1, 3]);
      assert.deepEqual(await q({ n: { $nin: [1, 3] } }), [2, 4]);
      assert.deepEqual(await q({ n: { $ne: 2 } }), [1, 3, 4]);
      assert.deepEqual(await q({ n: null }), [4]);
      assert.deepEqual(await q({ sub: { $exists: false } }), [3]);
      assert.deepEqual(await q({ 'sub.k': 1 }), [1, 4]);
      assert.deepEqual(await q({ tags: 'red' }), [1, 3]);
      assert.deepEqual(await q({ tags: { $all: ['red', 'fruit'] } }), [1]);
      assert.deepEqual(await q({ tags: { $size: 0 } }), [4]);
      assert.deepEqual(await q({ items: { $elemMatch: { q: { $gt: 2 }, ok: false } } }), [2]);
      assert.deepEqual(await q({ s: { $regex: '^b' } }), [2]);
      assert.deepEqual(await q({ s: /RY$/i }), [3]);
      assert.deepEqual(await q({ $or: [{ n: 1 }, { s: 'date' }] }), [1, 4]);
      assert.deepEqual(await q({ $and: [{ tags: 'fruit' }, { n: { $gte: 2 } }] }), [2]);
      assert.deepEqual(await q({ n: { $not: { $gt: 1 } } }), [1, 4]);
      assert.deepEqual(await q({ n: { $type: 'null' } }), [4]);
      assert.deepEqual(await q({ $expr: { $gt: [{ $size: { $ifNull: ['$tags', []] } }, 1] } }), [1, 2]);
      assert.deepEqual(await q({ tags: ['red', 'fruit'] }), [1], 'whole-array equality');
      assert.deepEqual(await q({ tags: ['fruit', 'red'] }), [], 'whole-array equality is order sensitive');
      assert.deepEqual(await q({ n: { $exists: true } }), [1, 2, 3, 4], '$exists matches a null value');
      assert.deepEqual(await q({ 'items.q': { $gte: 5 } }), [2], 'dotted paths reach into arrays of documents');
      assert.deepEqual(await q({ s: { $in: [/^a/, 'cherry'] } }), [1, 3], '$in accepts regular expressions');
    });

    it('batchSize makes the server return several getMore batches, none larger than asked', async () => {
      const monitored = await rs.connect({ monitorCommands: true });
      const log = new CommandLog(monitored);
      try {
        const coll = monitored.db(uniqueDbName('batch')).collection<Doc>('c');
        await coll.insertMany(Array.from({ length: 25 }, (_, i) => ({ _id: i, i })));
        log.clear();
        const docs = await coll.find({}, { batchSize: 4, sort: { _id: 1 } }).toArray();
        assert.deepEqual(
          docs.map((d) => d._id),
          Array.from({ length: 25 }, (_, i) => i),
        );
        const [findReply] = log.succeededNamed('find');
        assert.ok(findReply, 'find succeeded');
        assert.equal((findReply.reply as Document).cursor.firstBatch.length, 4);
        assert.notEqual(String((findReply.reply as Document).cursor.id), '0', 'find leaves the cursor open');
        const getMores = log.succeededNamed('getMore');
        assert.ok(getMores.length >= 6, `expected at least 6 getMore round trips, saw ${getMores.length}`);
        for (const g of getMores) assert.ok((g.reply as Document).cursor.nextBatch.length <= 4, 'no batch is larger than batchSize');
        const last = getMores[getMores.length - 1];
        assert.equal(String((last?.reply as Document | undefined)?.cursor.id), '0', 'the last getMore closes the cursor (id 0)');
      } finally {
        log.stop();
        await monitored.close();
      }
    });

    it('limit with batchSize stops at the limit, and aggregate cursors page with getMore too', async () => {
      const monitored = await rs.connect({ monitorCommands: true });
      const log = new CommandLog(monitored);
      try {
        const coll = monitored.db(uniqueDbName('limit')).collection<Doc>('c');
        await coll.insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, odd: i % 2 === 1 })));
        log.clear();
        const limited = await coll.find({}, { sort: { _id: 1 }, limit: 10, batchSize: 3 }).toArray();
        assert.deepEqual(
          limited.map((d) => d._id),
          [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        );
        const getMores = log.succeededNamed('getMore');
        assert.ok(getMores.length >= 3, `find paged with getMore (${getMores.length})`);
        assert.equal(
          String((getMores[getMores.length - 1]?.reply as Document | undefined)?.cursor.id),
          '0',
          'the cursor closes at the limit',
        );

        log.clear();
        const aggregated = await coll
          .aggregate([{ $match: { odd: true } }, { $sort: { _id: -1 } }, { $project: { _id: 1 } }], { batchSize: 4 })
          .toArray();
        assert.deepEqual(
          aggregated.map((d) => d._id),
          [29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1],
        );
        const [aggregateReply] = log.succeededNamed('aggregate');
        assert.equal((aggregateReply?.reply as Document | undefined)?.cursor.firstBatch.length, 4);
        assert.ok(log.succeededNamed('getMore').length >= 3, 'the aggregate cursor was paged with getMore');
      } finally {
        log.stop();
        await monitored.close();
      }
    });

    it('closing a cursor early kills it on the server', async () => {
      const monitored = await rs.connect({ monitorCommands: true });
      const log = new CommandLog(monitored);
      try {
        const db = monitored.db(uniqueDbName('kill'));
        const coll = db.collection<Doc>('c');
        await coll.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i })));
        const cursor = coll.find({}, { batchSize: 2, sort: { _id: 1 } });
        const first = await cursor.next();
        assert.deepEqual(first, { _id: 0 });
        const id = cursor.id;
        assert.ok(id !== undefined && Number(id) !== 0, 'the cursor is open on the server');
        await cursor.close();
        const [kill] = log.succeededNamed('killCursors');
        assert.ok(kill, 'killCursors was sent');
        assert.equal((kill.reply as Document).cursorsKilled.length, 1);
        assert.equal(String((kill.reply as Document).cursorsKilled[0]), String(id));
        const error = await captureError(() => db.command({ getMore: id, collection: 'c', batchSize: 2 }), 'getMore on a killed cursor');
        assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
        assert.equal(error.code, 43);
        assert.equal(error.codeName, 'CursorNotFound');
      } finally {
        log.stop();
        await monitored.close();
      }
    });
  });

  describe('aggregation', () => {
    const sales = [
      { _id: 1, item: 'abc', price: 10, qty: 2, tags: ['a', 'b'] },
      { _id: 2, item: 'jkl', price: 20, qty: 1, tags: ['b'] },
      { _id: 3, item: 'xyz', price: 5, qty: 10, tags: ['c', 'a', 'b'] },
      { _id: 4, item: 'xyz', price: 5, qty: 20, tags: [] },
      { _id: 5, item: 'abc', price: 10, qty: 10, tags: ['a'] },
    ];

    it('$match $group $sort $project $skip $limit', async () => {
      const coll = freshCollection('agg');
      await coll.insertMany(sales);
      const result = await coll
        .aggregate([
          { $match: { qty: { $gte: 2 } } },
          { $group: { _id: '$item', total: { $sum: { $multiply: ['$price', '$qty'] } }, n: { $sum: 1 }, ids: { $push: '$_id' } } },
          { $sort: { total: -1 } },
          { $project: { _id: 0, item: '$_id', total: 1, n: 1, ids: 1 } },
          { $skip: 0 },
          { $limit: 2 },
        ])
        .toArray();
      assert.deepEqual(result, [
        { total: 150, n: 2, ids: [3, 4], item: 'xyz' },
        { total: 120, n: 2, ids: [1, 5], item: 'abc' },
      ]);
      const skipped = await coll.aggregate([{ $sort: { _id: 1 } }, { $skip: 3 }, { $project: { _id: 1 } }]).toArray();
      assert.deepEqual(skipped, [{ _id: 4 }, { _id: 5 }]);
    });

    it('$unwind and $count', async () => {
      const coll = freshCollection('aggunw');
      await coll.insertMany(sales);
      const perTag = await coll
        .aggregate([{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { _id: 1 } }])
        .toArray();
      assert.deepEqual(perTag, [
        { _id: 'a', n: 3 },
        { _id: 'b', n: 3 },
        { _id: 'c', n: 1 },
      ]);
      const counted = await coll.aggregate([{ $unwind: '$tags' }, { $count: 'tagged' }]).toArray();
      assert.deepEqual(counted, [{ tagged: 7 }]);
      const none = await coll.aggregate([{ $match: { item: 'nope' } }, { $count: 'n' }]).toArray();
      assert.deepEqual(none, []);
    });

    it('$lookup joins another collection and $addFields computes fields', async () => {
      const db = client.db(uniqueDbName('agglook'));
      await db.collection<Doc>('orders').insertMany([
        { _id: 1, item: 'abc', qty: 2 },
        { _id: 2, item: 'xyz', qty: 1 },
        { _id: 3, item: 'none', qty: 4 },
      ]);
      await db.collection<Doc>('items').insertMany([
        { _id: 'i1', sku: 'abc', price: 10 },
        { _id: 'i2', sku: 'xyz', price: 3 },
        { _id: 'i3', sku: 'xyz', price: 4 },
      ]);
      const joined = await db
        .collection<Doc>('orders')
        .aggregate([
          { $lookup: { from: 'items', localField: 'item', foreignField: 'sku', as: 'matches' } },
          { $addFields: { nMatches: { $size: '$matches' }, doubled: { $multiply: ['$qty', 2] } } },
          { $project: { matches: { sku: 0 } } },
          { $sort: { _id: 1 } },
        ])
        .toArray();
      assert.deepEqual(joined, [
        { _id: 1, item: 'abc', qty: 2, matches: [{ _id: 'i1', price: 10 }], nMatches: 1, doubled: 4 },
        {
          _id: 2,
          item: 'xyz',
          qty: 1,
          matches: [
            { _id: 'i2', price: 3 },
            { _id: 'i3', price: 4 },
          ],
          nMatches: 2,
          doubled: 2,
        },
        { _id: 3, item: 'none', qty: 4, matches: [], nMatches: 0, doubled: 8 },
      ]);
    });
  });

  describe('bulkWrite', () => {
    it('a mixed ordered bulkWrite reports every count and the upserted ids by index', async () => {
      const coll = freshCollection('bulk');
      await coll.insertMany([
        { _id: 1, g: 'a', v: 0 },
        { _id: 2, g: 'a', v: 0 },
        { _id: 3, g: 'b', v: 0 },
        { _id: 4, g: 'c', v: 0 },
      ]);
      const result = await coll.bulkWrite([
        { insertOne: { document: { _id: 5, g: 'c', v: 0 } } },
        { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 1 } } } },
        { updateMany: { filter: { g: 'a' }, update: { $set: { seen: true } } } },
        { updateOne: { filter: { _id: 'new' }, update: { $set: { v: 9 } }, upsert: true } },
        { replaceOne: { filter: { _id: 3 }, replacement: { g: 'b', replaced: true } } },
        { replaceOne: { filter: { _id: 'rep' }, replacement: { r: 1 }, upsert: true } },
        { deleteOne: { filter: { g: 'c' } } },
        { deleteMany: { filter: { g: 'zzz' } } },
      ]);
      assert.equal(result.insertedCount, 1);
      assert.equal(result.matchedCount, 4, 'updateOne 1 + updateMany 2 + replaceOne 1');
      assert.equal(result.modifiedCount, 4);
      assert.equal(result.deletedCount, 1);
      assert.equal(result.upsertedCount, 2);
      assert.deepEqual(result.upsertedIds, { 3: 'new', 5: 'rep' });
      assert.deepEqual(await coll.find({}, { sort: { _id: 1 } }).toArray(), [
        { _id: 1, g: 'a', v: 1, seen: true },
        { _id: 2, g: 'a', v: 0, seen: true },
        { _id: 3, g: 'b', replaced: true },
        { _id: 5, g: 'c', v: 0 },
        { _id: 'new', v: 9 },
        { _id: 'rep', r: 1 },
      ]);
    });

    it('an ordered bulkWrite stops at the first error; unordered carries on', async () => {
      const coll = freshCollection('bulkerr');
      await coll.insertOne({ _id: 1, v: 0 });
      const ops = [
        { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 1 } } } },
        { insertOne: { document: { _id: 1 } } },
        { updateOne: { filter: { _id: 1 }, update: { $inc: { v: 10 } } } },
      ];
      const ordered = await captureError(() => coll.bulkWrite(ops, { ordered: true }), 'ordered bulkWrite');
      assert.ok(ordered instanceof MongoBulkWriteError, `got ${String(ordered)}`);
      assert.deepEqual(
        asArray(ordered.writeErrors).map((e) => [e.index, e.code]),
        [[1, 11000]],
      );
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, v: 1 }, 'the op after the error did not run');
      const unordered = await captureError(() => coll.bulkWrite(ops, { ordered: false }), 'unordered bulkWrite');
      assert.ok(unordered instanceof MongoBulkWriteError, `got ${String(unordered)}`);
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1, v: 12 }, 'both updates around the error ran');
    });
  });

  describe('ordering', () => {
    it('sorting mixes BSON types in the documented comparison order', async () => {
      const coll = freshCollection('typesort');
      const oid = new ObjectId('000000000000000000000001');
      const values: Array<[string, unknown]> = [
        ['maxkey', new MaxKey()],
        ['bool', true],
        ['str b', 'b'],
        ['double', 2.5],
        ['null', null],
        ['oid', oid],
        ['date', new Date(0)],
        ['object', { a: 1 }],
        ['binary', new Binary(Buffer.from([1]))],
        ['minkey', new MinKey()],
        ['str a', 'a'],
        ['int', 10],
        ['long', Long.fromNumber(3)],
        ['timestamp', new Timestamp({ t: 1, i: 1 })],
      ];
      await coll.insertMany(values.map(([name, v]) => ({ _id: name, v })));
      await coll.insertOne({ _id: 'missing' });
      const ascending = (await coll.find({}, { sort: { v: 1, _id: 1 }, projection: { _id: 1 } }).toArray()).map((d) => d._id);
      assert.deepEqual(ascending, [
        'minkey',
        'missing',
        'null',
        'double',
        'long',
        'int',
        'str a',
        'str b',
        'object',
        'binary',
        'oid',
        'bool',
        'date',
        'timestamp',
        'maxkey',
      ]);
      const numbersInRange = (await coll.find({ v: { $gte: 2, $lte: 10 } }, { sort: { v: -1 } }).toArray()).map((d) => d._id);
      assert.deepEqual(numbersInRange, ['int', 'long', 'double'], 'range queries compare numbers of any type and stay within the type');
    });
  });

  describe('counting and distinct', () => {
    it('countDocuments (filter, skip, limit), estimatedDocumentCount and distinct', async () => {
      const coll = freshCollection('count');
      await coll.insertMany([
        { _id: 1, g: 'a', tags: ['x', 'y'] },
        { _id: 2, g: 'a', tags: ['y', 'z'] },
        { _id: 3, g: 'b', tags: 'x' },
        { _id: 4, g: 'b' },
        { _id: 5, g: 'c', tags: [] },
      ]);
      assert.equal(await coll.countDocuments(), 5);
      assert.equal(await coll.countDocuments({ g: 'a' }), 2);
      assert.equal(await coll.countDocuments({}, { skip: 1, limit: 3 }), 3);
      assert.equal(await coll.countDocuments({}, { skip: 4 }), 1);
      assert.equal(await coll.countDocuments({ g: 'nope' }), 0);
      assert.equal(await coll.estimatedDocumentCount(), 5);
      assert.deepEqual((await coll.distinct('g')).sort(), ['a', 'b', 'c']);
      assert.deepEqual((await coll.distinct('g', { _id: { $gt: 2 } })).sort(), ['b', 'c']);
      assert.deepEqual((await coll.distinct('tags')).sort(), ['x', 'y', 'z'], 'distinct looks inside arrays');
      const empty = client.db(uniqueDbName('countempty')).collection<Doc>('missing');
      assert.equal(await empty.countDocuments(), 0);
      assert.equal(await empty.estimatedDocumentCount(), 0);
      assert.deepEqual(await empty.distinct('g'), []);
    });
  });

  describe('BSON types', () => {
    it('every common BSON type round-trips unchanged', async () => {
      const coll = freshCollection('bson');
      const oid = new ObjectId();
      const uuid = new UUID();
      const doc = {
        _id: oid,
        date: new Date('2024-02-29T12:34:56.789Z'),
        dec: Decimal128.fromString('1234567890.123456789012345678901234'),
        bin: new Binary(Buffer.from([0, 1, 2, 250, 255]), 0),
        uuid: new Binary(uuid.buffer, 4),
        nested: { deep: { deeper: { value: 'x', list: [1, { y: 2 }] } } },
        arr: [1, 'two', null, true, [3, [4]], { five: 5 }],
        empty: {},
        emptyArr: [],
        nothing: null,
        yes: true,
        no: false,
        str: 'héllo wörld ✓ 😀',
        int: 42,
        neg: -7,
        dbl: 3.25,
        big: Long.fromString('9007199254740993'),
        ts: new Timestamp({ t: 1_700_000_000, i: 7 }),
        re: new BSONRegExp('^a.c$', 'i'),
        min: new MinKey(),
        max: new MaxKey(),
      };
      await coll.insertOne(doc);
      const back = await coll.findOne({ _id: oid }, { promoteLongs: false, bsonRegExp: true });
      assert.ok(back);
      assert.ok(back._id instanceof ObjectId && back._id.equals(oid), 'ObjectId');
      assert.ok(back.date instanceof Date && back.date.getTime() === doc.date.getTime(), 'Date');
      assert.ok(back.dec instanceof Decimal128, 'Decimal128 type');
      assert.equal(back.dec.toString(), '1234567890.123456789012345678901234');
      assert.ok(back.bin instanceof Binary, 'Binary');
      assert.equal(back.bin.sub_type, 0);
      assert.deepEqual([...back.bin.buffer], [0, 1, 2, 250, 255]);
      assert.ok(back.uuid instanceof Binary, 'UUID binary');
      assert.equal(back.uuid.sub_type, 4);
      assert.equal(back.uuid.toUUID().toHexString(), uuid.toHexString());
      assert.deepEqual(back.nested, doc.nested);
      assert.deepEqual(back.arr, doc.arr);
      assert.deepEqual(back.empty, {});
      assert.deepEqual(back.emptyArr, []);
      assert.equal(back.nothing, null);
      assert.ok('nothing' in back, 'a null field is kept, not dropped');
      assert.equal(back.yes, true);
      assert.equal(back.no, false);
      assert.equal(back.str, doc.str);
      assert.equal(back.int, 42);
      assert.equal(back.neg, -7);
      assert.equal(back.dbl, 3.25);
      assert.ok(back.big instanceof Long, 'Long stays a Long with promoteLongs:false');
      assert.equal(back.big.toString(), '9007199254740993');
      assert.ok(back.ts instanceof Timestamp && back.ts.equals(doc.ts), 'Timestamp');
      assert.ok(back.re instanceof BSONRegExp, 'BSONRegExp');
      assert.equal(back.re.pattern, '^a.c$');
      assert.equal(back.re.options, 'i');
      assert.ok(back.min instanceof MinKey, 'MinKey');
      assert.ok(back.max instanceof MaxKey, 'MaxKey');
      assert.deepEqual(Object.keys(back), Object.keys(doc), 'field order is preserved');
    });

    it('large documents and a batch larger than one 48 MB message round-trip intact', async () => {
      const coll = freshCollection('large');
      const blob = Buffer.alloc(4 * 1024 * 1024);
      for (let i = 0; i < blob.length; i += 4096) blob[i] = (i / 4096) % 251;
      const docs = Array.from({ length: 13 }, (_, i) => ({ _id: i, blob: new Binary(blob), tag: `doc ${i}` }));
      const result = await coll.insertMany(docs);
      assert.equal(result.insertedCount, 13, 'the driver split the batch and every part was inserted');
      assert.equal(await coll.countDocuments(), 13);
      const back = await coll.findOne({ _id: 12 });
      assert.ok(back?.blob instanceof Binary);
      assert.equal(back.blob.length(), blob.length);
      assert.ok(Buffer.from(back.blob.buffer).equals(blob), 'the 4 MB payload is byte-identical');
      const all = await coll.find({}, { projection: { tag: 1 }, sort: { _id: 1 } }).toArray();
      assert.deepEqual(
        all.map((d) => d.tag),
        docs.map((d) => d.tag),
      );
    });

    it('numeric types keep their BSON type (int32, int64, double)', async (t) => {
      if (rs.kind === 'emulator') {
        t.skip('known difference: the emulator holds numbers as JavaScript numbers (see README)');
        return;
      }
      const coll = freshCollection('numtypes');
      await coll.insertOne({ _id: 1, i: new Int32(5), l: Long.fromNumber(5), d: new Double(5), frac: 5.5 });
      const raw = await coll.findOne({ _id: 1 }, { promoteValues: false });
      assert.ok(raw);
      assert.ok(raw.i instanceof Int32, `int32 stays int32, got ${raw.i?.constructor?.name}`);
      assert.ok(raw.l instanceof Long, `int64 stays int64, got ${raw.l?.constructor?.name}`);
      assert.ok(raw.d instanceof Double, `double stays double, got ${raw.d?.constructor?.name}`);
      assert.ok(raw.frac instanceof Double);
      const typed = await coll.countDocuments({ i: { $type: 'int' }, l: { $type: 'long' }, d: { $type: 'double' } });
      assert.equal(typed, 1);
      const numericEquality = await coll.countDocuments({ i: 5, l: 5, d: 5 });
      assert.equal(numericEquality, 1, 'numbers of different BSON types compare by value');
      await coll.updateOne({ _id: 1 }, { $inc: { i: 1, l: 1 } });
      const incremented = await coll.findOne({ _id: 1 }, { promoteValues: false });
      assert.ok(incremented?.i instanceof Int32 && incremented.i.value === 6, '$inc keeps int32');
      assert.ok(incremented?.l instanceof Long && incremented.l.toNumber() === 6, '$inc keeps int64');
    });

    it('documents with an _id of type document, string, number or ObjectId are distinct keys', async () => {
      const coll = freshCollection('ids');
      const oid = new ObjectId();
      await coll.insertMany([{ _id: { a: 1, b: 2 } }, { _id: '1' }, { _id: 1 }, { _id: oid }]);
      assert.equal(await coll.countDocuments(), 4);
      assert.deepEqual(await coll.findOne({ _id: { a: 1, b: 2 } }), { _id: { a: 1, b: 2 } });
      assert.equal(await coll.countDocuments({ _id: { b: 2, a: 1 } }), 0, 'embedded-document equality is field-order sensitive');
      assert.deepEqual(await coll.findOne({ _id: '1' }), { _id: '1' });
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 });
      assert.deepEqual(await coll.findOne({ _id: oid }), { _id: oid });
    });
  });
});

function asArray<T>(value: T | readonly T[]): T[] {
  return Array.isArray(value) ? [...(value as readonly T[])] : [value as T];
}
