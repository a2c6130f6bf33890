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

  it('match the stamp filters sync sends: over the version read when older, or an older one for the same content', () => {
    const id = oids[0];
    const stampFilter = (over: string | null, v: string, h: string) =>
      compileFilter({
        _id: id,
        $or: [{ '_sync.v': over === null ? { $exists: false } : { $eq: over, $lt: v } }, { '_sync.v': { $lt: v }, '_sync.h': h }],
      });
    const overNone = stampFilter(null, 'v2', 'h1');
    assert.equal(overNone({ _id: id, name: 'x' }), true);
    assert.equal(overNone({ _id: id, _sync: { v: 'v1', h: 'h1' } }), true, 'an older version for the same content');
    assert.equal(overNone({ _id: id, _sync: { v: 'v1', h: 'h9' } }), false, 'a version written for other content since');
    const overV1 = stampFilter('v1', 'v2', 'h1');
    assert.equal(overV1({ _id: id, _sync: { v: 'v1', h: 'h0' } }), true);
    assert.equal(overV1({ _id: id, name: 'x' }), false, 'no version: not what was read');
    assert.equal(overV1({ _id: id, _sync: { v: 'v0', h: 'h9' } }), false, 'another (older) version than the one read');
    assert.equal(overV1({ _id: id, _sync: { v: 'v3', h: 'h1' } }), false, 'a newer version written since');
    assert.equal(overV1({ _id: oids[1], _sync: { v: 'v1', h: 'h0' } }), false);
    assert.equal(stampFilter('v2', 'v2', 'h1')({ _id: id, _sync: { v: 'v2', h: 'h1' } }), false, 'not over an equal one');
  });
});
