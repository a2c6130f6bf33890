/**
 * The pull's comparisons with the hub, for when its stream cannot say what
 * changed, and what of them is owed until they are done:
 *
 * - a full reconciliation (first contact with the hub, lost history, clock
 *   drift rechecks, capture's lost history): it takes the hub's position
 *   first, compares both sides (`reconcile.ts`), and only then moves the pull
 *   checkpoint there — a crash part-way reconciles again;
 * - a comparison of the collections whose sync rule was widened, as a late
 *   join does: the stream keeps its place.
 */
import type { Timestamp } from 'mongodb';
import { encodeVersion, type HybridClock } from '../core/hlc.ts';
import type { PolicyTable } from '../core/policy.ts';
import type { FoundChange } from '../core/reconcile-pair.ts';
import type { HubOp } from '../core/types.ts';
import type { Hub } from '../hub/hub.ts';
import type { Logger } from '../log.ts';
import type { Checkpoint, ConflictRecord } from '../till/records.ts';
import type { TillStore } from '../till/store.ts';
import type { ApplyOptions } from './apply-hub-ops.ts';
import type { Stamper } from './hub-checks.ts';
import { reconcile, type ReconcileSummary } from './reconcile.ts';

/** What the pull hands its comparisons from its own deps (`PullDeps` extends it). */
export interface ReconcileNeeds {
  store: TillStore;
  deviceId: string;
  clock: HybridClock;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  onConflicts(conflicts: ConflictRecord[]): void;
  /** Progress of a reconciliation (null when it ends). */
  onReconcile(progress: { compared: number; total: number } | null): void;
  /** A reconciliation finished; `aheadRefused` hub versions were still too far ahead of this till's clock. */
  onReconciled(summary: ReconcileSummary): void;
  /** Queues local versions found by reconciliation for the hub. */
  enqueuePush(changes: FoundChange[]): Promise<void>;
}

export interface PullReconcileDeps extends ReconcileNeeds {
  /** The pull's apply path (pending local changes are left alone), with its reports. */
  apply(ops: readonly HubOp[], options: ApplyOptions): Promise<unknown>;
  stamper: Stamper;
  /** A reconciliation moved the checkpoint to `startAt`: the pull's stream starts again from there. */
  restartAt(startAt: Timestamp): void;
}

export class PullReconcile {
  readonly #d: PullReconcileDeps;
  /** History cannot say what changed (first contact, lost history): compare both sides before streaming. */
  #needed = false;
  /** Collections to compare with the hub before the stream goes on (their policy was widened). */
  readonly #compare = new Set<string>();

  constructor(deps: PullReconcileDeps) {
    this.#d = deps;
  }

  /** Takes up what the pull checkpoint says is still owed (a restart in between). */
  restore(checkpoint: Checkpoint | null): void {
    // Capture lost its history before a reconciliation found the gap: it is still owed.
    if (checkpoint?.reconcile !== undefined) this.#needed = true;
    for (const c of checkpoint?.compare?.collections ?? []) this.#compare.add(c);
  }

  /** A full reconciliation is owed before the stream goes on. */
  get needed(): boolean {
    return this.#needed;
  }

  /** Collections are owed a comparison before the stream goes on. */
  get compareOwed(): boolean {
    return this.#compare.size > 0;
  }

  /** Owes a full comparison with the hub. */
  request(): void {
    this.#needed = true;
  }

  /** Owes a comparison of these collections; the caller has recorded it as owed (`oweComparison`). */
  requestCompare(collections: readonly string[]): void {
    for (const c of collections) this.#compare.add(c);
  }

  /** Compares the collections owed a comparison; the stream keeps its place. */
  async compareCollections(hub: Hub): Promise<void> {
    const { store } = this.#d;
    const owed = (await store.checkpoints.load('pull'))?.compare;
    const only = [...new Set([...this.#compare, ...(owed?.collections ?? [])])];
    this.#d.log.info({ event: 'pull.compare', collections: only }, 'comparing collections whose sync rule was widened with the hub');
    await this.#reconcileWith(hub, only);
    for (const c of only) this.#compare.delete(c);
    if (owed) await store.checkpoints.compared(owed.mark);
  }

  /**
   * Takes the hub's position first, compares both sides, and only then moves
   * the checkpoint to that position: a crash part-way reconciles again.
   */
  async reconcile(hub: Hub): Promise<void> {
    const startAt = await hub.position();
    const { store } = this.#d;
    const seen = await store.checkpoints.load('pull');
    const summary = await this.#reconcileWith(hub, undefined);
    await store.checkpoints.reconciled(
      { _id: 'pull', startAt, clock: encodeVersion(this.#d.clock.last), engineTxns: [], at: new Date() },
      { reconcile: seen?.reconcile, compare: seen?.compare },
    );
    this.#compare.clear();
    this.#d.restartAt(startAt);
    this.#needed = false;
    this.#d.onReconciled(summary);
  }

  /** Compares the till with the hub (every synced collection, or `only` these), with progress in the status. */
  async #reconcileWith(hub: Hub, only: readonly string[] | undefined): Promise<ReconcileSummary> {
    const { store, stamper } = this.#d;
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
          const outcome = await this.#d.apply(ops, { marker: `reconcile-${lane}`, captureGaveUp: true });
          await stamper.stamp(
            hub,
            ops.filter((op) => op.stamp),
          );
          return outcome;
        },
        enqueuePush: (changes) => this.#d.enqueuePush(changes),
        stampHub: (ops) => stamper.stamp(hub, ops),
        onConflicts: (conflicts) => this.#d.onConflicts(conflicts),
        progress: (compared, total) => this.#d.onReconcile({ compared, total }),
      });
    } finally {
      this.#d.onReconcile(null);
    }
  }
}
