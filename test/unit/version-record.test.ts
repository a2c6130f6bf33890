/**
 * A version record keeps a content hash as its 20 bytes, and a version as its
 * wall time and counter packed in one integer beside its device: every hash
 * and version the engine makes, and any other string it may be handed, reads
 * back exactly as it was given, through BSON as the till's database keeps it
 * — and a record written before, with strings, reads as it was. (That the
 * server compares both forms in version order: test/integration/version-records.test.ts.)
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { calculateObjectSize, deserialize, serialize } from 'bson';
import { Binary, type Document } from 'mongodb';
import { contentHash, RAW_BSON } from '../../src-main/sync/documents.ts';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { notVersionArb, versionArb } from './version-arbitraries.ts';
import {
  knownHash,
  knownOf,
  recordUpdate,
  storedHash,
  type StoredHash,
  type VersionRecord,
} from '../../src-main/sync/till/version-record.ts';

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

/** A version record as `recordUpdate` writes it (over a record that had a `d`), through BSON, read as the engine reads. */
function stored(v: string, h: string | null = null): Pick<VersionRecord, 'v' | 'd' | 'h'> {
  const update = recordUpdate(v, h);
  const record: Document = { v: 'before', d: 'till-old', h: null, ...update.$set };
  for (const field of Object.keys(update.$unset ?? {})) delete record[field];
  return deserialize(serialize(record), RAW_BSON) as Pick<VersionRecord, 'v' | 'd' | 'h'>;
}

describe('a version in a version record', () => {
  it('every version the engine makes reads back exactly, packed unless its wall is past 2^47 ms', () => {
    fc.assert(
      fc.property(versionArb, fc.option(fc.jsonValue().map((value) => contentHash({ value }))), (v, h) => {
        const record = stored(v, h);
        assert.deepEqual(knownOf(record), { v, h });
        const wall = Number.parseInt(v.slice(0, 12), 16);
        assert.equal(typeof record.v !== 'string', wall < 2 ** 47, v);
      }),
      { numRuns: 500 },
    );
  });

  it('anything that is not a version as encodeVersion writes it stays the string it was', () => {
    fc.assert(
      fc.property(notVersionArb, (v) => {
        const record = stored(v);
        assert.equal(record.v, v);
        assert.equal(record.d, undefined, 'no device left from before');
        assert.equal(knownOf(record).v, v);
      }),
    );
  });

  it('a record an older engine wrote, with the version as a string, reads as it was (a stale device beside it too)', () => {
    assert.equal(knownOf({ v: '0194c5a00000.0001.till-1', h: null }).v, '0194c5a00000.0001.till-1');
    assert.equal(knownOf({ v: '0194c5a00000.0001.till-1', d: 'till-9', h: null }).v, '0194c5a00000.0001.till-1');
  });

  it("takes 7 bytes less a record with a till's default device id", () => {
    const v = encodeVersion({ wall: Date.UTC(2026, 0, 1), counter: 3, device: 'till-3f9a12bc' });
    assert.equal(calculateObjectSize({ v, h: null }) - calculateObjectSize(recordUpdate(v, null).$set), 7);
  });
});
