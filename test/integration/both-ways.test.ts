/**
 * Both ways: what a plain driver client writes on till A (inserts, operator
 * updates, replaces, deletes) reaches the hub and till B; what HQ's
 * back-office writes straight to the hub (knowing nothing of sync) reaches
 * every till; and BSON types survive the trip, read back with
 * `promoteValues: false` so an Int32 that came back as a Double would show.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EJSON } from 'bson';
import { Binary, Decimal128, Double, Int32, Long, ObjectId, type Db, type Document } from 'mongodb';
import { withTopology, waitFor, type Topology } from './topology.ts';

const RAW = { promoteValues: false, promoteLongs: false, promoteBuffers: false } as const;

/** A document as canonical extended JSON (every BSON type spelt out), without the hub's `_sync`; null when absent. */
async function exact(db: Db, collection: string, id: unknown): Promise<Document | null> {
  const doc = await db.collection(collection).findOne({ _id: id as never }, RAW);
  if (!doc) return null;
  const { _sync: _meta, ...rest } = doc as Document;
  return EJSON.serialize(rest, { relaxed: false }) as Document;
}

/** Every document of a collection, canonical extended JSON, `_sync` removed, sorted by `_id`. */
async function exactAll(db: Db, collection: string): Promise<Document[]> {
  const docs = await db.collection(collection).find({}, RAW).toArray();
  return docs
    .map((d) => {
      const { _sync: _meta, ...rest } = d as Document;
      return EJSON.serialize(rest, { relaxed: false }) as Document;
    })
    .sort((a, b) => (JSON.stringify(a._id) < JSON.stringify(b._id) ? -1 : 1));
}

function same(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}

