/**
 * The conflict log keeps a version as bytes: every version the engine makes
 * reads back exactly, through BSON as the till's database keeps it; any other
 * string stays the string it was, and so do versions an older engine wrote.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { calculateObjectSize, deserialize, serialize } from 'bson';
import { RAW_BSON } from '../../src-main/sync/documents.ts';
import { versionBytes, versionFromBytes, type VersionBytes } from '../../src-main/sync/till/version-bytes.ts';
import { notVersionArb, versionArb } from './version-arbitraries.ts';

/** Through BSON and back, read as the engine reads (every type kept). */
const viaBson = (v: VersionBytes): VersionBytes => (deserialize(serialize({ v }), RAW_BSON) as { v: VersionBytes }).v;

describe('a version in the conflict log', () => {
  it('every version the engine makes is stored as bytes and read back exactly', () => {
    fc.assert(
      fc.property(versionArb, (v) => {
        const stored = versionBytes(v);
        assert.notEqual(typeof stored, 'string');
        assert.equal(versionFromBytes(viaBson(stored)), v);
      }),
      { numRuns: 500 },
    );
  });

  it('anything else, and a version an older engine wrote as a string, reads back as it was', () => {
    fc.assert(
      fc.property(notVersionArb, (v) => {
        assert.equal(versionBytes(v), v);
        assert.equal(versionFromBytes(viaBson(v)), v);
      }),
    );
    assert.equal(versionFromBytes('0194c5a00000.0001.till-1'), '0194c5a00000.0001.till-1');
  });

  it("takes 10 bytes less with a till's default device id", () => {
    const v = '019b7a1c2400.0003.till-3f9a12bc';
    assert.equal(calculateObjectSize({ v }) - calculateObjectSize({ v: versionBytes(v) }), 10);
  });
});
