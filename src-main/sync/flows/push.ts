/**
 * Push: drain the outbox in order, in batches. Each batch goes to the hub in
 * one transaction (`Hub.push`), each document decided by
 * `core/push-decision.ts`: only a newer version is written, stamped with the
 * origin device and version. Then, in one local transaction, the batch leaves
 * the outbox and the till takes what the hub kept where it differs
 * (`core/settle-decision.ts`). Replaying a batch changes nothing: its versions
 * are already there.
 */
import { collapseBatch, decidePush, type Collapsed, type PushDecision } from '../core/push-decision.ts';
import type { PolicyTable } from '../core/policy.ts';
import { decideSettle, settleTargets, type SettleTarget } from '../core/settle-decision.ts';
import type { ConflictDraft, OutboxEntry, TillWrite } from '../core/types.ts';
import { bsonCodec, idKey } from '../documents.ts';
import { AwaitingStamp, type Hub } from '../hub/hub.ts';
import type { Logger } from '../log.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { ConflictRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';

/** How long, at most, a push waits for HQ's change to a document to be stamped with its version. */
const STAMP_WAITS = 25;
const STAMP_WAIT_MS = 200;

export interface PushDeps {
  store: TillStore;
  deviceId: string;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Told when a read of the outbox has been pushed away completely. */
  outboxWatch: OutboxWatch;
  /** The hub, while sync is enabled and connected. */
  hub(): Hub | undefined;
  /** A batch settled: the changes the hub took, and how many entries left the outbox. */
  onPushed(accepted: OutboxEntry[], settled: number): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onError(err: unknown): void;
  onIdle(): void;
  delay(attempt: number): Promise<void>;
}

export class Push {
  readonly #d: PushDeps;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pending = true;
  /** How many times the current batch waited for a hub document HQ changed to get its version. */
  #stampWaits = 0;

  constructor(deps: PushDeps) {
    this.#d = deps;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
  }

  /** New outbox entries (or the hub came back): push now. */
  wake(): void {
    this.#pending = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#pending) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      await this.#sleep(1000);
      this.#pending = false;
      const hub = this.#d.hub();
      if (!hub || !this.#running) continue;
      try {
        const mark = this.#d.outboxWatch.beforeRead();
        const batch = await this.#d.store.outbox.readBatch(this.#d.batchSize);
        if (batch.length === 0) {
          this.#d.outboxWatch.drained(mark);
          this.#d.onIdle();
          continue;
        }
        await this.#pushBatch(hub, batch);
        // Settled: every entry the read found is gone.
        if (batch.length < this.#d.batchSize) this.#d.outboxWatch.drained(mark);
        attempt = 0;
        this.#stampWaits = 0;
        // A full batch: there may be more. A short one took everything committed before the read; what
        // capture commits after it wakes the push itself, so no second read just to find nothing.
        if (batch.length >= this.#d.batchSize) this.#pending = true;
      } catch (err) {
        if (!this.#running) break;
        if (err instanceof AwaitingStamp) {
          // A pull (this till's or another's) stamps HQ's version within moments; compare with that.
          this.#stampWaits += 1;
          await new Promise((resolve) => setTimeout(resolve, STAMP_WAIT_MS));
          this.#pending = true;
          continue;
        }
        this.#d.onError(err);
        this.#d.log.warn({ event: 'push.batch-failed', error: String(err), attempt }, 'push failed; will retry');
        await this.#d.delay(attempt++);
        this.#pending = true;
      }
    }
  }

  async #pushBatch(hub: Hub, batch: OutboxEntry[]): Promise<void> {
    const { deviceId } = this.#d;
    const lastSeq = Number(batch[batch.length - 1]?._id);
    const policies = this.#d.policies();
    const mayAwaitStamp = this.#stampWaits < STAMP_WAITS;
    const decide = (
      change: Collapsed,
      hubDoc: Parameters<typeof decidePush>[0]['hubDoc'],
      tombstone: Parameters<typeof decidePush>[0]['tombstone'],
    ): PushDecision =>
      decidePush({
        change,
        hubDoc,
        tombstone,
        device: deviceId,
        byFields: policies.policyFor(change.entry.c).conflict === 'field',
        mayAwaitStamp,
        now: Date.now(),
        codec: bsonCodec,
      });
    const outcome = await hub.push(deviceId, lastSeq, collapseBatch(batch, bsonCodec), decide);
    const accepted: OutboxEntry[] = [];
    const targets: SettleTarget[] = [];
    const concurrent: ConflictDraft[] = [];
    const others: ConflictDraft[] = [];
    for (const { change, decision } of outcome) {
      const e = change.entry;
      if (decision.kind === 'write') accepted.push(e);
      if (decision.kind !== 'write' && decision.kind !== 'refuse') continue;
      if (decision.tillTakes) targets.push({ c: e.c, id: e.id, v: decision.tillTakes.v, doc: decision.tillTakes.doc, pushedV: e.v });
      if (decision.conflict) (decision.kind === 'write' && !decision.tillTakes ? concurrent : others).push(decision.conflict);
    }
    const seqs = batch.map((e) => Number(e._id));
    const conflicts = await this.#settle(seqs, lastSeq, accepted, targets, [...concurrent, ...others]);
    this.#d.onPushed(accepted, batch.length);
    if (conflicts.length > 0) this.#d.onConflicts(conflicts);
    this.#d.log.debug({ event: 'push.batch-applied', entries: batch.length, accepted: accepted.length, rejected: targets.length, lastSeq });
  }

  /**
   * Removes the pushed batch from the outbox, records its conflicts and lets
   * the till take what the hub kept — in one local transaction. A hub change
   * the pull passed over meanwhile (noted on a waiting entry) is taken instead
   * when it is newer than what the push leaves here.
   */
  async #settle(
    seqs: number[],
    lastSeq: number,
    accepted: OutboxEntry[],
    own: SettleTarget[],
    drafts: ConflictDraft[],
  ): Promise<ConflictRecord[]> {
    const { store, outboxWatch } = this.#d;
    let readNotes = outboxWatch.notesMayExist;
    const settle = (): Promise<ConflictRecord[]> =>
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
        for (const t of settleTargets(own, noted, accepted, bsonCodec)) {
          const changedSince = await store.outbox.changedAfter(t.c, t.id, lastSeq, session);
          const key = idKey(t.id);
          const local = changedSince ? undefined : (await tx.documents(t.c, [t.id])).get(key);
          const known = changedSince ? undefined : (await tx.known(t.c, [t.id])).get(key);
          const decision = decideSettle(t, { changedSince, localHash: local ? bsonCodec.hash(local) : null, known: known ?? null });
          if (decision === 'apply')
            writes.push({ c: t.c, id: t.id, doc: t.doc, known: { v: t.v, h: t.doc ? bsonCodec.hash(t.doc) : null } });
        }
        await tx.apply(writes);
        if (readNotes) await store.outbox.remove(seqs, session);
        return store.conflicts.record(drafts, session);
      });
    for (;;) {
      try {
        return await settle();
      } catch (err) {
        if (!(err instanceof NotesAppeared)) throw err;
        readNotes = true;
      }
    }
  }
}

/** The pull began leaving a hub change on outbox entries while the settle skipped reading them: settle again, reading them. */
class NotesAppeared extends Error {
  constructor() {
    super('the pull passed over a hub change while the push settled');
  }
}