describe('both ways: till ⇄ hub ⇄ till', () => {
  let topology: Topology;

  withTopology({ tills: 2 }, (t) => (topology = t));

  /** Waits until the hub and till B hold exactly what till A holds for `id`, then asserts it field for field. */
  async function expectFromA(collection: string, id: unknown, what: string): Promise<Document | null> {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    const source = await exact(a.db, collection, id);
    await waitFor(`${what} to reach the hub and till B`, async () => {
      const [hub, tillB] = [await exact(topology.hubDb, collection, id), await exact(b.db, collection, id)];
      return same(hub, source) && same(tillB, source);
    });
    assert.deepStrictEqual(await exact(topology.hubDb, collection, id), source, `${what}: hub equals till A`);
    assert.deepStrictEqual(await exact(b.db, collection, id), source, `${what}: till B equals till A`);
    return source;
  }

  /** Waits until every till holds exactly what the hub holds for `id`. */
  async function expectFromHub(collection: string, id: unknown, what: string): Promise<Document | null> {
    const source = await exact(topology.hubDb, collection, id);
    await waitFor(`${what} to reach every till`, async () => {
      for (const till of topology.tills) if (!same(await exact(till.db, collection, id), source)) return false;
      return true;
    });
    for (const till of topology.tills)
      assert.deepStrictEqual(await exact(till.db, collection, id), source, `${what}: ${till.name} equals the hub`);
    return source;
  }

  it('an insert on till A reaches the hub and till B, and the hub copy says where it came from', async () => {
    const a = topology.tills[0]!;
    await a.db.collection('bw_insert').insertOne({ _id: 'order-1' as never, table: 7, items: ['soup', 'bread'], total: 12.5, open: true });
    const doc = await expectFromA('bw_insert', 'order-1', 'the insert');
    assert.equal((doc as Document).table.$numberInt, '7');
    const hubDoc = await topology.hubDb.collection('bw_insert').findOne({ _id: 'order-1' as never });
    assert.equal((hubDoc?._sync as Document | undefined)?.o, 'till-a', 'the hub copy is stamped with its origin till');
    const tillB = await topology.tills[1]!.db.collection('bw_insert').findOne({ _id: 'order-1' as never });
    assert.equal(tillB && '_sync' in tillB, false, 'tills never see the hub-only _sync field');
  });

  it("a collection that first reaches till B from till A gets post-images on B too, and B's updates to it sync back", async () => {
    const [a, b] = [topology.tills[0]!, topology.tills[1]!];
    await a.db.collection('bw_arrivals').insertOne({ _id: 'tab-1' as never, covers: 2 });
    await expectFromA('bw_arrivals', 'tab-1', 'the first document of a new collection');
    // Without post-images, capture on B would read an update's document as it is later, not as the update left it.
    await waitFor("post-images on till B's copy of the collection", async () => {
      const [info] = await b.db.listCollections({ name: 'bw_arrivals' }).toArray();
      return (info as { options?: Document } | undefined)?.options?.changeStreamPreAndPostImages?.enabled === true;
    });
    await b.db.collection('bw_arrivals').updateOne({ _id: 'tab-1' as never }, { $inc: { covers: 1 } });
    await waitFor(
      "till B's update on till A",
      async () => (await a.db.collection('bw_arrivals').findOne({ _id: 'tab-1' as never }))?.covers === 3,
    );
  });

  it('operator updates on till A ($set, $inc, $push, $unset, nested paths, updateMany) reach the hub and till B', async () => {
    const a = topology.tills[0]!;
    const coll = a.db.collection('bw_update');
    await coll.insertMany([
      { _id: 'u1' as never, qty: 1, tags: ['a'], note: 'remove me', nested: { level: { deep: 1 } }, status: 'open' },
      { _id: 'u2' as never, qty: 5, status: 'open' },
    ]);
    await expectFromA('bw_update', 'u1', 'the first insert');
    await expectFromA('bw_update', 'u2', 'the second insert');

    await coll.updateOne(
      { _id: 'u1' as never },
      { $set: { 'nested.level.deep': 2, 'nested.added': 'x' }, $inc: { qty: 2 }, $push: { tags: 'b' } as never, $unset: { note: '' } },
    );
    const u1 = await expectFromA('bw_update', 'u1', 'the operator update');
    assert.deepStrictEqual(EJSON.deserialize(u1 as Document, { relaxed: true }), {
      _id: 'u1',
      qty: 3,
      tags: ['a', 'b'],
      nested: { level: { deep: 2 }, added: 'x' },
      status: 'open',
    });

    await coll.updateMany({ status: 'open' }, { $set: { status: 'closed' }, $currentDate: { closedAt: true } });
    for (const id of ['u1', 'u2']) {
      const doc = await expectFromA('bw_update', id, `updateMany on ${id}`);
      assert.equal((doc as Document).status, 'closed');
      assert.ok((doc as Document).closedAt?.$date, 'the $currentDate field arrives as a Date');
    }
  });

  it('a replace on till A reaches the hub and till B, dropping the fields the replacement left out', async () => {
    const a = topology.tills[0]!;
    const coll = a.db.collection('bw_replace');
    await coll.insertOne({ _id: 'r1' as never, name: 'Soup', price: 4, allergens: ['celery'] });
    await expectFromA('bw_replace', 'r1', 'the insert');
    await coll.replaceOne({ _id: 'r1' as never }, { name: 'Soup of the day', price: 5 });
    const doc = await expectFromA('bw_replace', 'r1', 'the replace');
    assert.deepStrictEqual(EJSON.deserialize(doc as Document, { relaxed: true }), { _id: 'r1', name: 'Soup of the day', price: 5 });
  });

  it('a delete on till A removes the document from the hub and till B', async () => {
    const a = topology.tills[0]!;
    const coll = a.db.collection('bw_delete');
    await coll.insertMany([
      { _id: 'd1' as never, n: 1 },
      { _id: 'd2' as never, n: 2 },
      { _id: 'keep' as never, n: 3 },
    ]);
    for (const id of ['d1', 'd2', 'keep']) await expectFromA('bw_delete', id, `insert ${id}`);
    await coll.deleteOne({ _id: 'd1' as never });
    await coll.deleteMany({ n: 2 });
    assert.equal(await expectFromA('bw_delete', 'd1', 'deleteOne'), null);
    assert.equal(await expectFromA('bw_delete', 'd2', 'deleteMany'), null);
    await waitFor(
      'till B to hold only the kept document',
      async () => (await topology.tills[1]!.db.collection('bw_delete').countDocuments()) === 1,
    );
    assert.deepStrictEqual(await exactAll(topology.hubDb, 'bw_delete'), await exactAll(a.db, 'bw_delete'));
    assert.deepStrictEqual(await exactAll(topology.tills[1]!.db, 'bw_delete'), await exactAll(a.db, 'bw_delete'));
  });

  it('writes HQ makes directly on the hub (insert, update, replace, delete) reach every till', async () => {
    const menu = topology.hubDb.collection('bw_hq_menu');
    await menu.insertMany([
      { _id: 'burger' as never, price: 9.5, available: true },
      { _id: 'salad' as never, price: 7, available: true },
      { _id: 'fries' as never, price: 3, available: true },
    ]);
    for (const id of ['burger', 'salad', 'fries']) await expectFromHub('bw_hq_menu', id, `HQ insert of ${id}`);

    await menu.updateOne({ _id: 'burger' as never }, { $set: { price: 10.5 }, $push: { sides: 'fries' } as never });
    const burger = await expectFromHub('bw_hq_menu', 'burger', 'HQ operator update');
    assert.equal((burger as Document).price.$numberDouble, '10.5');

    await menu.replaceOne({ _id: 'salad' as never }, { price: 7.5, vegan: true });
    const salad = await expectFromHub('bw_hq_menu', 'salad', 'HQ replace');
    assert.deepStrictEqual(EJSON.deserialize(salad as Document, { relaxed: true }), { _id: 'salad', price: 7.5, vegan: true });

    await menu.deleteOne({ _id: 'fries' as never });
    assert.equal(await expectFromHub('bw_hq_menu', 'fries', 'HQ delete'), null);
    for (const till of topology.tills) {
      assert.deepStrictEqual(
        await exactAll(till.db, 'bw_hq_menu'),
        await exactAll(topology.hubDb, 'bw_hq_menu'),
        `${till.name} equals the hub`,
      );
    }
  });

  it('a till write on a document HQ created, and an HQ write on a document a till created, both sync', async () => {
    const [a, b] = topology.tills as [Topology['tills'][0], Topology['tills'][0]];
    await topology.hubDb.collection('bw_mixed').insertOne({ _id: 'from-hq' as never, v: 1 });
    await expectFromHub('bw_mixed', 'from-hq', 'HQ insert');
    await b.db.collection('bw_mixed').updateOne({ _id: 'from-hq' as never }, { $set: { v: 2, by: 'till-b' } });
    await waitFor('till B’s edit of the HQ document to reach the hub and till A', async () => {
      const want = await exact(b.db, 'bw_mixed', 'from-hq');
      return same(await exact(topology.hubDb, 'bw_mixed', 'from-hq'), want) && same(await exact(a.db, 'bw_mixed', 'from-hq'), want);
    });

    await a.db.collection('bw_mixed').insertOne({ _id: 'from-a' as never, v: 1 });
    await expectFromA('bw_mixed', 'from-a', 'till A insert');
    await topology.hubDb.collection('bw_mixed').updateOne({ _id: 'from-a' as never }, { $set: { v: 2, by: 'hq' } });
    const doc = await expectFromHub('bw_mixed', 'from-a', 'HQ edit of a till document');
    assert.deepStrictEqual(EJSON.deserialize(doc as Document, { relaxed: true }), { _id: 'from-a', v: 2, by: 'hq' });
  });

  describe('BSON types survive the trip', () => {
    const oid = new ObjectId();
    const when = new Date('2024-02-29T12:34:56.789Z');
    const typed = (id: string): Document => ({
      _id: id,
      price: Decimal128.fromString('19.990'),
      tiny: Decimal128.fromString('0.000000000000000000000000000001'),
      at: when,
      ref: oid,
      refs: [new ObjectId(), { nested: new ObjectId() }],
      grid: [[1, 2], [[3], [4, [5, 'six']]], []],
      rows: [{ qty: new Int32(2), lines: [{ sku: 'A', price: Decimal128.fromString('1.10') }] }],
      blob: new Binary(Buffer.from([0, 1, 2, 253, 254, 255])),
      uuid: new Binary(Buffer.from('0123456789abcdef0123456789abcdef', 'hex'), Binary.SUBTYPE_UUID),
      big: Long.fromString('9007199254740993'),
      frac: new Double(2.5),
      nothing: null,
      empty: {},
    });

    function assertTypes(doc: Document | null, where: string): void {
      assert.ok(doc, `${where}: document present`);
      assert.deepStrictEqual(doc.price, { $numberDecimal: '19.990' }, `${where}: Decimal128 keeps its digits`);
      assert.deepStrictEqual(doc.tiny, { $numberDecimal: '1E-30' }, `${where}: a tiny Decimal128 stays exact`);
      assert.deepStrictEqual(doc.at, { $date: { $numberLong: String(when.getTime()) } }, `${where}: Date to the millisecond`);
      assert.deepStrictEqual(doc.ref, { $oid: oid.toHexString() }, `${where}: ObjectId`);
      assert.deepStrictEqual(
        doc.blob,
        { $binary: { base64: Buffer.from([0, 1, 2, 253, 254, 255]).toString('base64'), subType: '00' } },
        `${where}: Binary`,
      );
      assert.equal(doc.uuid.$binary.subType, '04', `${where}: UUID Binary subtype`);
      assert.deepStrictEqual(doc.big, { $numberLong: '9007199254740993' }, `${where}: Long beyond 2^53`);
      assert.deepStrictEqual(doc.frac, { $numberDouble: '2.5' }, `${where}: Double`);
      assert.deepStrictEqual(
        doc.grid[1],
        [[{ $numberInt: '3' }], [{ $numberInt: '4' }, [{ $numberInt: '5' }, 'six']]],
        `${where}: nested arrays`,
      );
      assert.deepStrictEqual(doc.rows[0].lines[0].price, { $numberDecimal: '1.10' }, `${where}: Decimal128 inside arrays of documents`);
      assert.equal(doc.nothing, null, `${where}: null`);
      assert.deepStrictEqual(doc.empty, {}, `${where}: empty document`);
    }

    it('from till A to the hub and till B', async () => {
      const a = topology.tills[0]!;
      await a.db.collection('bw_types_till').insertOne(typed('t1') as never);
      const doc = await expectFromA('bw_types_till', 't1', 'the typed document');
      assertTypes(doc, 'till A');
      assertTypes(await exact(topology.hubDb, 'bw_types_till', 't1'), 'hub');
      assertTypes(await exact(topology.tills[1]!.db, 'bw_types_till', 't1'), 'till B');
      // An operator update that touches typed values keeps them typed too.
      await a.db
        .collection('bw_types_till')
        .updateOne({ _id: 't1' as never }, { $set: { 'rows.0.qty': new Int32(3), price: Decimal128.fromString('21.00') } });
      const updated = await expectFromA('bw_types_till', 't1', 'the typed update');
      assert.deepStrictEqual((updated as Document).price, { $numberDecimal: '21.00' });
      assert.deepStrictEqual((updated as Document).rows[0].qty, { $numberInt: '3' });
    });

    it('from the hub (HQ) to every till', async () => {
      await topology.hubDb.collection('bw_types_hub').insertOne(typed('h1') as never);
      const doc = await expectFromHub('bw_types_hub', 'h1', 'the typed HQ document');
      assertTypes(doc, 'hub');
      for (const till of topology.tills) assertTypes(await exact(till.db, 'bw_types_hub', 'h1'), till.name);
    });

    it('numbers keep their BSON type: an Int32, an Int64 and a whole Double stay what they were', async (t) => {
      if (topology.hub.kind === 'emulator') {
        // Known emulator difference (see test/conformance/crud.test.ts "numeric types keep their BSON type"):
        // it holds numbers as JavaScript numbers, so a whole Double comes back as Int32 on the writing till itself.
        t.skip('the emulator does not keep int32/int64/double apart; run with MONGOMS_SYSTEM_BINARY');
        return;
      }
      const numbers = { small: new Int32(42), mid: Long.fromNumber(5), whole: new Double(3) };
      await topology.tills[0]!.db.collection('bw_types_num').insertOne({ _id: 'n1' as never, ...numbers });
      await topology.hubDb.collection('bw_types_num').insertOne({ _id: 'n2' as never, ...numbers });
      await waitFor('both numeric documents to reach every replica', async () => {
        for (const db of [topology.hubDb, ...topology.tills.map((x) => x.db)])
          if ((await db.collection('bw_types_num').countDocuments()) !== 2) return false;
        return true;
      });
      for (const db of [topology.hubDb, ...topology.tills.map((x) => x.db)]) {
        for (const id of ['n1', 'n2']) {
          const doc = await exact(db, 'bw_types_num', id);
          assert.deepStrictEqual(doc?.small, { $numberInt: '42' });
          assert.deepStrictEqual(doc?.mid, { $numberLong: '5' });
          assert.deepStrictEqual(doc?.whole, { $numberDouble: '3.0' });
        }
      }
    });

    it('documents whose _id is not a string (ObjectId, number, Date, Binary, sub-document) sync', async () => {
      const a = topology.tills[0]!;
      const ids: unknown[] = [
        new ObjectId(),
        17,
        new Double(2.5),
        Long.fromNumber(12345678901),
        when,
        new Binary(Buffer.from('id')),
        { store: 3, n: 1 },
      ];
      for (const [i, id] of ids.entries()) await a.db.collection('bw_types_ids').insertOne({ _id: id as never, i });
      await waitFor('all odd-id documents to reach the hub and till B', async () => {
        const want = await exactAll(a.db, 'bw_types_ids');
        return (
          same(await exactAll(topology.hubDb, 'bw_types_ids'), want) && same(await exactAll(topology.tills[1]!.db, 'bw_types_ids'), want)
        );
      });
      assert.equal((await exactAll(topology.tills[1]!.db, 'bw_types_ids')).length, ids.length);
    });
  });
});
