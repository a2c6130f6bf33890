/**
 * Documents as the engine moves them: raw BSON types kept (an int64 stays an
 * int64, a double stays a double), and the BSON work the pure core is handed
 * as its `Codec`: a content hash that does not depend on `_sync`, a map key
 * for any id type, a size.
 */
import { createHash } from 'node:crypto';
import { calculateObjectSize, serialize, type Document, type ObjectId } from 'bson';
import { withoutSync } from './core/hub-versions.ts';
import type { Codec } from './core/types.ts';

/** Driver options that keep every BSON type as it is stored. */
export const RAW_BSON = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** A short stable hash of a document's content (its BSON bytes, `_sync` excluded). */
export function contentHash(doc: Document): string {
  return createHash('sha1')
    .update(serialize(withoutSync(doc)))
    .digest('base64url');
}

/**
 * The key the engine uses for a document id in its in-memory maps: equal for
 * equal ids of one BSON type. Strings and ObjectIds (most POS ids) are keyed
 * directly; other types by a hash of their BSON bytes. Never stored.
 */
export function idKey(id: unknown): string {
  if (typeof id === 'string') return `s${id}`;
  // By BSON type, not instanceof: the driver's bson (CommonJS) and ours (ESM) are separate copies.
  if ((id as { _bsontype?: string } | null)?._bsontype === 'ObjectId') return `o${(id as ObjectId).toHexString()}`;
  return `h${createHash('sha1').update(serialize({ id })).digest('base64url')}`;
}

/** The key of a collection's document in the engine's in-memory maps and sets (see `idKey`). */
export function docKey(c: string, id: unknown): string {
  return `${c}\u0000${idKey(id)}`;
}

/** The core's BSON helpers, for real documents. */
export const bsonCodec: Codec = { idKey, hash: contentHash, size: (doc) => calculateObjectSize(doc) };
