/**
 * Document ids as the engine keys them: two ids get the same key exactly when
 * they are the same BSON value, whichever copy of the bson library made them.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Int32, Long, ObjectId as DriverObjectId } from 'mongodb';
import { Binary, EJSON, ObjectId } from 'bson';
import { idKey } from '../../src-main/sync/documents.ts';

const ids = fc.oneof(
  fc.constantFrom('a', 'b', '5', '6b0e02562465dfb212ec2e0a'),
  fc.constantFrom('6b0e02562465dfb212ec2e0a', '6b0e02562465dfb212ec2e0b').map((h) => new ObjectId(h)),
  fc.integer({ min: 4, max: 6 }).map((n) => new Int32(n)),
  fc.bigInt({ min: 4n, max: 6n }).map((n) => Long.fromBigInt(n)),
  fc.uint8Array({ maxLength: 1 }).map((b) => new Binary(b)),
);

describe('idKey', () => {
  it('an ObjectId from the driver and the same ObjectId from bson share a key', () => {
    const hex = '6b0e02562465dfb212ec2e0a';
    assert.equal(idKey(new DriverObjectId(hex)), idKey(new ObjectId(hex)));
  });

  it('a string that spells an ObjectId is a different id from the ObjectId', () => {
    const hex = '6b0e02562465dfb212ec2e0a';
    assert.notEqual(idKey(hex), idKey(new ObjectId(hex)));
    assert.notEqual(idKey('5'), idKey(new Int32(5)));
  });

  it('keys are equal exactly when the ids are equal BSON values', () => {
    fc.assert(
      fc.property(ids, ids, (a, b) => {
        const [ea, eb] = [EJSON.stringify({ id: a }, { relaxed: false }), EJSON.stringify({ id: b }, { relaxed: false })];
        assert.equal(idKey(a) === idKey(b), ea === eb, `${ea} vs ${eb}`);
      }),
    );
  });
});
