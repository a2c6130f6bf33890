/**
 * What capture makes of a batch of till changes: outbox entries, each with a
 * fresh version and the version the till held before (its base), and the
 * till's new version records — all committed in one local transaction with
 * the capture checkpoint. Also what reconciliation's found changes become.
 *
 * Echo suppression: the engine's own writes (an apply marker first in their
 * transaction, or an own session) are remembered by transaction and never
 * captured, so a pulled change is never pushed back.
 */
import type { FoundChange } from './reconcile-pair.ts';
import type { TillChange } from './change.ts';
import { encodeVersion, type HybridClock } from './hlc.ts';
import type { PolicyTable } from './policy.ts';
import type { TxnMemory } from './txn-memory.ts';
import { MAX_DOCUMENT_BYTES, SYNC_ROOM_BYTES, tooLarge } from './refusals.ts';
import type { Codec, ConflictDraft, Document, DocumentId, Known, OutboxEntry, QuarantineDraft, TillWrite } from './types.ts';

export interface CaptureContext {
  /** Transactions recognised as the engine's: a copy, adopted once the batch committed. */
  engineTxns: TxnMemory;
  /** What this till knew of a document before the batch (null: nothing). */
  known(c: string, id: DocumentId): Known | null;
  /**
   * The document as it is now, after every change of the batch (null: none). Asked for only where it is
   * compared (see `needsCurrent`): a change of a document the till has a version record of (before the
   * batch or from an earlier change in it), or a write that came without its document.
   */
  current(c: string, id: DocumentId): Document | null;
  /** A tentative clock (a fork): advance the real one only after the commit. */
  clock: HybridClock;
  policies: PolicyTable;
  /** A change's time in head office's time, never later than head office's now (see clock-offset.ts). */
  hubTime(wall: Date | undefined): Date;
  codec: Codec;
  /** The last outbox sequence number used. */
  lastSeq: number;
  now: Date;
  device: string;
}

export interface CapturePlan {
  entries: OutboxEntry[];
  /** Local changes the engine overwrote before capture saw them: recorded as losers, never pushed. */
  conflicts: ConflictDraft[];
  /** Local changes too large to sync (with what sync keeps beside them): set aside, never pushed. */
  setAside: QuarantineDraft[];
  /** The version records the entries leave (the till's own versions of those documents). */
  known: Array<Pick<TillWrite, 'c' | 'id' | 'known'>>;
  /** Collections created (post-images are turned on for them). */
  created: string[];
  /** Collection-level changes that are not synced (logged). */
  ddl: Array<{ op: string; c: string | undefined }>;
  /** The stream ended (the database was dropped): reopen after this batch. */
  invalidated: boolean;
  lastSeq: number;
}

/**
 * A batch made only of the engine's own transactions has nothing to capture
 * and needs no transaction: remembers their keys (in `engineTxns` itself) and
 * returns the collections they created; null when the batch holds anything else.
 */
export function engineOnly(changes: readonly TillChange[], engineTxns: TxnMemory): { created: string[] } | null {
  const markers: string[] = [];
  const created: string[] = [];
  for (const ch of changes) {
    if (ch.kind === 'engine' && ch.txn) {
      markers.push(ch.txn);
      if (ch.created) created.push(ch.created);
    } else if (!ch.txn || !(engineTxns.kindOf(ch.txn) || markers.includes(ch.txn))) return null;
    else if (ch.kind === 'create') created.push(ch.c);
  }
  for (const key of markers) engineTxns.remember(key, 'engine');
  return { created };
}

export function planCapture(changes: readonly TillChange[], ctx: CaptureContext): CapturePlan {
  const plan: CapturePlan = {
    entries: [],
    conflicts: [],
    setAside: [],
    known: [],
    created: [],
    ddl: [],
    invalidated: false,
    lastSeq: ctx.lastSeq,
  };
  const lost = (c: string, id: DocumentId, doc: Document | null, current: Document | null, known: Known): void => {
    plan.conflicts.push({
      collection: c,
      documentId: id,
      winner: 'hub',
      rule: 'uncaptured-local-change',
      local: { version: '', origin: ctx.device, document: doc },
      hub: { version: known.v, origin: 'hub', document: current },
    });
  };
  const known = new Map<string, Known | null>();
  const knownOf = (c: string, id: DocumentId): Known | null => {
    const key = `${c}\u0000${ctx.codec.idKey(id)}`;
    return known.has(key) ? (known.get(key) ?? null) : ctx.known(c, id);
  };
  const record = (c: string, id: DocumentId, k: Known): void => {
    known.set(`${c}\u0000${ctx.codec.idKey(id)}`, k);
    plan.known.push({ c, id, known: k });
  };
  for (const ch of changes) {
    if (ch.kind === 'engine') {
      if (ch.txn) ctx.engineTxns.remember(ch.txn, 'engine');
      if (ch.created) plan.created.push(ch.created);
      continue;
    }
    if (ctx.engineTxns.kindOf(ch.txn)) continue;
    if (ch.kind === 'invalidate') {
      plan.invalidated = true;
      break;
    }
    if (ch.kind === 'create') plan.created.push(ch.c);
    else if (ch.kind === 'ddl') plan.ddl.push({ op: ch.op, c: ch.c });
    if (ch.kind !== 'write' && ch.kind !== 'delete') continue;
    if (!ctx.policies.shouldPush(ch.c)) continue;
    const wall = ctx.hubTime(ch.wall);
    const before = knownOf(ch.c, ch.id);
    // Only compared when the till knew a version of the document: a new one cannot have been overtaken.
    const current = before || (ch.kind === 'write' && !ch.doc) ? ctx.current(ch.c, ch.id) : null;
    if (ch.kind === 'write') {
      const doc = ch.doc ?? current;
      if (!doc) continue; // deleted since; its delete event follows
      const h = ctx.codec.hash(doc);
      if (overtaken(h, current, before, ctx.codec)) {
        lost(ch.c, ch.id, doc, current, before as Known);
        continue;
      }
      const v = encodeVersion(ctx.clock.tick(wall.getTime()));
      const bytes = ctx.codec.size(doc);
      if (bytes > MAX_DOCUMENT_BYTES - SYNC_ROOM_BYTES) {
        // Neither an outbox entry nor the hub's copy (with its sync data) could hold it. Recorded as
        // seen, so nothing waits for capture to take it; the set-aside record says so, to try again.
        plan.setAside.push({
          collection: ch.c,
          documentId: ch.id,
          side: 'hub',
          ...tooLarge(bytes, MAX_DOCUMENT_BYTES),
          kind: 'too-large',
          change: { op: 'upsert', v },
        });
        record(ch.c, ch.id, { v, h });
        continue;
      }
      plan.lastSeq += 1;
      plan.entries.push({
        _id: plan.lastSeq,
        c: ch.c,
        id: ch.id,
        op: 'upsert',
        doc,
        h,
        v,
        at: ctx.now,
        wall,
        base: before?.v ?? null,
        fields: ch.fields,
      });
      record(ch.c, ch.id, { v, h });
    } else {
      if (overtaken(null, current, before, ctx.codec)) {
        lost(ch.c, ch.id, null, current, before as Known);
        continue;
      }
      const v = encodeVersion(ctx.clock.tick(wall.getTime()));
      plan.lastSeq += 1;
      plan.entries.push({ _id: plan.lastSeq, c: ch.c, id: ch.id, op: 'delete', v, at: ctx.now, wall, base: before?.v ?? null });
      record(ch.c, ch.id, { v, h: null });
    }
  }
  return plan;
}

