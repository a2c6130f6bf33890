/**
 * Change events decoded once, at the edge, into typed changes: what the
 * flows and the core reason about. Nothing past this file reads a raw event.
 *
 * A till's capture stream and the hub's pull stream see different things:
 * - on a till, the engine's own writes (the pull's applies, the push's
 *   settles) announce themselves by the apply marker their transaction writes
 *   first, or by the engine's own session;
 * - on the hub, a push announces itself by its device's push marker, written
 *   first in its transaction, or by the engine's own session; tombstones ride
 *   in the same transaction as the delete they record.
 */
import { APPLY_MARKER, PUSH_MARKER, TOMBSTONES, markerDevice } from './names.ts';
import { isEngineCollection } from './policy.ts';
import type { Document, DocumentId } from './types.ts';

/** A raw change-stream event as the driver hands it over (raw BSON values). */
export type RawEvent = Document;

/** Tells whether an event was written in one of the engine's own sessions (see own-sessions.ts). */
export type OwnSessionTest = (event: RawEvent) => boolean;

type DataOp = 'insert' | 'update' | 'replace' | 'delete';
const DATA_OPS: readonly string[] = ['insert', 'update', 'replace', 'delete'];
/** Collection-level events the pull never applies. */
const COLLECTION_OPS: readonly string[] = ['drop', 'rename', 'dropDatabase', 'create', 'createIndexes', 'dropIndexes', 'modify'];

/** A change on the till's POS database, as capture sees it. */
export type TillChange =
  /** The engine's own write (an apply marker, or anything from one of its sessions); `created` when it created a collection. */
  | { kind: 'engine'; txn: string | undefined; created: string | undefined }
  /** A local write: insert, replace or update, with the document as it was right after (null when no post-image). */
  | {
      kind: 'write';
      c: string;
      id: DocumentId;
      doc: Document | null;
      fields: string[] | null;
      wall: Date | undefined;
      txn: string | undefined;
    }
  | { kind: 'delete'; c: string; id: DocumentId; wall: Date | undefined; txn: string | undefined }
  | { kind: 'create'; c: string; txn: string | undefined }
  /** A collection dropped or renamed, or the database dropped: not synced. */
  | { kind: 'ddl'; op: string; c: string | undefined; txn: string | undefined }
  | { kind: 'invalidate'; txn: string | undefined }
  /** Anything else (index changes, collMod): nothing to capture. */
  | { kind: 'other'; txn: string | undefined };

/** A change on the hub's POS database, as the pull sees it. */
export type HubChange =
  /** A push marker: `device` pushed (or stamped) in this transaction. */
  | { kind: 'push-marker'; device: unknown; txn: string | undefined }
  /** Written in one of this engine's own hub sessions. */
  | { kind: 'own'; txn: string }
  /** A tombstone written with a pushed delete; `target` is undefined when it could not be read. */
  | { kind: 'tombstone'; target: { c: string; id: DocumentId; v: string; o: string } | undefined; txn: string | undefined }
  | {
      kind: 'data';
      op: DataOp;
      c: string;
      id: DocumentId;
      /** The document after the change (updateLookup), `_sync` included; null when gone since. */
      full: Document | null;
      wall: Date | undefined;
      /** The increment of the event's cluster time: orders unversioned HQ writes within a millisecond. */
      clusterIncrement: number | undefined;
      txn: string | undefined;
      raw: RawEvent;
    }
  | { kind: 'invalidate'; txn: string | undefined }
  /** Engine or system collections, collection-level events: never applied. */
  | { kind: 'ignored'; txn: string | undefined }
  /** An operation type this engine does not know. */
  | { kind: 'unknown'; op: string; c: string; id: DocumentId; txn: string | undefined; raw: RawEvent };

/** A key shared by all events of one transaction (undefined outside transactions). */
export function transactionKey(event: RawEvent): string | undefined {
  const lsid = event.lsid as { id?: { toString(enc: string): string } } | undefined;
  if (!lsid?.id || event.txnNumber === undefined) return undefined;
  return `${lsid.id.toString('hex')}:${String(event.txnNumber)}`;
}

function collectionOf(event: RawEvent): string | undefined {
  return (event.ns as { coll?: string } | undefined)?.coll;
}

function idOf(event: RawEvent): DocumentId {
  return (event.documentKey as { _id: DocumentId } | undefined)?._id ?? null;
}

export function decodeTillChange(event: RawEvent, own: OwnSessionTest): TillChange {
  const txn = transactionKey(event);
  const c = collectionOf(event);
  const op = String(event.operationType);
  if (c === APPLY_MARKER || own(event)) return { kind: 'engine', txn, created: op === 'create' ? c : undefined };
  if (op === 'invalidate') return { kind: 'invalidate', txn };
  if (op === 'create' && c) return { kind: 'create', c, txn };
  if (op === 'drop' || op === 'rename' || op === 'dropDatabase') return { kind: 'ddl', op, c, txn };
  if (!c) return { kind: 'other', txn };
  const wall = event.wallTime as Date | undefined;
  if (op === 'delete') return { kind: 'delete', c, id: idOf(event), wall, txn };
  if (op === 'insert' || op === 'replace' || op === 'update') {
    const doc = (event.fullDocument as Document | null | undefined) ?? null;
    return { kind: 'write', c, id: idOf(event), doc, fields: op === 'update' ? changedFields(event) : null, wall, txn };
  }
  return { kind: 'other', txn };
}

export function decodeHubChange(event: RawEvent, own: OwnSessionTest): HubChange {
  const txn = transactionKey(event);
  const c = collectionOf(event);
  const op = String(event.operationType);
  if (c === PUSH_MARKER) return { kind: 'push-marker', device: markerDevice(idOf(event)), txn };
  if (txn && own(event)) return { kind: 'own', txn };
  if (op === 'invalidate') return { kind: 'invalidate', txn };
  if (c === TOMBSTONES) {
    const t = event.fullDocument as Document | null | undefined;
    const target = t?._id as { c?: unknown; id?: DocumentId } | undefined;
    return {
      kind: 'tombstone',
      target: t && typeof target?.c === 'string' ? { c: target.c, id: target.id ?? null, v: String(t.v), o: String(t.o) } : undefined,
      txn,
    };
  }
  if (!c || isEngineCollection(c) || COLLECTION_OPS.includes(op)) return { kind: 'ignored', txn };
  if (!DATA_OPS.includes(op)) return { kind: 'unknown', op, c, id: idOf(event), txn, raw: event };
  const clusterTime = event.clusterTime as { low?: number } | undefined;
  return {
    kind: 'data',
    op: op as DataOp,
    c,
    id: idOf(event),
    full: (event.fullDocument as Document | null | undefined) ?? null,
    wall: event.wallTime as Date | undefined,
    clusterIncrement: clusterTime?.low === undefined ? undefined : clusterTime.low >>> 0,
    txn,
    raw: event,
  };
}

/** The top-level fields an update event changed (set, removed or truncated); null when the event does not say. */
function changedFields(event: RawEvent): string[] | null {
  const desc = event.updateDescription as
    { updatedFields?: Document; removedFields?: string[]; truncatedArrays?: Array<{ field: string }> } | undefined;
  if (!desc) return null;
  const names = new Set<string>();
  for (const path of Object.keys(desc.updatedFields ?? {})) names.add(path.split('.')[0] as string);
  for (const path of desc.removedFields ?? []) names.add(path.split('.')[0] as string);
  for (const t of desc.truncatedArrays ?? []) names.add(t.field.split('.')[0] as string);
  return [...names];
}
