/**
 * The conflict log's compact form: the losing version whole, the winning one
 * as its top-level difference, an origin only when its version does not name
 * it, the document's id only when the losing version's `_id` does not say it. Whatever is recorded — nested values, arrays, removed or reordered
 * fields, any BSON type, any id type, a delete on either side — reads back
 * exactly as the whole record would have, through BSON as the database keeps
 * it; a record in the older whole form reads as it always did; and a busy
 * till's typical conflict (one field of an order changed on both sides) takes
 * about half the room.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { calculateObjectSize, deserialize, Double, Int32, Long, ObjectId, serialize, type Document } from 'bson';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { CONFLICT_RULES } from '../../src-shared/conflict-rules.ts';
import { applyDelta, documentDelta, fromStored, toStored, type StoredConflict } from '../../src-main/sync/till/conflict-form.ts';
import type { ConflictRecord } from '../../src-main/sync/till/records.ts';
import type { DocumentId } from '../../src-main/sync/core/types.ts';
import { RAW_BSON } from '../../src-main/sync/documents.ts';

/** Through BSON and back, read as the engine reads (every type kept). */
const viaBson = <T extends Document>(doc: T): T => deserialize(serialize(doc), RAW_BSON) as T;

/** Equal documents, field order and BSON types included. */
function sameBson(actual: Document | null, expected: Document | null, message?: string): void {
  assert.equal(actual === null, expected === null, message);
  if (actual && expected) assert.deepEqual(Buffer.from(serialize(actual)), Buffer.from(serialize(expected)), message);
}

const names = fc.constantFrom('_id', 'name', 'price', 'qty', 'lines', 'note', 'status', 'a', 'b', '1', '10');
const leaf = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer().map((n) => new Int32(n)),
  fc.double({ noNaN: true }).map((n) => new Double(n)),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n) => Long.fromBigInt(n)),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: true }),
  fc.constantFrom('6b0e02562465dfb212ec2e0a', '6b0e02562465dfb212ec2e0b').map((h) => new ObjectId(h)),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('doc'), fc.array(tie('value'), { maxLength: 4 })),
  doc: fc.dictionary(names, tie('value'), { maxKeys: 6, noNullPrototype: true }),
}));
const doc = fc.dictionary(names, value, { maxKeys: 8, noNullPrototype: true }) as fc.Arbitrary<Document>;

/** A second version of `base`: some fields changed or added, some removed, and perhaps reordered. */
const edited = (base: Document): fc.Arbitrary<Document> =>
  fc.tuple(doc, fc.subarray(Object.keys(base)), fc.boolean()).map(([changes, removed, reverse]) => {
    const entries = Object.entries({ ...base, ...changes }).filter(([name]) => !removed.includes(name) || name in changes);
    return Object.fromEntries(reverse ? entries.reverse() : entries);
  });

const ids: fc.Arbitrary<DocumentId> = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer().map((n) => new Int32(n)),
  fc.bigInt({ min: 0n, max: 2n ** 40n }).map((n) => Long.fromBigInt(n)),
  fc.constant(new ObjectId('6b0e02562465dfb212ec2e0a')),
  // A sub-document id works at run time; the type leaves it out (core/types.ts).
  fc.constant({ store: 4, n: new Int32(7) } as unknown as DocumentId),
);
const device = fc.constantFrom('till-1', 'till-2', 'hub');
const side = (document: Document | null) =>
  fc.tuple(device, fc.nat({ max: 2 ** 40 }), fc.boolean()).map(([d, wall, otherOrigin]) => ({
    version: encodeVersion({ wall, counter: 0, device: d }),
    origin: otherOrigin ? 'hub' : d,
    document,
  }));

/** A document that is mostly the record's own: its `_id` the conflict's document id. */
const ownDocument = (documentId: DocumentId): fc.Arbitrary<Document> =>
  fc.tuple(doc, fc.boolean()).map(([{ _id: _other, ...rest }, own]) => (own ? { _id: documentId, ...rest } : rest));

/** The losing or winning side of a record. */
const sideOf = (r: ConflictRecord, which: 'lose' | 'win') => ((which === 'win') === (r.winner === 'hub') ? r.hub : r.local);

const record: fc.Arbitrary<ConflictRecord> = fc
  .tuple(ids, fc.boolean(), fc.constantFrom('none', 'local', 'hub'))
  .chain(([documentId, unrelated, deleted]) =>
    ownDocument(documentId).chain((base) =>
      fc
        .tuple(fc.constant(documentId), unrelated ? ownDocument(documentId) : edited(base))
        .map(([id, other]) => [id, deleted === 'local' ? null : base, deleted === 'hub' ? null : other] as const),
    ),
  )
  .chain(([documentId, local, hub]) =>
    fc.record(
      {
        _id: fc.constant(new ObjectId()),
        at: fc.date({ noInvalidDate: true }),
        reappliedAt: fc.option(fc.date({ noInvalidDate: true })),
        collection: fc.constantFrom('menu', 'orders'),
        documentId: fc.constant(documentId),
        winner: fc.constantFrom('local' as const, 'hub' as const),
        rule: fc.constantFrom(...CONFLICT_RULES),
        fields: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
        local: side(local),
        hub: side(hub),
      },
      { requiredKeys: ['_id', 'at', 'reappliedAt', 'collection', 'documentId', 'winner', 'rule', 'local', 'hub'], noNullPrototype: true },
    ),
  );

