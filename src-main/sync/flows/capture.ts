/**
 * Capture: one database-level change stream on the till's POS database, so a
 * write from any local client is seen. Each batch becomes outbox entries and
 * version records (`core/capture-plan.ts`) in the same local transaction that
 * moves the capture checkpoint.
 *
 * Invariants kept here:
 * - the checkpoint (resume token, last sequence number, clock, engine
 *   transactions still being read) is written with the writes it covers;
 * - in-memory state (sequence, token, clock, remembered transactions) moves
 *   only after the transaction committed;
 * - outbox sequence numbers are handed out one batch at a time (capture and
 *   reconciliation's found changes, `found-changes.ts`, share the lock in
 *   `outbox-writes.ts`).
 */
import type { ResumeToken, Timestamp } from 'mongodb';
import { decodeTillChange } from '../core/change.ts';
import { engineOnly, needsCurrent, planCapture, type CapturePlan } from '../core/capture-plan.ts';
import { encodeVersion, type HybridClock } from '../core/hlc.ts';
import type { PolicyTable } from '../core/policy.ts';
import type { FoundChange } from '../core/reconcile-pair.ts';
import { TxnMemory } from '../core/txn-memory.ts';
import type { ClockOffsets } from '../clock-offset.ts';
import { clusterTime } from '../cluster-time.ts';
import { bsonCodec } from '../documents.ts';
import { isHistoryLost } from '../errors.ts';
import { QueueClosed, type ChangeEvent, type EventQueue } from '../event-queue.ts';
import type { Logger } from '../log.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';
import { enqueueFound } from './found-changes.ts';
import { OutboxSequence, readNow } from './outbox-writes.ts';
import { StreamCheckpoint } from './stream-checkpoint.ts';

/** A change this far ahead of the expected local clock means the till's clock was moved. */
const CLOCK_JUMP_MS = 2_000;

export interface CaptureDeps {
  store: TillStore;
  clock: HybridClock;
  /** This till's clock against the hub's: change times are stamped in hub time. */
  offsets: ClockOffsets;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Told before each transaction that may add outbox entries. */
  outboxWatch: OutboxWatch;
  deviceId: string;
  /** Local changes the engine had overwritten before capture saw them, recorded as conflict losers. */
  onConflicts(conflicts: ConflictRecord[]): void;
  /** Local changes too large to sync, set aside. */
  onQuarantined(records: QuarantineRecord[]): void;
  /** After each committed batch: outbox entries written (0 for skipped-only batches). */
  onCommitted(captured: number, wallTimes: Date[]): void;
  /** A failure the loop will retry; `fatal` when the stream cannot resume from its checkpoint. */
  onError(err: unknown, fatal: boolean): void;
  /** Waits before reopening after a failure. */
  delay(attempt: number): Promise<void>;
  /**
   * The stream's history is gone (oplog rolled over while the engine was
   * down): capture restarted from now; changes in the gap must be found by
   * reconciliation.
   */
  onHistoryLost(): void;
}

export class Capture {
  readonly #d: CaptureDeps;
  #queue: EventQueue | undefined;
  /** Outbox sequence numbers, shared with reconciliation's found changes under one lock. */
  readonly #sequence = new OutboxSequence();
  readonly #engineTxns = new TxnMemory();
  #running = false;
  #loop: Promise<void> | undefined;
  #committing = false;
  readonly #saved: StreamCheckpoint;
  #startAt: Timestamp | undefined;

