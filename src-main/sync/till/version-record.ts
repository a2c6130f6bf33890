/**
 * A version record as the till stores it: what it last knew of one synced
 * document (its version, and the hash of its content or null for a delete).
 * A till keeps one for every document it holds, so each byte counts (issue
 * 18): a content hash (`contentHash`, 27 characters of base64url SHA-1) is
 * stored as its 20 bytes, and a version (`hlc.ts`) as its wall time and
 * counter packed in one 64-bit integer (`v`) with its device beside it (`d`).
 * Any other hash or version string is stored as it is, and records written
 * before, with strings, read as they were.
 *
 * The till compares versions on the server (a reconciliation's agreement only
 * moves a record forward; housekeeping finds old delete traces), so both
 * forms keep version order: packed integers by number, strings by string
 * order, and `olderThan` / `madeBefore` give the filter that asks for both.
 * Pure.
 */
import { Binary, Long, type Document } from 'mongodb';
import { decodeVersion, encodeVersion, type Version } from '../core/hlc.ts';
import type { DocumentId, Known } from '../core/types.ts';

/** How many characters of base64url a SHA-1 hash takes. */
const HASH_CHARS = 27;

export interface VersionRecord {
  _id: { c: string; id: DocumentId };
  v: StoredVersion;
  /** The device of a packed version. */
  d?: string;
  h: StoredHash;
}

/** A version as stored: packed (its device in `d`), or the string (an older record, or one that would not pack). */
export type StoredVersion = Long | string;

/** Counter bits in a packed version. */
const COUNTER_BITS = 16n;
/** Walls from 2^47 ms (year 6429) on would set the sign bit: such versions stay strings. */
const PACKED_WALLS = 2 ** 47;

function pack(wall: number, counter: number): Long {
  return Long.fromBigInt((BigInt(wall) << COUNTER_BITS) | BigInt(counter));
}

function parsed(v: string): Version | null {
  try {
    return decodeVersion(v);
  } catch {
    return null;
  }
}

/** The version's parts when it packs and reads back as exactly `v`, else null. */
function packable(v: string): Version | null {
  const version = parsed(v);
  return version !== null && version.wall < PACKED_WALLS && encodeVersion(version) === v ? version : null;
}

/** The update that stores version `v` and hash `h` in a record: `knownOf` gives back exactly these. */
export function recordUpdate(v: string, h: string | null): { $set: Document; $unset?: Document } {
  const version = packable(v);
  const hash = storedHash(h);
  if (version === null) return { $set: { v, h: hash }, $unset: { d: '' } };
  return { $set: { v: pack(version.wall, version.counter), d: version.device, h: hash } };
}

/** The version a record holds, as the engine compares it. */
export function knownVersion(record: Pick<VersionRecord, 'v' | 'd'>): string {
  if (typeof record.v === 'string') return record.v;
  const packed = record.v.toBigInt();
  const counter = Number(packed & ((1n << COUNTER_BITS) - 1n));
  return encodeVersion({ wall: Number(packed >> COUNTER_BITS), counter, device: record.d ?? '' });
}

/**
 * A filter for records whose version is older than `v`, in either form. A
 * string `v` that is not a version (tests use short ones) compares with
 * string records only: the packed ones count as newer.
 */
export function olderThan(v: string): Document {
  const older: Document[] = [{ v: { $lt: v } }];
  const version = packable(v);
  if (version !== null) {
    const packed = pack(version.wall, version.counter);
    older.push({ v: { $lt: packed } }, { v: packed, d: { $lt: version.device } });
  } else if (parsed(v) !== null) {
    older.push({ v: { $type: 'long' } }); // a wall past every packed one
  }
  return { $or: older };
}

/** A filter for records whose version's wall time is before `wall` (epoch ms), in either form. */
export function madeBefore(wall: number): Document {
  if (!Number.isInteger(wall) || wall < 0) throw new RangeError(`madeBefore: ${wall} is not a wall time`);
  const prefix = wall.toString(16).padStart(12, '0'); // encoded versions sort by wall first
  const packed = wall < PACKED_WALLS ? { $lt: pack(wall, 0) } : { $type: 'long' };
  return { $or: [{ v: { $lt: prefix } }, { v: packed }] };
}

/** A content hash as stored: its bytes, or the string (an older record, or one its bytes would not give back). */
export type StoredHash = Binary | string | null;

/** The hash as a version record stores it: `knownHash` gives back exactly `h`. */
export function storedHash(h: string | null): StoredHash {
  if (typeof h !== 'string' || h.length !== HASH_CHARS) return h;
  const bytes = Buffer.from(h, 'base64url');
  return bytes.toString('base64url') === h ? new Binary(bytes) : h;
}

/** The hash a version record holds, as the engine compares it. */
export function knownHash(stored: StoredHash): string | null {
  return stored === null || typeof stored === 'string' ? stored : Buffer.from(stored.value()).toString('base64url');
}

/** What the till knows of a document, from its version record. */
export function knownOf(record: Pick<VersionRecord, 'v' | 'd' | 'h'>): Known {
  return { v: knownVersion(record), h: knownHash(record.h) };
}
