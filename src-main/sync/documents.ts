/**
 * Documents as the engine moves them: raw BSON types kept (an int64 stays an
 * int64, a double stays a double), the `_sync` field added on the hub and
 * removed on tills, and a content hash that does not depend on `_sync`.
 */
import { createHash } from 'node:crypto';
import {
  serialize,
  type ObjectId,
  type Binary,
  type Decimal128,
  type Document,
  type Double,
  type Int32,
  type Long,
  type Timestamp,
} from 'bson';
import { SYNC_FIELD } from './names.ts';

/** Driver options that keep every BSON type as it is stored. */
export const RAW_BSON = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/**
 * A document id of whatever BSON type the POS software chose. Sub-document ids
 * work at run time too; they are left out of the type only because the
 * driver's filter types collapse object-typed ids to `never`.
 */
export type DocumentId = string | number | boolean | null | Date | ObjectId | Binary | Decimal128 | Long | Int32 | Double | Timestamp;

/** A POS document: any `_id` type. */
export interface AnyDocument extends Document {
  _id: DocumentId;
}

export interface SyncMeta {
  /** Encoded HLC version. */
  v: string;
  /** Origin device id, or `hub` for writes made directly on the hub. */
  o: string;
  /** Content hash of the document without `_sync`, when the engine wrote it. */
  h: string;
}

export function withoutSync(doc: Document): Document {
  if (!(SYNC_FIELD in doc)) return doc;
  const { [SYNC_FIELD]: _meta, ...rest } = doc;
  return rest;
}

/** A short stable hash of a document's content (its BSON bytes, `_sync` excluded). */
export function contentHash(doc: Document): string {
  return createHash('sha1')
    .update(serialize(withoutSync(doc)))
    .digest('base64url');
}

/** The `_sync` field of a hub document, or a reason it is malformed (undefined when absent). */
export function readSyncMeta(doc: Document): SyncMeta | { malformed: string } | undefined {
  const meta = doc[SYNC_FIELD] as unknown;
  if (meta === undefined) return undefined;
  if (meta === null || typeof meta !== 'object')
    return { malformed: `${SYNC_FIELD} is ${JSON.stringify(meta)}, expected a document {v, o, h}` };
  const { v, o, h } = meta as Record<string, unknown>;
  if (typeof v !== 'string' || typeof o !== 'string' || typeof h !== 'string') {
    return { malformed: `${SYNC_FIELD} needs string fields v, o and h; got ${JSON.stringify(meta)}` };
  }
  return { v, o, h };
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
