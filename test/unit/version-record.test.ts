/**
 * A version record keeps a content hash as its 20 bytes: every hash the engine
 * makes, and any other string it may be handed, reads back exactly as it was
 * given, through BSON as the till's database keeps it — and a record written
 * before, with the hash as a string, reads as it was.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { calculateObjectSize, deserialize, serialize } from 'bson';
import { Binary } from 'mongodb';
import { contentHash, RAW_BSON } from '../../src-main/sync/documents.ts';
import { knownHash, knownOf, storedHash, type StoredHash } from '../../src-main/sync/till/version-record.ts';

/** Through BSON and back, read as the engine reads (every type kept). */
const viaBson = (h: StoredHash): StoredHash => (deserialize(serialize({ h }), RAW_BSON) as { h: StoredHash }).h;

describe('a content hash in a version record', () => {
  it('every hash the engine makes is stored as 20 bytes and read back exactly', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const h = contentHash({ value });
        const stored = storedHash(h);
        assert.ok(stored instanceof Binary && stored.length() === 20);
        assert.equal(knownHash(viaBson(stored)), h);
      }),
    );
  });

  it('any other string, and null, reads back exactly as given', () => {
    const base64urlish = fc.string({ unit: fc.constantFrom(...'AQgw_-z9=+/ .'.split('')), minLength: 26, maxLength: 28 });
    fc.assert(
      fc.property(fc.oneof(fc.string(), base64urlish, fc.constant(null)), (h) => {
        assert.equal(knownHash(viaBson(storedHash(h))), h);
      }),
    );
    // 27 characters that are not the canonical spelling of any 20 bytes (the last one's spare bits set).
    assert.equal(storedHash('AAAAAAAAAAAAAAAAAAAAAAAAAAB'), 'AAAAAAAAAAAAAAAAAAAAAAAAAAB');
  });

  it('a record an older engine wrote, with the hash as a string, reads as it was', () => {
    const h = contentHash({ _id: 'o-1', total: 12 });
    assert.deepEqual(knownOf({ v: '0194c5a00000.0000.till-1', h }), { v: '0194c5a00000.0000.till-1', h });
    assert.deepEqual(knownOf({ v: '0194c5a00000.0000.till-1', h: null }), { v: '0194c5a00000.0000.till-1', h: null }, 'a delete trace');
  });

  it('takes 7 bytes less a record', () => {
    const h = contentHash({ _id: 'o-1', total: 12 });
    assert.equal(calculateObjectSize({ h }) - calculateObjectSize({ h: storedHash(h) }), 7);
  });
});
