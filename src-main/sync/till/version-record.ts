/**
 * A version record as the till stores it: what it last knew of one synced
 * document (its version, and the hash of its content or null for a delete).
 * A till keeps one for every document it holds, so each byte counts (issue
 * 18): a content hash (`contentHash`, 27 characters of base64url SHA-1) is
 * stored as its 20 bytes. Any other hash string is stored as it is, and
 * records written before, with the hash as a string, read as they were. Pure.
 */
import { Binary } from 'mongodb';
import type { DocumentId, Known } from '../core/types.ts';

/** How many characters of base64url a SHA-1 hash takes. */
const HASH_CHARS = 27;

export interface VersionRecord {
  _id: { c: string; id: DocumentId };
  v: string;
  h: StoredHash;
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
export function knownOf(record: Pick<VersionRecord, 'v' | 'h'>): Known {
  return { v: record.v, h: knownHash(record.h) };
}
