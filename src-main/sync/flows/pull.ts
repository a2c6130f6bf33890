/**
 * Pull: one database-level change stream on the hub, resumed from the pull
 * checkpoint kept on the till. Each batch is planned by `core/pull-plan.ts`
 * and applied by `apply-hub-ops.ts` in one local transaction together with
 * the new checkpoint.
 *
 * When history cannot say what changed (first contact with the hub, lost
 * history), the pull reconciles first: it takes the hub's position, compares
 * both sides (`reconcile.ts`), and only then moves its checkpoint there — a
 * crash part-way reconciles again.
 */
import type { ResumeToken, Timestamp } from 'mongodb';
import { decodeHubChange } from '../core/change.ts';
import { encodeVersion, type HybridClock } from '../core/hlc.ts';
import type { PolicyTable } from '../core/policy.ts';
import { planPull, type PullTxnKind } from '../core/pull-plan.ts';
import type { FoundChange } from '../core/reconcile-pair.ts';
import { TxnMemory } from '../core/txn-memory.ts';
import type { DocumentId, HubOp } from '../core/types.ts';
import { bsonCodec, idKey } from '../documents.ts';
import { isHistoryLost } from '../errors.ts';
import { QueueClosed, type ChangeEvent, type EventQueue } from '../event-queue.ts';
import type { Hub } from '../hub/hub.ts';
import type { Logger } from '../log.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';
import { applyHubOps, UncapturedChange, type Applied } from './apply-hub-ops.ts';
import { deletesStillCurrent, hubRepairs, Stamper } from './hub-checks.ts';
import { reconcile, type ReconcileSummary } from './reconcile.ts';
import { StreamCheckpoint } from './stream-checkpoint.ts';

/** How often a batch waits for capture before a never-captured local change loses to the hub. */
const CAPTURE_WAITS = 20;

export interface PullDeps {
  store: TillStore;
  deviceId: string;
  clock: HybridClock;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Whether the outbox is surely empty, so there are no pending local changes to look up. */
  outboxWatch: OutboxWatch;
  hub(): Hub | undefined;
  /** Resolves once capture has had a chance to take the newest local changes. */
  captureSettled(): Promise<void>;
  onApplied(applied: HubOp[]): void;
  onCaughtUp(caughtUp: boolean): void;
  /** The hub answered the pull's change stream (an empty answer too). */
  onHubResponse(): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onQuarantined(records: QuarantineRecord[]): void;
  onError(err: unknown, fatal: boolean): void;
  delay(attempt: number): Promise<void>;
  /** Progress of a reconciliation (null when it ends). */
  onReconcile(progress: { compared: number; total: number } | null): void;
  /** A reconciliation finished; `aheadRefused` hub versions were still too far ahead of this till's clock. */
  onReconciled(summary: ReconcileSummary): void;
  /** Queues local versions found by reconciliation for the hub. */
  enqueuePush(changes: FoundChange[]): Promise<void>;
}

export class Pull {
  readonly #d: PullDeps;
  #queue: EventQueue | undefined;
  #queueHub: Hub | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  readonly #saved: StreamCheckpoint;
  #startAt: Timestamp | undefined;
  /** Transactions recognised as this till's own pushes ('own') or another engine's ('engine'). */
  readonly #groups = new TxnMemory<PullTxnKind>();
  /** History cannot say what changed (first contact, lost history): compare both sides before streaming. */
  #reconcileNeeded = false;
  /** Documents whose hub state this till is to take as it is now (asked for by the push's settle, or by staff). */
  readonly #recheck = new Map<string, { c: string; id: DocumentId }>();
  /** Told when the documents queued so far have been checked. */
  #rechecked: Array<() => void> = [];
  /** Collections to compare with the hub before the stream goes on (their policy was widened). */
  readonly #compare = new Set<string>();
  readonly #stamper: Stamper;

  constructor(deps: PullDeps) {
    this.#d = deps;
    this.#stamper = new Stamper(deps.deviceId, deps.log);
    this.#saved = new StreamCheckpoint((token) =>
      deps.store.checkpoints.save({
        _id: 'pull',
        token,
        clock: encodeVersion(deps.clock.last),
        engineTxns: groupKeys(this.#groups),
        at: new Date(),
      }),
    );
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const checkpoint = await this.#d.store.checkpoints.load('pull');
    this.#saved.token = checkpoint?.token;
    this.#startAt = checkpoint?.startAt;
    // Capture lost its history before a reconciliation found the gap: it is still owed.
    if (checkpoint?.reconcile !== undefined) this.#reconcileNeeded = true;
    for (const c of checkpoint?.compare?.collections ?? []) this.#compare.add(c);
    for (const key of checkpoint?.engineTxns ?? []) {
      const [kind, ...rest] = key.split('|');
      this.#groups.remember(rest.join('|'), kind === 'own' ? 'own' : 'engine');
    }
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#queue?.close();
    await this.#loop;
    await this.#stamper.settled();
    this.#queue = undefined;
    this.#queueHub = undefined;
  }