  constructor(deps: CaptureDeps) {
    this.#d = deps;
    // No `seq` here: this runs outside the lock that hands out sequence numbers, so it could write an old
    // one over a newer one reconciliation's enqueue just committed.
    this.#saved = new StreamCheckpoint((token) =>
      deps.store.checkpoints.save({
        _id: 'capture',
        token,
        clock: encodeVersion(deps.clock.last),
        engineTxns: this.#engineTxns.entries().map(([key]) => key),
        at: new Date(),
      }),
    );
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const { checkpoints } = this.#d.store;
    const checkpoint = await checkpoints.load('capture');
    // Never below an entry that exists: a sequence number is never handed out twice.
    this.#sequence.last = Math.max(checkpoint?.seq ?? 0, await this.#d.store.outbox.lastSeq());
    for (const key of checkpoint?.engineTxns ?? []) this.#engineTxns.remember(key, 'engine');
    this.#saved.token = checkpoint?.token;
    this.#startAt = checkpoint?.startAt;
    if (!checkpoint) {
      // First start: fix the starting point durably before reading anything, so a crash cannot skip writes.
      this.#startAt = await clusterTime(this.#d.store.pos);
      await checkpoints.save({ _id: 'capture', startAt: this.#startAt, seq: 0, engineTxns: [], at: new Date() });
    }
    this.#open(this.#saved.token);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#queue?.close();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Changes are waiting to be captured, or a batch is being written. */
  get busy(): boolean {
    return this.#committing || (this.#queue?.pending ?? 0) > 0;
  }

  /** Highest outbox sequence number written so far. */
  get lastSeq(): number {
    return this.#sequence.last;
  }

  #open(token: unknown): void {
    this.#queue = this.#d.store.changes(token ? { token } : { startAt: this.#startAt }, this.#d.batchSize);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      try {
        const events = await (this.#queue as EventQueue).take(this.#d.batchSize, 1000);
        if (events.length === 0) await this.#saved.whenIdle(this.#queue);
        else {
          this.#committing = true;
          try {
            await this.#sequence.exclusive(() => this.#commit(events));
          } finally {
            this.#committing = false;
          }
        }
        attempt = 0;
      } catch (err) {
        if (!this.#running) break;
        if (isHistoryLost(err)) {
          try {
            await this.#restartFromNow();
            this.#d.onHistoryLost();
            attempt = 0;
          } catch (restartErr) {
            this.#d.onError(restartErr, true);
            await this.#d.delay(attempt++);
          }
          continue;
        }
        if (!(err instanceof Invalidated) && !(err instanceof QueueClosed)) {
          this.#d.onError(err, false);
          this.#d.log.warn({ event: 'capture.stream-failed', error: String(err) }, 'capture stream failed; reopening from the checkpoint');
          await this.#d.delay(attempt++);
        }
        await this.#queue?.close();
        if (!this.#running) break;
        this.#open(this.#saved.token);
      }
    }
  }

  /** History lost: a new starting point, saved before anything is read from it. */
  async #restartFromNow(): Promise<void> {
    await this.#queue?.close();
    // Owed before capture moves on: a restart in between must still find the writes in the gap.
    await this.#d.store.checkpoints.oweReconciliation();
    const startAt = await clusterTime(this.#d.store.pos);
    await this.#sequence.exclusive(async () => {
      await this.#d.store.checkpoints.restart({
        _id: 'capture',
        seq: this.#sequence.last,
        startAt,
        clock: encodeVersion(this.#d.clock.last),
        engineTxns: this.#engineTxns.entries().map(([key]) => key),
        at: new Date(),
      });
      this.#saved.token = undefined;
      this.#startAt = startAt;
    });
    this.#d.log.warn({ event: 'capture.history-lost' }, "this till's change history was lost; capturing from now and reconciling the gap");
    this.#open(undefined);
  }

  /**
   * Adds changes found by reconciliation to the outbox, with their version
   * records, in one local transaction that also keeps the sequence and clock.
   */
  async enqueue(changes: FoundChange[]): Promise<void> {
    await enqueueFound(this.#d, this.#sequence, changes);
  }

  async #commit(events: ChangeEvent[]): Promise<void> {
    const { store, offsets } = this.#d;
    const changes = events.map((ev) => decodeTillChange(ev, (e) => store.own.wrote(e)));
    const lastToken = events[events.length - 1]?._id;
    const skipped = engineOnly(changes, this.#engineTxns);
    if (skipped) {
      // Nothing to capture: no transaction. A collection the pull created here gets post-images too.
      for (const c of skipped.created) await store.enableImages(c);
      await this.#saved.nowAndThen(lastToken);
      return;
    }
    // A change timed well ahead of where this till's server clock should be: the clock was moved. Measure it again first.
    const newest = Math.max(...events.map((ev) => (ev.wallTime as Date | undefined)?.getTime() ?? 0));
    if (newest - offsets.expectedLocalNow() > CLOCK_JUMP_MS) {
      await offsets
        .localMoved(store.client)
        .catch((err: unknown) =>
          this.#d.log.warn({ event: 'capture.clock-check-failed', error: String(err) }, "could not read this till's clock"),
        );
    }
    const shift = offsets.localMs;
    // No change is stamped later than head office's time now: one version from the future would
    // carry this till's clock along with it, and every later change would wait at the other tills.
    const latest = offsets.hubNow() + CLOCK_JUMP_MS;
    let tentative = this.#d.clock.fork();
    let txns = this.#engineTxns.copy();
    let plan: CapturePlan | undefined;
    let recorded: ConflictRecord[] = [];
    let setAside: QuarantineRecord[] = [];
    const ended = this.#d.outboxWatch.adding();
    await store
      .transaction(async (session) => {
        tentative = this.#d.clock.fork();
        txns = this.#engineTxns.copy();
        const now = new Date();
        // What the till knew of the batch's documents before it, and the documents as they are now.
        const before = await readNow(
          store,
          changes.filter((ch) => ch.kind === 'write' || ch.kind === 'delete'),
          session,
          (hasRecord) => needsCurrent(changes, hasRecord, bsonCodec),
        );
        plan = planCapture(changes, {
          engineTxns: txns,
          known: before.known,
          current: before.current,
          clock: tentative,
          policies: this.#d.policies(),
          hubTime: (wall) => new Date(Math.min((wall ?? now).getTime() + shift, latest)),
          codec: bsonCodec,
          lastSeq: this.#sequence.last,
          now,
          device: this.#d.deviceId,
        });
        await store.outbox.append(plan.entries, session);
        await store.putKnown(plan.known, session, (c, id) => before.known(c, id) === null);
        recorded = await store.conflicts.record(plan.conflicts, session);
        setAside = await store.quarantine.record(plan.setAside, session);
        await store.checkpoints.save(
          {
            _id: 'capture',
            token: lastToken as ResumeToken,
            seq: plan.lastSeq,
            clock: encodeVersion(tentative.last),
            engineTxns: txns.entries().map(([key]) => key),
            at: now,
          },
          session,
        );
      })
      .finally(ended);
    const done = plan as CapturePlan;
    // Invariant: in-memory state moves only after the transaction committed.
    this.#sequence.last = done.lastSeq;
    this.#engineTxns.adopt(txns);
    this.#saved.committed(lastToken);
    this.#d.clock.advance(tentative.last);
    if (recorded.length > 0) this.#d.onConflicts(recorded);
    if (setAside.length > 0) this.#d.onQuarantined(setAside);
    for (const c of done.created) await store.enableImages(c);
    for (const d of done.ddl)
      this.#d.log.warn({ event: 'capture.ddl-not-synced', operation: d.op, collection: d.c }, 'collection-level change is not synced');
    this.#d.onCommitted(
      done.entries.length,
      done.entries.map((e) => e.wall),
    );
    if (done.invalidated) throw new Invalidated();
  }
}

/** The POS database was dropped: the stream ends and reopens after the invalidate. */
class Invalidated extends Error {
  constructor() {
    super('capture stream invalidated');
  }
}
