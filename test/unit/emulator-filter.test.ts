/**
 * The emulator matches simple filters (the ones sync sends with each statement
 * of a bulk write) without mingo. Whatever a document holds, the answer must be
 * mingo's — the emulator's query semantics stay those of one implementation.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Binary, Long, ObjectId, type Document } from 'bson';
import { Query } from 'mingo';
import { compileFilter } from '../harness/mongo/query.ts';

const oids = [new ObjectId('64b000000000000000000001'), new ObjectId('64b000000000000000000002')];
const bins = [
  new Binary(Buffer.from('00112233445566778899aabbccddeeff', 'hex'), 4),
  new Binary(Buffer.from('ffeeddccbbaa99887766554433221100', 'hex'), 4),
];
const dates = [new Date(1_700_000_000_000), new Date(1_700_000_000_001)];
const scalar = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0.5, -0, Number.NaN),
  fc.constantFrom('', 'a', 'b', 'ab', '0', 'é', '\u{1F600}', '\uE000'),
  fc.constantFrom(...dates, ...oids, ...bins),
);
const stored = fc.oneof(
  scalar,
  fc.constantFrom(null, true, false, new Long(2), new Date(Number.NaN)),
  fc.array(scalar, { maxLength: 2 }),
  fc.record({ x: scalar }, { requiredKeys: [], noNullPrototype: true }),
);
const docArb = fc.record(
  {
    _id: fc.constantFrom(...oids, 1, 'k'),
    a: stored,
    b: stored,
    s: fc.record({ v: stored }, { requiredKeys: [], noNullPrototype: true }),
    lsid: fc.record({ id: fc.oneof(fc.constantFrom(...bins), stored) }, { noNullPrototype: true }),
  },
  { requiredKeys: ['_id'], noNullPrototype: true },
);

const path = fc.constantFrom('_id', 'a', 'b', 's.v', 'a.x', 's');
const condition: fc.Arbitrary<unknown> = fc.oneof(
  scalar,
  fc.record({ $exists: fc.boolean() }),
  fc.record({ $in: fc.array(scalar, { maxLength: 3 }) }),
  fc.record({ $nin: fc.array(fc.oneof(scalar, fc.boolean()), { maxLength: 3 }) }),
  fc
    .dictionary(fc.constantFrom('$eq', '$ne', '$lt', '$lte', '$gt', '$gte', '$exists'), scalar, { minKeys: 1, maxKeys: 2 })
    .map((ops) => ('$exists' in ops ? { ...ops, $exists: true } : ops)),
);
const leaf = fc.dictionary(path, condition, { minKeys: 1, maxKeys: 2 });
const filterArb: fc.Arbitrary<Document> = fc.oneof(
  leaf,
  fc.record({ _id: fc.constantFrom(...oids, 1, 'k'), $or: fc.array(leaf, { minLength: 1, maxLength: 3 }) }),
  fc.record({ $and: fc.array(leaf, { minLength: 1, maxLength: 2 }) }),
  // What the engine's streams send: leave out its own sessions' data changes, keep collection-level events.
  fc.record({
    $or: fc.tuple(fc.record({ 'lsid.id': fc.record({ $nin: fc.array(fc.constantFrom(...bins), { minLength: 1, maxLength: 2 }) }) }), leaf),
  }),
);

describe('emulator: simple filters', () => {
  it('match exactly as mingo does, for any document', () => {
    fc.assert(
      fc.property(filterArb, docArb, (filter, doc) => {
        assert.equal(compileFilter(filter)(doc), new Query(filter).test(doc), JSON.stringify({ filter, doc }));
      }),
      { numRuns: 20_000 },
    );
  });

  it('match the stamp filter sync sends: no version yet, or an older one', () => {
    const id = oids[0];
    const filter = { _id: id, $or: [{ '_sync.v': { $exists: false } }, { '_sync.v': { $lt: 'v2' } }] };
    const test = compileFilter(filter);
    assert.equal(test({ _id: id, name: 'x' }), true);
    assert.equal(test({ _id: id, _sync: { v: 'v1' } }), true);
    assert.equal(test({ _id: id, _sync: { v: 'v2' } }), false);
    assert.equal(test({ _id: id, _sync: { v: 'v3' } }), false);
    assert.equal(test({ _id: oids[1], _sync: { v: 'v1' } }), false);
  });
});
