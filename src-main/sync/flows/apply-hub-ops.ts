/**
 * Applies hub changes to the till: the pull's batches and the versions
 * reconciliation chose. One engine transaction per call (`TillTransaction`,
 * marker first), with each document decided by `core/till-apply.ts`:
 * applied, skipped, noted on its waiting outbox entry for the push, or — for
 * a local change capture has not taken yet — the whole call is retried once
 * capture has had a moment (`UncapturedChange`).
 */
import type { PolicyTable } from '../core/policy.ts';
import { decideTillApply } from '../core/till-apply.ts';
import type { ConflictDraft, Document, HubChangeSeen, HubOp, QuarantineDraft, TillWrite } from '../core/types.ts';
import { DocumentRefused } from '../refused.ts';
import { bsonCodec, idKey } from '../documents.ts';
import { groupBy } from '../group-by.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { Checkpoint, ConflictRecord, QuarantineRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';

export interface ApplyDeps {
  store: TillStore;
  device: string;
  policies: PolicyTable;
  /** Whether the outbox is surely empty, so there are no pending local changes to look up. */
  outboxWatch: OutboxWatch;
}

export interface ApplyOptions {
  /** The apply-marker document (lanes that apply at once use different ones). */
  marker: string;
  /** Capture was waited for long enough: a change it still has not taken loses to the hub (and is logged). */
  captureGaveUp: boolean;
  /** Changes of the batch set aside, recorded in the same transaction. */
  quarantined?: readonly QuarantineDraft[];
  /** The pull checkpoint this batch moves to, written in the same transaction. */
  checkpoint?: Checkpoint;
}

export interface Applied {
  applied: HubOp[];
  /** Changes older than what this till holds, with different content: is the till's version still on the hub? */
  newerHere: HubOp[];
  conflicts: ConflictRecord[];
  quarantined: QuarantineRecord[];
}

/** A local change not captured yet: wait for capture, then try the batch again. */
export class UncapturedChange extends Error {
  constructor() {
    super('a local change has not been captured yet');
  }
}

/**
 * Applies `ops`; a change this till's database refuses for good (a unique index, a validator) is set
 * aside — recorded in the same transaction as the rest — and the others are applied without it.
 */
export async function applyHubOps(d: ApplyDeps, ops: readonly HubOp[], options: ApplyOptions): Promise<Applied> {
  let left = [...ops];
  const setAside: QuarantineDraft[] = [];
  for (;;) {
    try {
      return await applyOnce(d, left, { ...options, quarantined: [...(options.quarantined ?? []), ...setAside] });
    } catch (err) {
      if (!(err instanceof DocumentRefused) || err.side !== 'local') throw err;
      const refused = left.find((op) => op.c === err.c && idKey(op.id) === idKey(err.id));
      if (!refused) throw err;
      left = left.filter((op) => op !== refused);
      setAside.push({
        collection: refused.c,
        documentId: refused.id,
        side: 'local',
        ...err.reason,
        kind: 'refused',
        change: hubChangeKept(refused),
      });
    }
  }
}

/** What is kept of a hub change set aside: enough to say what it was (the document only when small). */
function hubChangeKept(op: HubOp): Document {
  const doc = op.doc && bsonCodec.size(op.doc) <= KEPT_DOCUMENT_BYTES ? op.doc : undefined;
  return { op: op.op, v: op.v, o: op.o, ...(doc ? { doc } : {}) };
}

/** A hub change noted on a waiting outbox entry, without its document when that could not fit beside the entry's. */
function noteKept(note: HubChangeSeen): HubChangeSeen {
  return note.doc && bsonCodec.size(note.doc) > KEPT_NOTE_BYTES ? { v: note.v, o: note.o, doc: null, large: true } : note;
}

/** The largest hub document noted beside a waiting change (the entry holds the till's, up to 16 MB together). */
const KEPT_NOTE_BYTES = 4 * 1024 * 1024;

/** A set-aside record keeps the document itself only below this size (it is read again to try again). */
export const KEPT_DOCUMENT_BYTES = 1024 * 1024;

async function applyOnce(d: ApplyDeps, ops: readonly HubOp[], options: ApplyOptions): Promise<Applied> {
  const { store, outboxWatch } = d;
  return store.engineTransaction(
    options.marker,
    async (tx) => {
      const applied: HubOp[] = [];
      const newerHere: HubOp[] = [];
      const drafts: ConflictDraft[] = [];
      const writes: TillWrite[] = [];
      const notes: Array<{ seq: number; hub: HubChangeSeen }> = [];
      for (const [c, group] of groupBy(ops, (op) => op.c)) {
        const ids = group.map((op) => op.id);
        // Checked after the apply marker's write has fixed this transaction's snapshot (see OutboxWatch).
        const waiting = outboxWatch.surelyEmpty ? new Map<string, number>() : await store.outbox.waiting(c, ids, tx.session);
        const locals = await tx.documents(c, ids);
        const known = await tx.known(c, ids);
        const ctx = {
          pullOnly: d.policies.policyFor(c).mode === 'pull-only',
          captureGaveUp: options.captureGaveUp,
          device: d.device,
          codec: bsonCodec,
        };
        for (const op of group) {
          const key = idKey(op.id);
          const decision = decideTillApply(
            op,
            { waiting: waiting.get(key), local: locals.get(key) ?? null, known: known.get(key) ?? null },
            ctx,
          );
          if (decision.kind === 'wait-for-capture') throw new UncapturedChange();
          if (decision.kind === 'leave-to-push') notes.push({ seq: decision.seq, hub: noteKept(decision.note) });
          if (decision.kind === 'newer-here') newerHere.push(op);
          if (decision.kind !== 'apply') continue;
          writes.push(decision.write);
          applied.push(op);
          if (decision.conflict) drafts.push(decision.conflict);
        }
      }
      await tx.apply(writes);
      if (notes.length > 0) {
        outboxWatch.notesWriting();
        await store.outbox.note(notes, tx.session);
      }
      const quarantined = await store.quarantine.record(options.quarantined ?? [], tx.session);
      const conflicts = await store.conflicts.record(drafts, tx.session);
      if (options.checkpoint) await store.checkpoints.save(options.checkpoint, tx.session);
      return { applied, newerHere, conflicts, quarantined };
    },
    { markFirst: true },
  );
}