/**
 * Which of a batch's changes `planCapture` compares with the document as it is now, given which documents
 * the till has a version record of: a change of such a document or of one changed earlier in the batch,
 * and a write that came without its document. The rest need not be read.
 */
export function needsCurrent(
  changes: readonly TillChange[],
  hasRecord: (c: string, id: DocumentId) => boolean,
  codec: Codec,
): Array<{ c: string; id: DocumentId }> {
  const seen = new Set<string>();
  const needed: Array<{ c: string; id: DocumentId }> = [];
  for (const ch of changes) {
    if (ch.kind !== 'write' && ch.kind !== 'delete') continue;
    const key = `${ch.c}\u0000${codec.idKey(ch.id)}`;
    if (seen.has(key) || hasRecord(ch.c, ch.id) || (ch.kind === 'write' && !ch.doc)) needed.push(ch);
    seen.add(key);
  }
  return needed;
}

/**
 * A local change the engine has since overwritten: what it left (`left`, a
 * content hash; null for a delete) is no longer the document, and the
 * document is exactly what the till's version record says — an engine apply
 * that gave up waiting for capture wrote it (reconciliation, or a pull that
 * waited long enough). Pushing it now would put the loser on the hub while
 * this till keeps the winner, so it is recorded as the losing side of a
 * conflict instead. (A later local write that put the document back as it
 * was also looks so; that write is captured next.)
 */
function overtaken(left: string | null, current: Document | null, known: Known | null, codec: Codec): boolean {
  if (!known) return false;
  const now = current ? codec.hash(current) : null;
  return now === known.h && left !== now;
}

export interface FoundContext {
  /** Hands out a fresh version, for changes marked `fresh` (called under the lock capture versions under). */
  freshVersion(): string;
  /** The version record of a document now (null: none). */
  knownNow(c: string, id: DocumentId): string | null;
  /** The document now (null: none). */
  docNow(c: string, id: DocumentId): Document | null;
  codec: Codec;
  lastSeq: number;
  now: Date;
}

/**
 * Outbox entries for changes reconciliation found. A change that says what
 * the comparison saw (`expect`) is taken only if the document is still so —
 * same version record, same content — with the document as it is now; if
 * anything moved it meanwhile (a push settling a hub version here, a write
 * capture will take), that path syncs it and this one is dropped.
 */
export function planFound(found: readonly FoundChange[], ctx: FoundContext): Pick<CapturePlan, 'entries' | 'known' | 'lastSeq'> {
  const plan: Pick<CapturePlan, 'entries' | 'known' | 'lastSeq'> = { entries: [], known: [], lastSeq: ctx.lastSeq };
  for (const ch of found) {
    let change: FoundChange = ch;
    if (ch.expect) {
      const doc = ctx.docNow(ch.c, ch.id);
      if (ctx.knownNow(ch.c, ch.id) !== ch.expect.v || (doc ? ctx.codec.hash(doc) : null) !== ch.expect.h) continue;
      const { expect: _compared, doc: _then, ...rest } = ch;
      change = doc ? { ...rest, op: 'upsert', doc } : { ...rest, op: 'delete' };
    }
    if (change.fresh) {
      const { fresh: _made, ...rest } = change;
      change = { ...rest, v: ctx.freshVersion() };
    }
    plan.lastSeq += 1;
    const h = change.doc ? ctx.codec.hash(change.doc) : undefined;
    plan.entries.push({
      _id: plan.lastSeq,
      c: change.c,
      id: change.id,
      op: change.op,
      ...(change.doc ? { doc: change.doc, h } : {}),
      v: change.v,
      at: ctx.now,
      wall: ctx.now,
      ...(change.base === undefined ? {} : { base: change.base }),
    });
    plan.known.push({ c: change.c, id: change.id, known: { v: change.v, h: h ?? null } });
  }
  return plan;
}
