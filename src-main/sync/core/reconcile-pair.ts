/**
 * What reconciliation does with each pair of documents — the hub's and the
 * till's — when change history cannot say what happened (first contact, a
 * till that joins late, lost history). By version and by content:
 *
 * - same content: only the till's version record is brought up to date (or,
 *   when the till's record is the newer, that version is pushed, or stamped
 *   when it is a version of HQ's change);
 * - only the hub changed, or the till never had it: pulled;
 * - only the till changed, or it changed without ever being captured: pushed
 *   with a new version, like any local write;
 * - both changed: the newer version wins and the conflict is recorded;
 * - only on the till: pushed — unless a newer tombstone says it was deleted,
 *   or it was synced before, is unchanged and the hub has neither it nor a
 *   tombstone as new (HQ deleted it, or its tombstone expired): deleted here.
 *
 * Nothing local is thrown away: a losing local version is in the conflict log.
 */
import { decodeVersion, encodeVersion, successor, type HybridClock } from './hlc.ts';
import { readSyncMeta, stampOver, withoutSync } from './hub-versions.ts';
import type { Codec, ConflictDraft, Document, DocumentId, HubOp, HubVersion, Known } from './types.ts';

/** A local change found by reconciliation, queued for the hub like a captured one. */
export interface FoundChange {
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  doc?: Document;
  v: string;
  /** The version the till last agreed with the hub on, when known. */
  base?: string | null;
  /**
   * `v` was made for the comparison by a clock tick outside the lock capture hands versions out
   * under: the change takes a fresh one when it is queued, so no two changes ever share a version.
   */
  fresh?: true;
  /**
   * What reconciliation compared: the document's version record (null: none)
   * and its content hash (null: no document). The change is taken only if
   * both are still so when it is queued.
   */
  expect?: { v: string | null; h: string | null };
}

export interface ReconcileContext {
  c: string;
  device: string;
  canPull: boolean;
  canPush: boolean;
  /** The engine's clock: absorbs every hub version compared, and gives local changes found here a fresh version. */
  clock: HybridClock;
  codec: Codec;
  now: Date;
}

/** What to do for one document. Conflicts carry no till document yet: it is read when they are written. */
export interface PairOutcome {
  stamp?: HubOp;
  pull?: HubOp;
  agree?: { c: string; id: DocumentId; v: string; h: string };
  push?: FoundChange;
  conflict?: ConflictDraft;
}

/** The version an unstamped HQ document takes: its content is as new as the moment it was read. */
export interface UnversionedClock {
  /** `sameAsTill`: the till already holds this content (then it counts from the scan's start). */
  next(sameAsTill: boolean): string;
}

/** The version the till holds of its own copy, or a fresh one when it changed without being captured. */
function tillVersion(localHash: string | null, known: Known | undefined, ctx: ReconcileContext): { v: string; changed: boolean } {
  if (known && known.h === localHash) return { v: known.v, changed: false };
  return { v: encodeVersion(ctx.clock.tick()), changed: true };
}

/**
 * A document the hub has, against the till's copy (if any) and version
 * record. `'ahead'`: its version is too far ahead of this till's clock (the
 * next reconciliation compares it again); `'malformed'`: its version cannot be
 * read (the pull's stream sets it aside with its reason).
 */