describe('a document as a difference from another', () => {
  it('applying the difference gives the second document exactly (values, types, field order)', () => {
    fc.assert(
      fc.property(
        doc.chain((base) => fc.tuple(fc.constant(base), fc.oneof(edited(base), doc))),
        ([from, to]) => {
          const delta = documentDelta(from, to);
          sameBson(applyDelta(from, delta), to);
          sameBson(applyDelta(viaBson(from), viaBson(delta)), viaBson(to), 'as stored');
        },
      ),
      { numRuns: 500 },
    );
  });

  it('holds only what changed: a changed nested value, a changed array, a removed field', () => {
    const from = { _id: 7, name: 'Soup', lines: [{ sku: 'a', qty: 1 }], price: 4, note: 'hot' };
    const to = { _id: 7, name: 'Soup', lines: [{ sku: 'a', qty: 2 }], price: 4.5 };
    assert.deepEqual(documentDelta(from, to), { s: { lines: [{ sku: 'a', qty: 2 }], price: 4.5 }, u: ['note'] });
    assert.deepEqual(documentDelta(from, from), {}, 'the same document: nothing');
    assert.deepEqual(documentDelta({ n: new Int32(1) }, { n: new Double(1) }), { s: { n: new Double(1) } }, 'an int32 1 is not a double 1');
    assert.deepEqual(documentDelta({ a: 1, b: 2 }, { b: 2, a: 1 }), { k: ['b', 'a'] }, 'the same fields in another order');
  });
});

describe("the conflict log's compact form", () => {
  it('reads back exactly the record that was written', () => {
    fc.assert(
      fc.property(record, (r) => {
        const read = fromStored(toStored(r));
        assert.deepEqual(read, r);
        sameBson(read.local.document, r.local.document, 'local');
        sameBson(read.hub.document, r.hub.document, 'hub');
      }),
      { numRuns: 500 },
    );
  });

  it('read from the database, it is what the whole form read from the database was', () => {
    fc.assert(
      fc.property(record, (r) => {
        const whole = viaBson(r);
        const read = fromStored(viaBson(toStored(r)));
        assert.deepEqual(read, whole);
        sameBson(read.local.document, whole.local.document, 'local');
        sameBson(read.hub.document, whole.hub.document, 'hub');
      }),
      { numRuns: 500 },
    );
  });

  it('a compact record written with its versions as strings (before they were bytes) reads as it was', () => {
    fc.assert(
      fc.property(record, (r) => {
        const stored = toStored(r);
        const withStrings = {
          ...stored,
          lose: { ...stored.lose, v: sideOf(r, 'lose').version },
          win: { ...stored.win, v: sideOf(r, 'win').version },
        };
        assert.deepEqual(fromStored(viaBson(withStrings)), viaBson(r));
      }),
      { numRuns: 200 },
    );
  });

  it('a record in the whole form older versions stored reads as it always did', () => {
    const old = viaBson({
      _id: new ObjectId(),
      at: new Date(Date.UTC(2025, 5, 1)),
      reappliedAt: null,
      collection: 'menu',
      documentId: new Int32(12),
      winner: 'local',
      rule: 'Newer version wins (per field)',
      fields: ['price'],
      local: {
        version: encodeVersion({ wall: 2, counter: 0, device: 'till-1' }),
        origin: 'till-1',
        document: { _id: new Int32(12), price: 5 },
      },
      hub: { version: encodeVersion({ wall: 1, counter: 0, device: 'till-2' }), origin: 'hub', document: null },
    }) as unknown as StoredConflict; // its rule in the English an older engine wrote
    assert.deepEqual(fromStored(old), old);
  });

  it("a busy till's typical conflict (one field of an order changed on both sides) takes about half the room", () => {
    const order = {
      _id: 'o-1001',
      table: 12,
      lines: Array.from({ length: 8 }, (_, i) => ({ sku: `sku-${i}`, name: `dish ${i}`, qty: 1 + (i % 3), price: 450 + i * 25 })),
      note: 'no onions on the second burger, please; table by the window',
    };
    const r: ConflictRecord = {
      _id: new ObjectId(),
      at: new Date(),
      reappliedAt: null,
      collection: 'orders',
      documentId: order._id,
      winner: 'hub',
      rule: 'newer-version',
      local: {
        version: encodeVersion({ wall: 1, counter: 0, device: 'till-1' }),
        origin: 'till-1',
        document: { ...order, status: 'open' },
      },
      hub: {
        version: encodeVersion({ wall: 2, counter: 0, device: 'till-2' }),
        origin: 'till-2',
        document: { ...order, status: 'kitchen' },
      },
    };
    const ratio = calculateObjectSize(toStored(r)) / calculateObjectSize(r);
    assert.ok(ratio < 0.6, `compact ÷ whole = ${ratio.toFixed(2)}`);
  });
});
