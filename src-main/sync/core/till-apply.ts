/**
 * Whether a hub change may be applied to a till's document, given what the
 * till holds of it. One rule for the pull and for reconciliation.
 *
 * - A document with a change waiting to be pushed is left to the push: the
 *   hub change is noted on the waiting outbox entry, and the push's settle
 *   takes it if it is newer than what the push leaves (`settle-decision.ts`).
 *   Pull-only collections never push, so they are applied.
 * - Already here (same version and content), or already newer here (this
 *   till's own later change went up and settled first): nothing to do.
 * - A local change capture has not seen yet (the content no longer matches
 *   the till's version record) is never overwritten unseen: the batch waits
 *   for capture. If capture never takes it, the hub wins and the till's copy
 *   is kept in the conflict log; so is a copy the till had before it ever
 *   synced.
 */
import { successor } from './hlc.ts';
import { stampedVersion, stampOver, unstampedVersion, withoutSync } from './hub-versions.ts';
import type { Codec, ConflictDraft, Document, DocumentId, HubChangeSeen, HubOp, HubVersion, Known, TillWrite } from './types.ts';

export interface TillDocState {
  /** The newest outbox entry of this document, when a change waits to be pushed. */
  waiting: number | undefined;
  /** The till's document (null: none). */
  local: Document | null;
  known: Known | null;
}

export interface ApplyContext {
  /** The collection syncs pull-only: no local change of it is ever pushed. */
  pullOnly: boolean;
  /** Capture was waited for long enough: a change it still has not taken loses to the hub (and is logged). */
  captureGaveUp: boolean;
  device: string;
  codec: Codec;
}

export type ApplyDecision =
  | { kind: 'leave-to-push'; seq: number; note: HubChangeSeen }
  | { kind: 'skip' }
  /** This till holds a newer version than the change: whether the hub still holds it is for `hubMovedOn` to say. */
  | { kind: 'newer-here'; known: Known }
  | { kind: 'wait-for-capture' }
  | { kind: 'apply'; write: TillWrite; conflict: ConflictDraft | null };

export function decideTillApply(op: HubOp, till: TillDocState, ctx: ApplyContext): ApplyDecision {
  if (till.waiting !== undefined && !ctx.pullOnly) {
    return { kind: 'leave-to-push', seq: till.waiting, note: { v: op.v, o: op.o, doc: op.op === 'upsert' ? (op.doc ?? null) : null } };
  }
  const localHash = till.local ? ctx.codec.hash(till.local) : null;
  const known = till.known;
  if (known && known.v === op.v && known.h === localHash) return { kind: 'skip' }; // already here
  // Already newer here: this till's own later change went up and settled before the pull reached this
  // older one — or the hub's content was replaced since by a write that drew a lower version (head
  // office's, its clock a little behind this till's). Only the hub can say which.
  if (known && known.v > op.v && known.h === localHash) return op.h === localHash ? { kind: 'skip' } : { kind: 'newer-here', known };
  const changedLocally = known ? known.h !== localHash : till.local !== null && localHash !== op.h;
  let conflict: ConflictDraft | null = null;
  if (changedLocally && !ctx.pullOnly) {
    // Without a version record too: after the first reconciliation, a till document sync never
    // recorded is a local insert capture has not taken yet.
    if (!ctx.captureGaveUp) return { kind: 'wait-for-capture' };
    conflict = {
      collection: op.c,
      documentId: op.id,
      winner: 'hub',
      rule: known ? 'uncaptured-local-change' : 'unsynced-local-copy',
      local: { version: known?.v ?? '', origin: ctx.device, document: till.local },
      hub: { version: op.v, origin: op.o, document: op.doc ?? null },
    };
  }
  return {
    kind: 'apply',
    write: { c: op.c, id: op.id, doc: op.op === 'upsert' ? (op.doc ?? null) : null, known: { v: op.v, h: op.h } },
    conflict,
  };
}

