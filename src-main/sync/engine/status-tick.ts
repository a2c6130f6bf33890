/**
 * The engine's status tick, every `statusIntervalMs` and at once when a part
 * or a staff action asks. No database reads of its own: the counts move with
 * the engine's events, and engine/housekeeping.ts corrects them now and then,
 * or at once with `correct`. Each tick: versions refused as too far ahead
 * compared again when due, the clock readings (also the sign that the till's
 * database answers), a stuck hub client or till connection replaced, and the
 * report — the status, and the state when it changed (logged, emitted, and
 * told to the fleet heartbeat).
 */
import type { SyncState, SyncStatus } from '../../../src-shared/status.ts';
import type { ClockWatch } from '../clock-watch.ts';
import type { Heartbeat } from '../heartbeat.ts';
import type { EngineView } from './engine-view.ts';
import type { Housekeeping } from './housekeeping.ts';
import type { Rebuilder } from './rebuild.ts';

/** At most how often versions refused as too far ahead are compared again (a full reconciliation). */
const AHEAD_RECHECK_MAX_MS = 60_000;

export interface StatusTickDeps extends EngineView {
  housekeeping: Housekeeping;
  clockWatch: ClockWatch;
  rebuilder: Rebuilder;
  heartbeat(): Heartbeat | undefined;
  /** The engine's status now. */
  status(): SyncStatus;
  /** Emits the status (every tick) and the state (when it changed). */
  emitStatus(status: SyncStatus): void;
  emitState(state: SyncState, previous: SyncState): void;
}

export class StatusTick {
  readonly #d: StatusTickDeps;
  #state: SyncState = 'starting';
  #lastStatus: SyncStatus | undefined;
  #aheadCheckedAt = 0;

  constructor(deps: StatusTickDeps) {
    this.#d = deps;
  }

  /** The status the last tick reported. */
  get lastStatus(): SyncStatus | undefined {
    return this.#lastStatus;
  }

  async run(correct = false): Promise<void> {
    const d = this.#d;
    const run = d.parts();
    const tracker = d.tracker();
    if (!run || !tracker) return;
    const { store, link } = run;
    await d.housekeeping.correctIfDue(correct);
    // Versions refused as too far ahead are compared again now and then, so none stays set aside for good.
    const recheckMs = Math.min(AHEAD_RECHECK_MAX_MS, Math.max(2_000, d.config.maxClockDriftMs));
    if (d.reports.aheadSince !== undefined && Date.now() - this.#aheadCheckedAt > recheckMs && !d.status().reconciliation) {
      this.#aheadCheckedAt = Date.now();
      run.pull.requestReconcile();
    }
    // The till's clock reading is also the tick's sign that its database answers: every few seconds at
    // rest, at every tick while it does not, so the status shows it back at once.
    const failing = d.reports.localFailingSince !== undefined || tracker.blocked('local');
    const local = await d.clockWatch.check(run.local, store, link.hub?.client, tracker, { local: failing, hub: false });
    if (local && 'answered' in local) d.reports.localAnswered();
    else if (local) d.reports.error(local.error, 'local', 'local');
    if (!d.stopping()) await link.renewIfStuck(tracker.unreachableSince());
    await d.rebuilder.reconnectLocalIfStuck();
    const status = d.status();
    this.#lastStatus = status;
    if (status.state !== this.#state) {
      const previous = this.#state;
      this.#state = status.state;
      d.log.info({ event: 'engine.state', from: previous, to: status.state, outbox: status.outbox.depth }, `sync is ${status.state}`);
      d.emitState(status.state, previous);
      d.heartbeat()?.stateChanged(status.state);
    }
    d.emitStatus(status);
  }
}
