/**
 * The shapes the sync core reasons about: documents and ids as stored, the
 * outbox entry, what a till knows of each document, versions on the hub,
 * conflict drafts, and the writes the core decides on either side.
 *
 * Type-only imports: nothing here runs, and the core never calls BSON code
 * itself. What it needs of BSON (a content hash, a map key for an id, a size)
 * is handed in as a `Codec`.
 */
import type { Binary, Decimal128, Document, Double, Int32, Long, ObjectId, Timestamp } from 'bson';
import type { ConflictRule, ConflictWinner } from '../../../src-shared/conflict-rules.ts';
import type { MessageParams, QuarantineReasonCode } from '../../../src-shared/status.ts';

export type { Document };

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

/** What the core needs of BSON, handed in by the I/O layers (`documents.ts`) or by a test model. */
export interface Codec {
  /** A key for in-memory maps: equal for equal ids of one BSON type. Never stored. */
  idKey(id: DocumentId): string;
  /** A short stable hash of a document's content, `_sync` left out. */
  hash(doc: Document): string;
  /** The document's BSON size in bytes. */
  size(doc: Document): number;
}

/** What a till knows of one synced document: the version it holds and its content hash (null once deleted). */
export interface Known {
  v: string;
  h: string | null;
}

/** A version and the device that made it (`hub` for a write made on the hub directly). */
export interface HubVersion {
  v: string;
  o: string;
}

/** A captured local change waiting to be pushed (the till's `outbox` collection). */
export interface OutboxEntry {
  /** Capture order. */
  _id: number;
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  doc?: Document;
  /** Content hash of `doc` (upserts), as captured: the push stamps it without hashing again. Absent in older entries. */
  h?: string;
  /** Encoded HLC version. */
  v: string;
  /** When the engine captured it. */
  at: Date;
  /** When the write happened (the change event's wallTime). */
  wall: Date;
  /** The version this till held before the write (null: it had none); absent when unknown. */
  base?: string | null;
  /** Top-level fields the write changed (an update); absent or null: all of them (insert, replace). */
  fields?: string[] | null;
  /**
   * The newest hub change to this document the pull passed over while this
   * change waited to be pushed; the push's settle applies it if it is newer
   * than what the push leaves on the till.
   */
  hub?: HubChangeSeen;
}

/** A hub change the pull saw but left to the push, because the document had a change waiting. */
export interface HubChangeSeen {
  v: string;
  o: string;
  /** The document as the change left it, without `_sync`; null for a delete (or when `large`). */
  doc: Document | null;
  /** Too large to keep beside the waiting change: the settle has the till take the hub's state instead. */
  large?: true;
}

/**
 * A stamp is written only over the `_sync.v` the hub's document carried when it was read (`over`, null
 * when it carried none), or over an older version for the same content. A push that landed since has
 * written its own version with its content, and a stamp made for older content must not overwrite it.
 */
export interface StampOver {
  over: string | null;
}

/** A hub change to apply on a till: one per document per batch. */
export interface HubOp {
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  /** The document without `_sync` (upserts). */
  doc?: Document;
  v: string;
  o: string;
  h: string | null;
  /** When the change was committed on the hub. */
  wall: Date;
  /**
   * A version to write onto the hub's document (HQ wrote it without one, or it is raised above this
   * till's): false when the hub's own is right. See `StampOver`.
   */
  stamp: false | StampOver;
  /**
   * A delete made on the hub without a tombstone (by head office): its version is only the event's
   * time, and an engine's push may have put the document back since, later in the hub's order. The
   * hub is asked first (`deleteStillCurrent`).
   */
  unrecorded?: true;
}

/** One side of a conflict as recorded. */
export interface ConflictSide {
  version: string;
  origin: string;
  document: Document | null;
}

/** A conflict as the core decides it; the till side gives it an id and a time when it records it. */
export interface ConflictDraft {
  collection: string;
  documentId: DocumentId;
  winner: ConflictWinner;
  rule: ConflictRule;
  /** The fields both sides changed, for `newer-version-per-field`. */
  fields?: string[];
  local: ConflictSide;
  hub: ConflictSide;
}

/** A change that cannot be applied, set aside with its reason (the till side records it with a time). */
export interface QuarantineDraft {
  collection: string;
  documentId: DocumentId;
  /**
   * Where it was set aside: `local` — a hub change this till could not take (its database refused it,
   * it could not be read, its time is too far ahead); `hub` — a change of this till's the hub refused,
   * or one too large to send.
   */
  side: 'hub' | 'local';
  reason: string;
  /**
   * `clock-drift`: the version was too far ahead of this till's clock; it is compared again once the
   * clocks agree. `refused`: the side refused the document for good (a unique index, a validator).
   * `too-large`: the document is too large to sync. Absent: the change itself could not be read.
   */
  kind?: 'clock-drift' | 'refused' | 'too-large';
  /** The change as received (null when too large to keep). */
  change: Document | null;
  /** What `reason` says, as data (the dashboard says it in the operator's language). */
  reasonCode?: QuarantineReasonCode;
  reasonParams?: MessageParams;
}

/** What the engine writes to one document on a till: its content (null deletes it) and the version the till then holds. */
export interface TillWrite {
  c: string;
  id: DocumentId;
  doc: Document | null;
  known: Known;
}
