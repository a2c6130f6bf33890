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
import type { Codec, ConflictDraft, Document, HubChangeSeen, HubOp, Known, TillWrite } from './types.ts';

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
  | { kind: 'wait-for-capture' }
  | { kind: 'apply'; write: TillWrite; conflict: ConflictDraft | null };

export function decideTillApply(op: HubOp, till: TillDocState, ctx: ApplyContext): ApplyDecision {
  if (till.waiting !== undefined && !ctx.pullOnly) {
    return { kind: 'leave-to-push', seq: till.waiting, note: { v: op.v, o: op.o, doc: op.op === 'upsert' ? (op.doc ?? null) : null } };
  }
  const localHash = till.local ? ctx.codec.hash(till.local) : null;
  const known = till.known;
  if (known && known.v === op.v && known.h === localHash) return { kind: 'skip' }; // already here
  // Already newer here: this till's own later change went up and settled before the pull reached this older one.
  if (known && known.v > op.v && known.h === localHash) return { kind: 'skip' };
  const changedLocally = known ? known.h !== localHash : till.local !== null && localHash !== op.h;
  let conflict: ConflictDraft | null = null;
  if (changedLocally && !ctx.pullOnly) {
    if (known && !ctx.captureGaveUp) return { kind: 'wait-for-capture' };
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
