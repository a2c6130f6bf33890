/**
 * The conflict resolver's promises, as properties: merging is commutative,
 * associative and idempotent, so every replica that has seen the same set of
 * versions — in any order, any number of times — shows the same document.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import {
  emptyFieldState,
  fieldStateVersion,
  hubState,
  mergeDocStates,
  mergeFieldStates,
  storedFieldVersions,
  visibleDocument,
  writeState,
  type DocState,
  type FieldDocState,
} from '../../src-main/sync/core/field-merge.ts';

const FIELDS = ['name', 'price', 'stock', 'tags'];

/** Writes with unique versions (a device writes each (wall, counter) once). */
const writeArb = fc
  .record({
    wall: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_050 }),
    counter: fc.integer({ min: 0, max: 3 }),
    device: fc.constantFrom('till-a', 'till-b', 'hub', 'till-c'),
    del: fc.boolean(),
    changed: fc.option(fc.subarray(FIELDS, { minLength: 1 }), { nil: null }),
    values: fc.dictionary(fc.constantFrom(...FIELDS), fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.constant(null)), {
      maxKeys: 4,
    }),
  })
  .map((w) => ({
    op: w.del ? ('delete' as const) : ('upsert' as const),
    v: encodeVersion({ wall: w.wall, counter: w.counter, device: w.device }),
    doc: w.del ? null : { _id: 'x', ...w.values },
    changed: w.changed,
  }));

const uniqueWrites = fc.uniqueArray(writeArb, { selector: (w) => w.v, maxLength: 8 });

function fieldStateOf(writes: ReadonlyArray<Parameters<typeof writeState>[0]>): FieldDocState {
  return writes.map((w) => writeState(w, FIELDS)).reduce(mergeFieldStates, emptyFieldState());
}

/** Comparable form: the visible document and the per-field versions. */
function view(s: FieldDocState): string {
  return JSON.stringify({ doc: visibleDocument(s, 'x'), fields: storedFieldVersions(s), del: s.del, v: fieldStateVersion(s) });
}

describe('resolver: field granularity', () => {
  it('merge is commutative', () => {
    // Two writes never share a version: a version names exactly one write.
    const pair = fc.uniqueArray(writeArb, { selector: (w) => w.v, minLength: 2, maxLength: 2 });
    fc.assert(
      fc.property(
        pair,
        ([a, b]) =>
          view(mergeFieldStates(writeState(a!, FIELDS), writeState(b!, FIELDS))) ===
          view(mergeFieldStates(writeState(b!, FIELDS), writeState(a!, FIELDS))),
      ),
    );
  });

  it('merge is associative', () => {
    fc.assert(
      fc.property(uniqueWrites, uniqueWrites, uniqueWrites, (a, b, c) => {
        const [x, y, z] = [fieldStateOf(a), fieldStateOf(b), fieldStateOf(c)];
        return view(mergeFieldStates(mergeFieldStates(x, y), z)) === view(mergeFieldStates(x, mergeFieldStates(y, z)));
      }),
    );
  });

  it('merge is idempotent', () => {
    fc.assert(fc.property(uniqueWrites, (ws) => view(mergeFieldStates(fieldStateOf(ws), fieldStateOf(ws))) === view(fieldStateOf(ws))));
  });

  it('every replica that saw the same versions, in any order and with repeats, shows the same document', () => {
    fc.assert(
      fc.property(uniqueWrites, fc.func(fc.integer()), fc.nat({ max: 3 }), (ws, shuffleKey, repeats) => {
        const shuffled = [...ws, ...ws.slice(0, repeats)].sort((p, q) => shuffleKey(p.v) - shuffleKey(q.v));
        return view(fieldStateOf(shuffled)) === view(fieldStateOf(ws));
      }),
    );
  });

  it('edits of different fields made concurrently both survive', () => {
    const base = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 1, counter: 0, device: 'hub' }),
      doc: { _id: 'x', name: 'Soup', price: 4 },
    });
    const onA = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 2, counter: 0, device: 'till-a' }),
      doc: { _id: 'x', name: 'Soup', price: 5 },
      changed: ['price'],
    });
    const onB = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 3, counter: 0, device: 'till-b' }),
      doc: { _id: 'x', name: 'Tomato soup', price: 4 },
      changed: ['name'],
    });
    assert.deepEqual(visibleDocument([base, onA, onB].reduce(mergeFieldStates), 'x'), { _id: 'x', name: 'Tomato soup', price: 5 });
  });

  it('the same field edited on two tills: the newer version wins', () => {
    const onA = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 2, counter: 0, device: 'till-a' }),
      doc: { _id: 'x', price: 5 },
      changed: ['price'],
    });
    const onB = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 3, counter: 0, device: 'till-b' }),
      doc: { _id: 'x', price: 6 },
      changed: ['price'],
    });
    assert.equal(visibleDocument(mergeFieldStates(onB, onA), 'x')?.price, 6);
  });

  it('a delete newer than every field edit deletes; an edit newer than the delete keeps the document', () => {
    const edit = writeState({ op: 'upsert', v: encodeVersion({ wall: 2, counter: 0, device: 'till-a' }), doc: { _id: 'x', price: 5 } });
    const del = writeState({ op: 'delete', v: encodeVersion({ wall: 3, counter: 0, device: 'till-b' }) });
    assert.equal(visibleDocument(mergeFieldStates(edit, del), 'x'), null);
    const later = writeState({
      op: 'upsert',
      v: encodeVersion({ wall: 4, counter: 0, device: 'till-a' }),
      doc: { _id: 'x', price: 7 },
      changed: ['price'],
    });
    assert.deepEqual(visibleDocument([edit, del, later].reduce(mergeFieldStates), 'x'), { _id: 'x', price: 7 });
  });

  it('a hub document round-trips through its stored field versions', () => {
    fc.assert(
      fc.property(uniqueWrites, (ws) => {
        const s = fieldStateOf(ws);
        const doc = visibleDocument(s, 'x');
        const back = hubState(doc, fieldStateVersion(s), storedFieldVersions(s), s.del);
        return JSON.stringify(visibleDocument(back, 'x')) === JSON.stringify(doc);
      }),
    );
  });
});

describe('resolver: document granularity', () => {
  const docArb: fc.Arbitrary<DocState> = writeArb.map((w) => ({ v: w.v, doc: w.doc }));
  // Three distinct versions: a version names exactly one write, so two states never share one with different content.
  const threeDocs = fc.uniqueArray(docArb, { selector: (s) => s.v, minLength: 3, maxLength: 3 });
  it('merge is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(threeDocs, ([a, b, c]) => {
        if (!a || !b || !c) throw new Error('three states expected');
        assert.deepEqual(mergeDocStates(a, b), mergeDocStates(b, a));
        assert.deepEqual(mergeDocStates(mergeDocStates(a, b), c), mergeDocStates(a, mergeDocStates(b, c)));
        assert.deepEqual(mergeDocStates(a, a), a);
      }),
    );
  });
});
