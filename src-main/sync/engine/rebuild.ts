/**
 * Rebuilding an engine's parts on a new connection to its till's database,
 * when the old one cannot go on; whatever was in flight is redone from the
 * checkpoints, as after a restart. Two causes:
 *
 * - the lease was lost (it lapsed while this engine could not renew it, and
 *   another engine took over): this engine stops syncing at once, waits to
 *   take it back, and starts again;
 * - the till's database has not answered for a while, but a fresh connection
 *   does (the driver can stay stuck on dead connections after the server
 *   dropped them).
 */
import type { StatusTracker } from '../status-tracker.ts';
import type { TillStore } from '../till/store.ts';
import type { EngineView } from './engine-view.ts';
import type { LeaseKeeper } from './lease-keeper.ts';
import { closeParts, connectLocal, openParts, type Parts, type PartsHooks } from './parts.ts';
import { freshConnectionAnswers } from './status-reads.ts';

/** The till's database unreachable this long, while a fresh connection answers: the parts reconnect. */
export const LOCAL_RECONNECT_AFTER_MS = 15_000;

export interface RebuildDeps extends EngineView {
  lease(): LeaseKeeper | undefined;
  /** Hands the engine its parts: none while they are rebuilt, then the new ones. */
  setParts(parts: Parts | undefined): void;
  hooks(tracker: StatusTracker): PartsHooks;
  /** Sync is enabled: the new parts' hub link connects. */
  enabled(): boolean;
  backoff(): (attempt: number) => Promise<void>;
  /** The status changed (while waiting for the lease another engine holds). */
  statusChanged(): void;
}

export class Rebuilder {
  readonly #d: RebuildDeps;
  /** Set while the parts are being rebuilt (lease lost and taken back, or a new connection to the till). */
  #rebuilding: Promise<void> | undefined;

  constructor(deps: RebuildDeps) {
    this.#d = deps;
  }

  /** The rebuild under way, if any (settles once the new parts are up, or the engine stops). */
  get underway(): Promise<void> | undefined {
    return this.#rebuilding;
  }

  /**
   * Keeps the lease. Lost (it lapsed while this engine could not renew it, and another engine took
   * over): this engine stops syncing at once, waits to take it back, and starts again.
   */
  async renewLease(): Promise<void> {
    const run = this.#d.parts();
    const lease = this.#d.lease();
    if (!run || !lease || this.#d.stopping() || this.#rebuilding) return;
    if ((await lease.renew(run.store)) !== 'lost') return;
    this.#d.log.error({ event: 'engine.lease-lost' }, 'another TillSync took over this till; this one stops syncing and waits');
    await this.#rebuild('another TillSync had taken over this till', (store) =>
      lease.take(store, this.#d.tracker() as StatusTracker, () => this.#d.statusChanged()),
    );
  }

  /** The till's database has not answered for a while: if a fresh connection does, the parts move to one. */
  async reconnectLocalIfStuck(): Promise<void> {
    const { reports } = this.#d;
    const since = reports.localFailingSince;
    if (since === undefined || Date.now() - since < LOCAL_RECONNECT_AFTER_MS || this.#rebuilding || this.#d.stopping()) return;
    if (!(await freshConnectionAnswers(this.#d.config.local.uri))) {
      reports.localFailingSince = Date.now(); // really down: try again a while later
      return;
    }
    await this.#rebuild('the old connection stayed broken while a new one answers');
  }

  /**
   * Rebuilds the parts on a new connection to the till's database, once the old one is closed:
   * `reason` says why. Whatever was in flight is redone from the checkpoints, as after a restart.
   */
  async #rebuild(reason: string, before?: (store: TillStore) => Promise<boolean>): Promise<void> {
    const d = this.#d;
    const old = d.parts();
    const tracker = d.tracker();
    if (!old || !tracker || this.#rebuilding || d.stopping()) return;
    this.#rebuilding = (async () => {
      d.log.info({ event: 'engine.rebuild', reason }, `reconnecting to this till's database: ${reason}`);
      d.setParts(undefined);
      await closeParts(old, true).catch(() => undefined);
      for (let attempt = 0; !d.stopping(); attempt += 1) {
        try {
          const { local, store } = await connectLocal(d.config);
          if ((before && !(await before(store))) || d.stopping()) {
            await local.close();
            return;
          }
          const parts = await openParts(local, store, d.hooks(tracker));
          d.setParts(parts);
          d.reports.localFailingSince = undefined;
          if (d.enabled()) parts.link.connect();
          return;
        } catch (err) {
          d.reports.error(err, 'local', 'local');
          await d.backoff()(attempt);
        }
      }
    })().finally(() => (this.#rebuilding = undefined));
    await this.#rebuilding;
  }
}
