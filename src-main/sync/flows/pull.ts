/**
 * Pull: one database-level change stream on the hub, resumed from the pull
 * checkpoint kept on the till. Each batch is planned by `core/pull-plan.ts`
 * and applied by `apply-hub-ops.ts` in one local transaction together with
 * the new checkpoint.
 *
 * When history cannot say what changed (first contact with the hub, lost
 * history), the pull reconciles first (`pull-reconcile.ts`): it takes the
 * hub's position, compares both sides (`reconcile.ts`), and only then moves
 * its checkpoint there — a crash part-way reconciles again.
 */
import type { ResumeToken, Timestamp } from 'mongodb';
import { decodeHubChange } from '../core/change.ts';
import { encodeVersion } from '../core/hlc.ts';
import { planPull, type PullTxnKind } from '../core/pull-plan.ts';
import { TxnMemory } from '../core/txn-memory.ts';
import type { DocumentId, HubOp } from '../core/types.ts';
import { bsonCodec, docKey } from '../documents.ts';
import { isHistoryLost } from '../errors.ts';
import { QueueClosed, type ChangeEvent, type EventQueue } from '../event-queue.ts';
import type { Hub } from '../hub/hub.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { QuarantineRecord } from '../till/records.ts';
import { applyHubOps, UncapturedChange, type Applied, type ApplyOptions } from './apply-hub-ops.ts';
import { deletesStillCurrent, hubRepairs, Stamper } from './hub-checks.ts';
import { PullReconcile, type ReconcileNeeds } from './pull-reconcile.ts';
import { StreamCheckpoint } from './stream-checkpoint.ts';

/** How often a batch waits for capture before a never-captured local change loses to the hub. */
const CAPTURE_WAITS = 20;

/** The pull's deps: those it shares with its comparisons (`ReconcileNeeds`), and these. */
export interface PullDeps extends ReconcileNeeds {
  /** Whether the outbox is surely empty, so there are no pending local changes to look up. */
  outboxWatch: OutboxWatch;
  hub(): Hub | undefined;
  /** Resolves once capture has had a chance to take the newest local changes. */
  captureSettled(): Promise<void>;
  onApplied(applied: HubOp[]): void;
  onCaughtUp(caughtUp: boolean): void;
  /** The hub answered the pull's change stream (an empty answer too). */
  onHubResponse(): void;
  onQuarantined(records: QuarantineRecord[]): void;
  onError(err: unknown, fatal: boolean): void;
  delay(attempt: number): Promise<void>;
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
  /** Comparisons with the hub owed before the stream goes on, and running them. */
  readonly #reconcile: PullReconcile;
  /** Documents whose hub state this till is to take as it is now (asked for by the push's settle, or by staff). */
  readonly #recheck = new Map<string, { c: string; id: DocumentId }>();
  /** Told when the documents queued so far have been checked. */
  #rechecked: Array<() => void> = [];
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
    this.#reconcile = new PullReconcile({
      ...deps,
      apply: (ops, options) => this.#apply(ops, options),
      stamper: this.#stamper,
      restartAt: (startAt) => {
        this.#groups.clear();
        this.#saved.committed(undefined);
        this.#startAt = startAt;
        this.#queueHub = undefined;
      },
    });
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const checkpoint = await this.#d.store.checkpoints.load('pull');
    this.#saved.token = checkpoint?.token;
    this.#startAt = checkpoint?.startAt;
    this.#reconcile.restore(checkpoint);
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
    if (!this.#saved.token && !this.#startAt) await this.#reconcile.reconcile(hub); // first contact with the hub
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
        if (this.#reconcile.needed) {
          await this.#queue?.close();
          this.#queue = undefined;
          await this.#reconcile.reconcile(hub);
        }
        if (this.#queueHub !== hub || !this.#queue) await this.#open(hub);
        if (this.#reconcile.compareOwed) await this.#reconcile.compareCollections(hub);
        if (this.#recheck.size > 0) {
          const docs = [...this.#recheck.values()];
          const waiting = this.#rechecked;
          this.#recheck.clear();
          this.#rechecked = [];
          try {
            await this.#checkWithHub(hub, docs);
          } catch (err) {
            for (const d of docs) this.#recheck.set(docKey(d.c, d.id), d); // tried again after the loop backs off
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
          this.#reconcile.request();
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
    for (const d of docs) this.#recheck.set(docKey(d.c, d.id), d);
    return new Promise((resolve) => this.#rechecked.push(resolve));
  }

  /**
   * Asks for these collections to be compared with the hub, as a late join does (their policy was
   * widened); the caller has recorded it as owed (`oweComparison`). The stream keeps its place.
   */
  requestCompare(collections: readonly string[]): void {
    this.#reconcile.requestCompare(collections);
  }

  /** Asks for a full comparison with the hub before the stream goes on (clock drift rechecks; see also capture's history loss). */
  requestReconcile(): void {
    this.#reconcile.request();
    void this.#queue?.close();
  }

  async #apply(ops: readonly HubOp[], options: ApplyOptions): Promise<Applied> {
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
