import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Double, Int32, Long, ObjectId } from 'bson';
import type { ConflictRecord } from '../../src-main/sync/till/records.ts';
import { changedFields, explainRule, storedRule, toConflictView } from '../../src-main/app/conflict-view.ts';
import { CONFLICT_RULES } from '../../src-shared/conflict-rules.ts';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';

const localVersion = encodeVersion({ wall: 1_700_000_000_000, counter: 2, device: 'till-a' });
const hubVersion = encodeVersion({ wall: 1_700_000_000_500, counter: 0, device: 'hub' });

const ID = new ObjectId('0123456789abcdef01234567');

function record(overrides: Partial<ConflictRecord> = {}): ConflictRecord {
  return {
    _id: ID,
    collection: 'menu',
    documentId: 'burger',
    winner: 'hub',
    rule: 'newer-version',
    local: {
      version: localVersion,
      origin: 'till-a',
      document: { _id: 'burger', name: 'Burger', price: new Double(9.5), stock: new Int32(4) },
    },
    hub: {
      version: hubVersion,
      origin: 'hub',
      document: {
        _id: 'burger',
        name: 'Burger',
        price: new Double(10),
        stock: new Int32(4),
        tag: 'new',
        _sync: { v: hubVersion, o: 'hub', h: 'x' },
      },
    },
    at: new Date(1_700_000_001_000),
    reappliedAt: null,
    ...overrides,
  };
}

describe('conflict view', () => {
  it('shows both sides as relaxed Extended JSON without sync metadata, with wall times and the changed fields', () => {
    const view = toConflictView(record());
    assert.equal(view.id, '0123456789abcdef01234567');
    assert.equal(view.documentId, '"burger"');
    assert.deepEqual(view.local.document, { _id: 'burger', name: 'Burger', price: 9.5, stock: 4 });
    assert.deepEqual(view.hub.document, { _id: 'burger', name: 'Burger', price: 10, stock: 4, tag: 'new' });
    assert.equal(view.local.wallTime, 1_700_000_000_000);
    assert.equal(view.hub.wallTime, 1_700_000_000_500);
    assert.equal(view.hub.origin, 'hq', 'writes made on the hub directly are shown as head office');
    assert.equal(view.local.origin, 'till-a');
    assert.deepEqual(view.changedFields, ['price', 'tag']);
    assert.equal(view.at, 1_700_000_001_000);
    assert.equal(view.reappliedAt, null);
    assert.equal(view.explanation, "The hub's version was newer, so it was kept.");
  });

  it('keeps types Extended JSON cannot show as plain JSON: ObjectId ids, large longs', () => {
    const oid = new ObjectId('65a1b2c3d4e5f60718293a4b');
    const view = toConflictView(
      record({
        documentId: oid,
        local: { version: localVersion, origin: 'till-a', document: { _id: oid, n: Long.fromString('9007199254740993') } },
      }),
    );
    assert.equal(view.documentId, '{"$oid":"65a1b2c3d4e5f60718293a4b"}');
    assert.deepEqual(view.local.document, { _id: { $oid: '65a1b2c3d4e5f60718293a4b' }, n: { $numberLong: '9007199254740993' } });
  });

  it('treats a delete as a null document whose every field changed', () => {
    const view = toConflictView(
      record({ winner: 'local', rule: 'newer-version', local: { version: localVersion, origin: 'till-a', document: null } }),
    );
    assert.equal(view.local.document, null);
    assert.deepEqual(view.changedFields, ['_id', 'name', 'price', 'stock', 'tag']);
    assert.equal(view.rule, 'newer-version');
    assert.equal(view.explanation, "This till's version was newer, so it was sent to the hub.");
  });

  it('counts an int and a double of the same value as a change (the POS sees different types)', () => {
    assert.deepEqual(changedFields({ a: new Int32(1) }, { a: new Double(1) }), ['a']);
    assert.deepEqual(changedFields({ a: new Int32(1), b: 'x' }, { a: new Int32(1), b: 'x' }), []);
  });

  it('reports an unreadable version as an unknown time rather than failing', () => {
    const view = toConflictView(record({ local: { version: '', origin: 'till-a', document: null } }));
    assert.equal(view.local.wallTime, null);
  });

  it('explains every rule the engine can record, in words that differ from the generic fallback', () => {
    const fallback = new Set([explainRule(null, 'hub'), explainRule(null, 'local')]);
    for (const rule of CONFLICT_RULES) {
      for (const winner of ['hub', 'local'] as const) {
        const words = explainRule(rule, winner, ['price']);
        assert.ok(words.length > 20, `${rule} (${winner}) has an explanation`);
        assert.ok(!fallback.has(words), `${rule} (${winner}) is explained, not the generic text`);
      }
    }
    assert.match(explainRule('newer-version-per-field', 'local', ['price', 'note']), /price, note/);
  });

  it('reads the rules of records older engines stored as sentences', () => {
    assert.equal(storedRule('newer version wins'), 'newer-version');
    assert.equal(storedRule('newer version wins per field (price, note)'), 'newer-version-per-field');
    assert.equal(storedRule('local change was never captured'), 'uncaptured-local-change');
    assert.equal(storedRule('deleted on the hub longer ago than the tombstone retention'), 'deleted-beyond-retention');
    assert.equal(storedRule('newer version wins (found by reconciliation)'), 'reconciled-newer-version');
    assert.equal(storedRule('something-new'), null);
    assert.equal(explainRule(storedRule('something-new'), 'local'), "This till's version was kept.");
  });

  it('carries when the losing version was re-applied', () => {
    assert.equal(toConflictView(record({ reappliedAt: new Date(5) })).reappliedAt, 5);
  });
});
