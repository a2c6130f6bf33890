/**
 * The push's settle: once the hub has committed a batch, one local transaction
 * removes the batch from the outbox, records its conflicts and changes set
 * aside, and lets the till take what the hub kept (each document decided by
 * `core/settle-decision.ts`).
 */
import { decideSettle, settleTargets, type SettleTarget } from '../core/settle-decision.ts';
import type { ConflictDraft, DocumentId, OutboxEntry, QuarantineDraft, TillWrite } from '../core/types.ts';
import { bsonCodec, docKey, idKey } from '../documents.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import { DocumentRefused } from '../refused.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';

export interface SettleDeps {
  store: TillStore;
  /** Told when a read of the outbox has been pushed away completely; says whether the pull may have left notes on entries. */
  outboxWatch: OutboxWatch;
  /** Has the till take the hub's state of these documents as it is now (the pull does it). */
  recheck(docs: ReadonlyArray<{ c: string; id: DocumentId }>): Promise<void>;
}

/**
 * Removes the pushed batch from the outbox, records its conflicts and lets
 * the till take what the hub kept — in one local transaction. A hub change
 * the pull passed over meanwhile (noted on a waiting entry) is taken instead
 * when it is newer than what the push leaves here.
 */
export async function settlePushed(
  d: SettleDeps,
  seqs: number[],
  lastSeq: number,
  accepted: OutboxEntry[],
  own: SettleTarget[],
  drafts: ConflictDraft[],
  setAside: QuarantineDraft[],
): Promise<{ conflicts: ConflictRecord[]; quarantined: QuarantineRecord[] }> {
  const { store, outboxWatch } = d;
  let readNotes = outboxWatch.notesMayExist;
  /** Documents this till's database refused to take from the hub (set aside, the rest settled without them). */
  const refused = new Set<string>();
  /** Hub changes too large to have been noted whole: the till takes the hub's state of them after the settle. */
  const recheck: Array<{ c: string; id: DocumentId }> = [];
  const settle = (): Promise<{ conflicts: ConflictRecord[]; quarantined: QuarantineRecord[] }> =>
    store.engineTransaction('apply', async (tx) => {
      const { session } = tx;
      if (!readNotes) {
        // No hub change can be waiting on the batch's entries: remove them first, which fixes this
        // transaction's snapshot, then make sure no pull began leaving one before that.
        await store.outbox.remove(seqs, session);
        if (outboxWatch.notesMayExist) throw new NotesAppeared();
      }
      const noted = readNotes ? await store.outbox.noted(seqs, session) : [];
      const writes: TillWrite[] = [];
      recheck.length = 0;
      for (const t of settleTargets(own, noted, accepted, bsonCodec)) {
        if (refused.has(docKey(t.c, t.id))) continue;
        const changedSince = await store.outbox.changedAfter(t.c, t.id, lastSeq, session);
        const key = idKey(t.id);
        const local = changedSince ? undefined : (await tx.documents(t.c, [t.id])).get(key);
        const known = changedSince ? undefined : (await tx.known(t.c, [t.id])).get(key);
        const decision = decideSettle(t, { changedSince, localHash: local ? bsonCodec.hash(local) : null, known: known ?? null });
        if (decision !== 'apply') continue;
        if (t.recheck) recheck.push({ c: t.c, id: t.id });
        else writes.push({ c: t.c, id: t.id, doc: t.doc, known: { v: t.v, h: t.doc ? bsonCodec.hash(t.doc) : null } });
      }
      await tx.apply(writes);
      if (readNotes) await store.outbox.remove(seqs, session);
      return { conflicts: await store.conflicts.record(drafts, session), quarantined: await store.quarantine.record(setAside, session) };
    });
  for (;;) {
    try {
      const settled = await settle();
      if (recheck.length > 0) void d.recheck(recheck);
      return settled;
    } catch (err) {
      if (err instanceof DocumentRefused && err.side === 'local' && !refused.has(docKey(err.c, err.id))) {
        refused.add(docKey(err.c, err.id));
        setAside.push({ collection: err.c, documentId: err.id, side: 'local', ...err.reason, kind: 'refused', change: null });
        continue;
      }
      if (!(err instanceof NotesAppeared)) throw err;
      readNotes = true;
    }
  }
}

/** The pull began leaving a hub change on outbox entries while the settle skipped reading them: settle again, reading them. */
class NotesAppeared extends Error {
  constructor() {
    super('the pull passed over a hub change while the push settled');
  }
}
