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
import type { ConflictDraft, HubChangeSeen, HubOp, QuarantineDraft, TillWrite } from '../core/types.ts';
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

export async function applyHubOps(d: ApplyDeps, ops: readonly HubOp[], options: ApplyOptions): Promise<Applied> {
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
          if (decision.kind === 'leave-to-push') notes.push({ seq: decision.seq, hub: decision.note });
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