  async #open(hub: Hub): Promise<void> {
    await this.#queue?.close();
    if (!this.#saved.token && !this.#startAt) await this.#reconcile(hub); // first contact with the hub
    this.#queue = hub.changes(this.#saved.token ? { token: this.#saved.token } : { startAt: this.#startAt }, this.#d.batchSize, () =>
      this.#d.onHubResponse(),
    );
    this.#queueHub = hub;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      const hub = this.#d.hub();
      if (!hub) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      try {
        if (this.#reconcileNeeded) {
          await this.#queue?.close();
          this.#queue = undefined;
          await this.#reconcile(hub);
        }
        if (this.#queueHub !== hub || !this.#queue) await this.#open(hub);
        if (this.#compare.size > 0) await this.#compareCollections(hub);
        if (this.#recheck.size > 0) {
          const docs = [...this.#recheck.values()];
          const waiting = this.#rechecked;
          this.#recheck.clear();
          this.#rechecked = [];
          try {
            await this.#checkWithHub(hub, docs);
          } catch (err) {
            for (const d of docs) this.#recheck.set(`${d.c}\u0000${idKey(d.id)}`, d); // tried again after the loop backs off
            this.#rechecked.push(...waiting);
            throw err;
          }
          for (const done of waiting) done();
        }
        const events = await (this.#queue as EventQueue).take(this.#d.batchSize, 1000);
        if (events.length === 0) {
          this.#d.onCaughtUp(true);
          await this.#saved.whenIdle(this.#queue);
        } else {
          this.#d.onCaughtUp(false);
          await this.#applyBatch(hub, events);
          if ((this.#queue as EventQueue).pending === 0) this.#d.onCaughtUp(true);
        }
        attempt = 0;
      } catch (err) {
        if (!this.#running) break;
        this.#queueHub = undefined;
        if (isHistoryLost(err)) {
          this.#d.log.warn(
            { event: 'pull.history-lost', error: String(err) },
            "the hub's change history no longer reaches the checkpoint; reconciling",
          );
          this.#reconcileNeeded = true;
          this.#d.onError(err, false);
          continue;
        }
        if (!(err instanceof QueueClosed)) {
          this.#d.onError(err, false);
          this.#d.log.warn({ event: 'pull.failed', error: String(err), attempt }, 'pull failed; reopening from the checkpoint');
          await this.#d.delay(attempt++);
        }
      }
    }
  }

  /**
   * Asks for these documents to take the hub's state as it is now, above the version this till holds
   * (`hubMovedOn`): a hub change too large to note beside a waiting change, a change set aside that
   * staff discarded or want tried again. Done in memory: a restart rereads the stream anyway.
   */
  recheck(docs: ReadonlyArray<{ c: string; id: DocumentId }>): Promise<void> {
    for (const d of docs) this.#recheck.set(`${d.c}\u0000${idKey(d.id)}`, d);
    return new Promise((resolve) => this.#rechecked.push(resolve));
  }

  /**
   * Asks for these collections to be compared with the hub, as a late join does (their policy was
   * widened); the caller has recorded it as owed (`oweComparison`). The stream keeps its place.
   */
  requestCompare(collections: readonly string[]): void {
    for (const c of collections) this.#compare.add(c);
  }

  async #compareCollections(hub: Hub): Promise<void> {
    const { store } = this.#d;
    const owed = (await store.checkpoints.load('pull'))?.compare;
    const only = [...new Set([...this.#compare, ...(owed?.collections ?? [])])];
    this.#d.log.info({ event: 'pull.compare', collections: only }, 'comparing collections whose sync rule was widened with the hub');
    await this.#reconcileWith(hub, only);
    for (const c of only) this.#compare.delete(c);
    if (owed) await store.checkpoints.compared(owed.mark);
  }

  /** Asks for a full comparison with the hub before the stream goes on (clock drift rechecks; see also capture's history loss). */
  requestReconcile(): void {
    this.#reconcileNeeded = true;
    void this.#queue?.close();
  }

  /**
   * Takes the hub's position first, compares both sides, and only then moves
   * the checkpoint to that position: a crash part-way reconciles again.
   */
  async #reconcile(hub: Hub): Promise<void> {
    const startAt = await hub.position();
    const { store } = this.#d;
    const seen = await store.checkpoints.load('pull');
    const summary = await this.#reconcileWith(hub, undefined);
    await store.checkpoints.reconciled(
      { _id: 'pull', startAt, clock: encodeVersion(this.#d.clock.last), engineTxns: [], at: new Date() },
      { reconcile: seen?.reconcile, compare: seen?.compare },
    );
    this.#groups.clear();
    this.#compare.clear();
    this.#saved.committed(undefined);
    this.#startAt = startAt;
    this.#reconcileNeeded = false;
    this.#queueHub = undefined;
    this.#d.onReconciled(summary);
  }

  /** Compares the till with the hub (every synced collection, or `only` these), with progress in the status. */
  async #reconcileWith(hub: Hub, only: readonly string[] | undefined): Promise<ReconcileSummary> {
    const { store } = this.#d;
    this.#d.onReconcile({ compared: 0, total: 0 });
    try {
      return await reconcile({
        only,
        store,
        hub,
        deviceId: this.#d.deviceId,
        pushedSeq: await hub.pushedSeq(this.#d.deviceId),
        clock: this.#d.clock,
        policies: this.#d.policies(),
        batchSize: this.#d.batchSize,
        log: this.#d.log,
        applyPulled: async (ops, lane) => {
          const outcome = await this.#apply(ops, { marker: `reconcile-${lane}`, captureGaveUp: true });
          await this.#stamp(
            hub,
            ops.filter((op) => op.stamp),
          );
          return outcome;
        },
        enqueuePush: (changes) => this.#d.enqueuePush(changes),
        stampHub: (ops) => this.#stamp(hub, ops),
        onConflicts: (conflicts) => this.#d.onConflicts(conflicts),
        progress: (compared, total) => this.#d.onReconcile({ compared, total }),
      });
    } finally {
      this.#d.onReconcile(null);
    }
  }

  async #apply(ops: readonly HubOp[], options: Parameters<typeof applyHubOps>[2]): Promise<Applied> {
    const outcome = await applyHubOps(
      { store: this.#d.store, device: this.#d.deviceId, policies: this.#d.policies(), outboxWatch: this.#d.outboxWatch },
      ops,
      options,
    );
    this.#d.onApplied(outcome.applied);
    if (outcome.conflicts.length > 0) this.#d.onConflicts(outcome.conflicts);
    if (outcome.quarantined.length > 0) this.#d.onQuarantined(outcome.quarantined);
    return outcome;
  }

  /**
   * Changes older than the version this till holds, with other content: if the hub no longer holds
   * this till's version, what it holds instead is newer (`hubMovedOn`): taken here, and its version
   * raised on the hub above this till's so every till ends on it.
   */
  async #checkWithHub(hub: Hub, docs: ReadonlyArray<{ c: string; id: DocumentId }>): Promise<void> {
    const repairs = await hubRepairs(this.#d.store, hub, docs);
    if (repairs.length === 0) return;
    this.#d.log.info(
      { event: 'pull.hub-moved-on', count: repairs.length },
      "the hub holds newer content than this till's version of some documents; taking it",
    );
    try {
      await this.#apply(repairs, { marker: 'apply', captureGaveUp: false });
    } catch (err) {
      if (!(err instanceof UncapturedChange)) throw err;
      return; // changed here meanwhile: that change is pushed, and compared on the hub
    }
    await this.#stamp(
      hub,
      repairs.filter((op) => op.stamp),
    );
  }

  async #applyBatch(hub: Hub, events: ChangeEvent[]): Promise<void> {
    const lastToken = events[events.length - 1]?._id;
    const changes = events.map((ev) => decodeHubChange(ev, (e) => hub.own.wrote(e)));
    for (let wait = 0; ; wait += 1) {
      const tentative = this.#d.clock.fork();
      const groups = this.#groups.copy();
      const plan = planPull(changes, {
        groups,
        device: this.#d.deviceId,
        policies: this.#d.policies(),
        clock: tentative,
        codec: bsonCodec,
        now: new Date(),
      });
      if (plan.ops.length === 0 && plan.quarantined.length === 0 && !plan.invalidated) {
        // Nothing to apply (this till's own pushes, say): no transaction, so no apply marker for capture
        // to read either.
        this.#groups.adopt(groups);
        await this.#saved.nowAndThen(lastToken);
        return;
      }
      const ops = await deletesStillCurrent(hub, plan.ops);
      let outcome: Applied;
      try {
        outcome = await this.#apply(ops, {
          marker: 'apply',
          captureGaveUp: wait >= CAPTURE_WAITS,
          quarantined: plan.quarantined,
          checkpoint: {
            _id: 'pull',
            token: lastToken as ResumeToken,
            clock: encodeVersion(tentative.last),
            engineTxns: groupKeys(groups),
            at: new Date(),
          },
        });
      } catch (err) {
        if (!(err instanceof UncapturedChange)) throw err;
        await this.#d.captureSettled();
        continue;
      }
      // Invariant: in-memory state moves only after the transaction committed.
      this.#groups.adopt(groups);
      this.#saved.committed(lastToken);
      this.#d.clock.advance(tentative.last);
      if (outcome.newerHere.length > 0) await this.#checkWithHub(hub, outcome.newerHere);
      // Stamped even when not applied here (a pending local change): the push then compares with HQ's real version.
      // Not those this till holds a newer version of: checking with the hub stamps them as they should be.
      await this.#stamp(
        hub,
        ops.filter((op) => op.stamp && !outcome.newerHere.includes(op)),
      );
      if (plan.invalidated) throw new QueueClosed();
      return;
    }
  }

  #stamp(hub: Hub, ops: HubOp[]): Promise<void> {
    return this.#stamper.stamp(hub, ops);
  }
}

function groupKeys(groups: TxnMemory<PullTxnKind>): string[] {
  return groups.entries().map(([key, kind]) => `${kind}|${key}`);
}