/**
 * A till version the hub no longer holds. `known` was on the hub once (the
 * till pulled it, or pushed and settled it) and the till has not changed the
 * document since; if the hub now holds something else, that is newer — the
 * hub only moves forward — whatever version it drew. Returns the hub's current
 * state as a change to apply, with a version above `known` (to be stamped on
 * the hub when the hub's own is lower, so every till ends on it); null when the
 * hub still holds what this till holds, or the till changed it since.
 */
export function hubMovedOn(
  c: string,
  id: DocumentId,
  hub: { doc: Document | null; tombstone: HubVersion | null },
  till: { local: Document | null; known: Known },
  now: number,
  codec: Codec,
): HubOp | null {
  const content = hub.doc ? withoutSync(hub.doc) : null;
  const h = content ? codec.hash(content) : null;
  const localHash = till.local ? codec.hash(till.local) : null;
  if (h === localHash || till.known.h !== localHash) return null;
  const floor = successor(till.known.v, 'hub');
  if (!content) {
    const v = hub.tombstone && hub.tombstone.v > floor ? hub.tombstone.v : floor;
    return { c, id, op: 'delete', v, o: hub.tombstone?.o ?? 'hub', h: null, wall: new Date(now), stamp: false };
  }
  const stamped = stampedVersion(hub.doc as Document, codec);
  const hubVersion = stamped ?? unstampedVersion(now);
  const raised = hubVersion.v <= floor;
  return {
    c,
    id,
    op: 'upsert',
    doc: content,
    v: raised ? floor : hubVersion.v,
    o: raised ? 'hub' : hubVersion.o,
    h,
    wall: new Date(now),
    stamp: raised || !stamped ? stampOver(hub.doc as Document) : false,
  };
}

/**
 * A delete head office made on the hub (no tombstone, a version from its
 * event's time), checked against the hub now: if the document is back — an
 * engine's push put it there later in the hub's order, having no tombstone to
 * compare with — the hub's document is what every till must hold, at a version
 * above the delete's (stamped on the hub when raised); otherwise the delete.
 */
export function deleteStillCurrent(op: HubOp, hub: { doc: Document | null }, now: number, codec: Codec): HubOp {
  if (!hub.doc) return op;
  const content = withoutSync(hub.doc);
  const stamped = stampedVersion(hub.doc, codec);
  const hubVersion = stamped ?? unstampedVersion(now);
  const floor = successor(op.v, 'hub');
  const raised = hubVersion.v <= floor;
  const v = raised ? floor : hubVersion.v;
  return {
    c: op.c,
    id: op.id,
    op: 'upsert',
    doc: content,
    v,
    o: raised ? 'hub' : hubVersion.o,
    h: codec.hash(content),
    wall: op.wall,
    stamp: raised || !stamped ? stampOver(hub.doc) : false,
  };
}

/**
 * The hub's state of one document as a change to apply, for a till that knows
 * nothing of it yet: its document at its version (an unstamped one counted as
 * made now, to be stamped), or its delete; null when the hub has neither.
 */
export function hubStateNow(
  c: string,
  id: DocumentId,
  hub: { doc: Document | null; tombstone: HubVersion | null },
  now: number,
  codec: Codec,
): HubOp | null {
  if (!hub.doc)
    return hub.tombstone
      ? { c, id, op: 'delete', v: hub.tombstone.v, o: hub.tombstone.o, h: null, wall: new Date(now), stamp: false }
      : null;
  const content = withoutSync(hub.doc);
  const stamped = stampedVersion(hub.doc, codec);
  const version = stamped ?? unstampedVersion(now);
  return {
    c,
    id,
    op: 'upsert',
    doc: content,
    v: version.v,
    o: version.o,
    h: codec.hash(content),
    wall: new Date(now),
    stamp: stamped ? false : stampOver(hub.doc),
  };
}