export function decideHubDocument(
  hubDoc: Document,
  local: { h: string } | undefined,
  known: Known | undefined,
  /** A change of this document waits in the till's outbox and has not been pushed yet. */
  pending: boolean,
  unversioned: UnversionedClock,
  ctx: ReconcileContext,
): PairOutcome | 'ahead' | 'malformed' {
  const { c } = ctx;
  const content = withoutSync(hubDoc);
  const h = ctx.codec.hash(content);
  const meta = readSyncMeta(hubDoc);
  const stamped = meta !== undefined && !('malformed' in meta) && meta.h === h;
  const hub: HubVersion = stamped ? { v: meta.v, o: meta.o } : { v: unversioned.next(local?.h === h), o: 'hub' };
  try {
    if (!ctx.clock.receive(decodeVersion(hub.v)).ok) return 'ahead';
  } catch {
    return 'malformed';
  }
  const id = hubDoc._id as DocumentId;
  const pullOp: HubOp = { c, id, op: 'upsert', doc: content, v: hub.v, o: hub.o, h, wall: ctx.now, stamp: false };
  const over = stampOver(hubDoc);
  const out: PairOutcome = stamped ? {} : { stamp: { ...pullOp, stamp: over } };
  if (!local && !known) {
    if (ctx.canPull) out.pull = pullOp;
  } else if (local && local.h === h) {
    if (known?.v !== hub.v) {
      if (known && known.h === h && known.v > hub.v) {
        if (!stamped) {
          // Head office wrote this same content after this till's version: agreed on, above it.
          const raised: HubOp = { ...pullOp, v: successor(known.v, 'hub'), o: 'hub' };
          out.stamp = { ...raised, stamp: over };
          out.agree = { c, id, v: raised.v, h };
        } else if (decodeVersion(known.v).device === 'hub') {
          // This till's newer version of the same content is HQ's change, as this till took it (a read
          // counted as made then): stamped, so the hub agrees with it and HQ's write stays HQ's.
          out.stamp = { ...pullOp, v: known.v, o: 'hub', stamp: over };
        } else if (ctx.canPush) out.push = { c, id, op: 'upsert', v: known.v, expect: { v: known.v, h } };
      } else out.agree = { c, id, v: hub.v, h };
    }
  } else if (known && known.h === (local?.h ?? null) && !pending) {
    // This till's version was on the hub once and nothing changed here since, so the hub's other
    // content is newer, whatever version it drew (head office's write with a clock a little behind):
    // taken, at a version above this till's, stamped on the hub so every till ends on it.
    const floor = successor(known.v, 'hub');
    if (hub.v <= floor) {
      const raised: HubOp = { ...pullOp, v: floor, o: 'hub' };
      out.stamp = { ...raised, stamp: over };
      if (ctx.canPull) out.pull = raised;
    } else if (ctx.canPull) out.pull = pullOp;
  } else {
    const mine = tillVersion(local?.h ?? null, known, ctx);
    const localWins = mine.v > hub.v;
    if (localWins && mine.changed && known?.v !== hub.v) {
      // Both sides changed since they last agreed: the till's version wins; the hub's is kept in the log.
      out.conflict = {
        collection: c,
        documentId: id,
        winner: 'local',
        rule: 'reconciled-newer-version',
        local: { version: mine.v, origin: ctx.device, document: null },
        hub: { version: hub.v, origin: hub.o, document: content },
      };
    }
    // A losing local change is recorded by the apply path, with the till's document. A winning one
    // takes the hub's version as its base: compared (and any conflict recorded) here, so the push
    // speaks only of a hub version that came after this comparison.
    if (localWins) {
      if (ctx.canPush)
        out.push = {
          c,
          id,
          op: local ? 'upsert' : 'delete',
          v: mine.v,
          ...(mine.changed ? { fresh: true as const } : {}),
          base: hub.v,
          expect: { v: known?.v ?? null, h: local?.h ?? null },
        };
    } else if (ctx.canPull) out.pull = pullOp;
  }
  return out;
}

/**
 * A document the hub has not got (looked up again after the scan: it did not
 * arrive meanwhile) that the till holds, or once held: its record says so.
 * `inFlight`: a change of it waits in the outbox and has not been pushed yet.
 */
export function decideTillOnly(
  id: DocumentId,
  local: { h: string } | undefined,
  known: Known | undefined,
  tomb: HubVersion | undefined,
  inFlight: boolean,
  ctx: ReconcileContext,
): PairOutcome {
  const { c } = ctx;
  const localHash = local?.h ?? null;
  // Its change is on its way, and it is what the till holds now.
  if (inFlight && known?.h === localHash) return {};
  if (!local) {
    // The till held it and holds it no more, and the hub has neither: a delete capture never saw (its
    // history was lost) — pushed, so a change still waiting does not bring it back.
    if (known && known.h !== null && ctx.canPush) {
      return {
        push: { c, id, op: 'delete', v: encodeVersion(ctx.clock.tick()), fresh: true, base: known.v, expect: { v: known.v, h: null } },
      };
    }
    return {};
  }
  const mine = tillVersion(local.h, known, ctx);
  const deleteOp = (v: string, o: string): HubOp => ({ c, id, op: 'delete', v, o, h: null, wall: ctx.now, stamp: false });
  if (known && !mine.changed && (!tomb || tomb.v <= known.v)) {
    // Synced before (the hub had this version), unchanged here, and the hub has neither it nor a
    // tombstone as new: HQ deleted it (HQ deletes leave no tombstone; an older one may remain from an
    // earlier delete) or its tombstone expired. Deleted here too, never pushed back.
    return ctx.canPull ? { pull: deleteOp(successor(known.v, 'hub'), 'hub') } : {};
  }
  // A changed local copy that loses is logged by the apply path, with the till's document.
  if (tomb && tomb.v > mine.v) return ctx.canPull ? { pull: deleteOp(tomb.v, tomb.o) } : {};
  // With a base, the push refuses it (and logs it) if the hub deleted the document meanwhile.
  if (ctx.canPush) {
    return {
      push: {
        c,
        id,
        op: 'upsert',
        v: mine.v,
        ...(mine.changed ? { fresh: true as const } : {}),
        base: known?.v ?? null,
        expect: { v: known?.v ?? null, h: local.h },
      },
    };
  }
  return {};
}
