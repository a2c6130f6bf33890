/**
 * How the till's conflict log stores a conflict: compactly, because a busy
 * till keeps thousands (issue 18). The losing version is stored whole — it is
 * what staff may apply again — and the winning one as its difference from the
 * losing one, top-level field by field: most conflicts are two edits of one
 * record, whose versions share most of their fields. What a record already
 * says is not stored a second time: an origin that is the device its version
 * names, the document's id when the losing version's `_id` is it.
 *
 * Every reader sees the whole `ConflictRecord`, as recorded: `fromStored`
 * undoes `toStored` exactly (every value, field order included), and reads a
 * record written before this form (both versions whole, as `local` and `hub`)
 * as it was, so a till that upgrades keeps its history. Pure: no I/O.
 */
import { serialize, type Document, type ObjectId } from 'bson';
import type { ConflictRule, ConflictWinner } from '../../../src-shared/conflict-rules.ts';
import type { ConflictSide, DocumentId } from '../core/types.ts';
import type { ConflictRecord } from './records.ts';
import { versionBytes, versionFromBytes, type VersionBytes } from './version-bytes.ts';

/** The top-level difference that turns one document into another. */
export interface DocumentDelta {
  /** Fields that are new or whose value changed, with their new values (whole, nested ones included). */
  s?: Document;
  /** Fields that are gone. */
  u?: string[];
  /** The new document's field order, when applying `s` and `u` in place would give another. */
  k?: string[];
}

/** One side of a stored conflict: its version (as bytes, `version-bytes.ts`), and its origin only when the version does not name it. */
interface StoredSide {
  v: VersionBytes;
  o?: string;
}

/**
 * A conflict as the log stores it. `collection` and `at` keep their names:
 * the log is queried and sorted by them; `reappliedAt` is set once re-applied.
 */
export interface CompactConflict {
  _id: ObjectId;
  at: Date;
  collection: string;
  reappliedAt?: Date | null;
  /** The document's id, unless the losing version's `_id` already says it. */
  id?: DocumentId;
  w: ConflictWinner;
  r: ConflictRule;
  /** `ConflictRecord.fields`, when recorded. */
  f?: string[];
  /** The losing side, its document whole (null: a delete). */
  lose: StoredSide & { d: Document | null };
  /** The winning side: its document whole (`d`) when either side is a delete, else its difference from the losing one. */
  win: StoredSide & DocumentDelta & { d?: Document | null };
}

/** What the conflicts collection holds: the compact form, or the whole form older versions wrote. */
export type StoredConflict = CompactConflict | ConflictRecord;

/** The device an encoded version names (after its last `.`, see `hlc.ts`). */
function deviceOf(version: string): string {
  return version.slice(version.lastIndexOf('.') + 1);
}

/** The same BSON value (types included: an int32 1 is not a double 1). */
function sameValue(a: unknown, b: unknown): boolean {
  return Buffer.compare(serialize({ v: a }), serialize({ v: b })) === 0;
}

function sameOrder(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** Applies `delta` to `from` (not changed): the document it was taken to. */
export function applyDelta(from: Document, delta: DocumentDelta): Document {
  const set = delta.s ?? {};
  const gone = new Set(delta.u ?? []);
  const order = delta.k ?? [
    ...Object.keys(from).filter((name) => !gone.has(name)),
    ...Object.keys(set).filter((name) => !Object.hasOwn(from, name)),
  ];
  return Object.fromEntries(order.map((name) => [name, Object.hasOwn(set, name) ? set[name] : from[name]]));
}

/** The difference that turns `from` into `to`: `applyDelta(from, documentDelta(from, to))` equals `to`. */
export function documentDelta(from: Document, to: Document): DocumentDelta {
  const set = Object.entries(to).filter(([name, value]) => !Object.hasOwn(from, name) || !sameValue(from[name], value));
  const unset = Object.keys(from).filter((name) => !Object.hasOwn(to, name));
  const delta: DocumentDelta = {};
  if (set.length > 0) delta.s = Object.fromEntries(set);
  if (unset.length > 0) delta.u = unset;
  const order = Object.keys(to);
  if (!sameOrder(Object.keys(applyDelta(from, delta)), order)) delta.k = order;
  return delta;
}

function storedSide(side: ConflictSide): StoredSide {
  const v = versionBytes(side.version);
  return side.origin === deviceOf(side.version) ? { v } : { v, o: side.origin };
}

function readSide(side: StoredSide, document: Document | null): ConflictSide {
  const version = versionFromBytes(side.v);
  return { version, origin: side.o ?? deviceOf(version), document };
}

/** A conflict as the log writes it. */
export function toStored(record: ConflictRecord): CompactConflict {
  const [win, lose] = record.winner === 'hub' ? [record.hub, record.local] : [record.local, record.hub];
  const stored: CompactConflict = {
    _id: record._id,
    at: record.at,
    collection: record.collection,
    ...(lose.document && Object.hasOwn(lose.document, '_id') && sameValue(lose.document._id, record.documentId)
      ? {}
      : { id: record.documentId }),
    w: record.winner,
    r: record.rule,
    lose: { ...storedSide(lose), d: lose.document },
    win: { ...storedSide(win), ...(win.document && lose.document ? documentDelta(lose.document, win.document) : { d: win.document }) },
  };
  if (record.fields !== undefined) stored.f = record.fields;
  if (record.reappliedAt) stored.reappliedAt = record.reappliedAt;
  return stored;
}

function isCompact(stored: StoredConflict): stored is CompactConflict {
  return 'lose' in stored;
}

/** A stored conflict, in either form, as every reader sees it. */
export function fromStored(stored: StoredConflict): ConflictRecord {
  if (!isCompact(stored)) return stored;
  const { lose, win } = stored;
  const losing = readSide(lose, lose.d);
  const winning = readSide(win, win.d !== undefined ? win.d : lose.d && applyDelta(lose.d, win));
  return {
    _id: stored._id,
    at: stored.at,
    reappliedAt: stored.reappliedAt ?? null,
    collection: stored.collection,
    documentId: stored.id !== undefined ? stored.id : (lose.d?._id as DocumentId),
    winner: stored.w,
    rule: stored.r,
    ...(stored.f !== undefined ? { fields: stored.f } : {}),
    local: stored.w === 'local' ? winning : losing,
    hub: stored.w === 'local' ? losing : winning,
  };
}
