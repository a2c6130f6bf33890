/**
 * How concurrent versions of one document resolve — pure functions, so every
 * replica that has seen the same versions computes the same result, whatever
 * order it saw them in (property-tested in test/unit/resolve.test.ts).
 *
 * - `document` granularity: the whole document is one last-writer-wins
 *   register; a delete is a version with no document.
 * - `field` granularity: each top-level field is its own last-writer-wins
 *   register (a removed field is a register holding "absent"), and a delete
 *   is a register of its own. The document exists when its newest field
 *   version is newer than its newest delete; then it holds every present
 *   field. Edits of different fields on different tills therefore all survive.
 *
 * Versions are encoded HLC strings, whose string order is version order, and
 * are unique per write (they carry the device id), so ties never need values.
 */
import type { Document } from 'bson';

/** Document granularity: one register. */
export interface DocState {
  v: string;
  /** null for a delete. */
  doc: Document | null;
}

export function mergeDocStates(a: DocState, b: DocState): DocState {
  return a.v >= b.v ? a : b;
}

export interface FieldRegister {
  v: string;
  present: boolean;
  value?: unknown;
}

/** Field granularity: a register per top-level field (`_id` excluded) and one for deletes. */
export interface FieldDocState {
  del: string | null;
  fields: Map<string, FieldRegister>;
}

export function emptyFieldState(): FieldDocState {
  return { del: null, fields: new Map() };
}

export function mergeFieldStates(a: FieldDocState, b: FieldDocState): FieldDocState {
  const fields = new Map(a.fields);
  for (const [name, reg] of b.fields) {
    const mine = fields.get(name);
    if (!mine || reg.v > mine.v) fields.set(name, reg);
  }
  const del = a.del === null ? b.del : b.del === null ? a.del : a.del >= b.del ? a.del : b.del;
  return { del, fields };
}

/** The newest version anywhere in the state (the document's version); null for an empty state. */
export function fieldStateVersion(s: FieldDocState): string | null {
  let newest = s.del;
  for (const reg of s.fields.values()) if (newest === null || reg.v > newest) newest = reg.v;
  return newest;
}

/** The newest field version (not counting deletes). */
function newestFieldVersion(s: FieldDocState): string | null {
  let newest: string | null = null;
  for (const reg of s.fields.values()) if (newest === null || reg.v > newest) newest = reg.v;
  return newest;
}

/**
 * The document the state shows, or null when deleted (or empty). Fields come
 * out in `order` (e.g. the till's field order), then the rest by name.
 */
export function visibleDocument(s: FieldDocState, id: unknown, order: readonly string[] = []): Document | null {
  const newest = newestFieldVersion(s);
  if (newest === null || (s.del !== null && s.del >= newest)) return null;
  const doc: Document = { _id: id };
  const names = [...new Set([...order.filter((n) => s.fields.has(n)), ...[...s.fields.keys()].sort()])];
  for (const name of names) {
    const reg = s.fields.get(name) as FieldRegister;
    if (reg.present) doc[name] = reg.value;
  }
  return doc;
}

/**
 * The state a single write contributes: the fields it changed (all of the
 * document's fields, and the removal of every other known field, for an
 * insert or replace) at its version; a delete sets the delete register.
 */
export function writeState(
  write: { op: 'upsert' | 'delete'; v: string; doc?: Document | null; changed?: readonly string[] | null },
  knownFields: Iterable<string> = [],
): FieldDocState {
  const state = emptyFieldState();
  if (write.op === 'delete' || !write.doc) {
    state.del = write.v;
    return state;
  }
  const doc = write.doc;
  const names = write.changed ? new Set(write.changed) : new Set([...Object.keys(doc), ...knownFields]);
  names.delete('_id');
  for (const name of names) {
    state.fields.set(
      name,
      Object.prototype.hasOwnProperty.call(doc, name) ? { v: write.v, present: true, value: doc[name] } : { v: write.v, present: false },
    );
  }
  return state;
}

/** Per-field versions as the hub stores them in `_sync.f`: `[{n, v}]`, so any field name is safe. */
export type StoredFieldVersions = Array<{ n: string; v: string }>;

/**
 * The state a hub document represents: each present field at its stored
 * field version (or the document version when it has none), removed fields
 * at theirs, and a tombstone as the delete register.
 */
export function hubState(
  doc: Document | null,
  docVersion: string | null,
  stored: StoredFieldVersions | undefined,
  tombstone: string | null,
): FieldDocState {
  const state = emptyFieldState();
  state.del = tombstone;
  const versions = new Map((stored ?? []).map((f) => [f.n, f.v]));
  if (doc && docVersion) {
    for (const [name, value] of Object.entries(doc)) {
      if (name === '_id' || name === '_sync') continue;
      state.fields.set(name, { v: versions.get(name) ?? docVersion, present: true, value });
    }
    for (const [name, v] of versions) if (!state.fields.has(name)) state.fields.set(name, { v, present: false });
  }
  return state;
}

export function storedFieldVersions(s: FieldDocState): StoredFieldVersions {
  return [...s.fields.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([n, reg]) => ({ n, v: reg.v }));
}
