/**
 * The engine's slow work, off the status tick and the sync path:
 *
 * - the counts the status shows (outbox depth, conflicts, changes set aside)
 *   move with the engine's own events; now and then, and at once when asked
 *   (after a staff action, or changes set aside), a read corrects them, and
 *   measures the oplog's window, which changes slowly;
 * - every few minutes, put off while sync is busy: the till's history kept
 *   within its rules (till/retention.ts), old deletes forgotten on the hub,
 *   and the disk checked for room for the days offline the product promises.
 */
import { oplogHeadroomHours } from '../oplog-headroom.ts';
import { TillHistory } from '../till/retention.ts';
import type { EngineView } from './engine-view.ts';
import type { Parts } from './parts.ts';
import { checkDisk, pruneTombstones, readCounts } from './status-reads.ts';

/** How often the counts are read from the database when no event asked for it. */
const CORRECT_EVERY_MS = 60_000;
/** Housekeeping that finds sync busy tries again this much later. */
const BUSY_RETRY_MS = 60_000;

export interface HousekeepingDeps extends EngineView {
  /** The running parts; undefined while they are being rebuilt or before the start. */
  parts(): Parts | undefined;
  /** Sync is busy (capture behind, a batch on its way, parts being rebuilt): housekeeping waits. */
  busy(): boolean;
}

export class Housekeeping {
  readonly #d: HousekeepingDeps;
  #correctedAt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: HousekeepingDeps) {
    this.#d = deps;
  }

  /** Reads how far back the history goes, and schedules the first round soon. */
  async start(): Promise<void> {
    await this.#updateHistoryReach();
    this.#schedule(Math.min(this.#d.config.housekeepingIntervalMs, BUSY_RETRY_MS));
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Corrects the counts from the database when `now` says so, an event asked for it, or it is due. */
  async correctIfDue(now = false): Promise<void> {
    const tracker = this.#d.tracker();
    if (!tracker) return;
    if (tracker.takeCorrection() || now || Date.now() - this.#correctedAt >= CORRECT_EVERY_MS) await this.#correct();
  }

  async #correct(): Promise<void> {
    const parts = this.#d.parts();
    const tracker = this.#d.tracker();
    if (!parts || !tracker) return;
    this.#correctedAt = Date.now();
    try {
      await readCounts(parts, tracker);
      tracker.oplogHeadroom(await oplogHeadroomHours(parts.store.client));
      this.#d.reports.localAnswered();
    } catch (err) {
      this.#d.reports.error(err, 'local', 'local');
    }
  }

  #schedule(delayMs: number): void {
    if (this.#d.stopping()) return;
    this.#timer = setTimeout(() => void this.#round(), delayMs);
    this.#timer.unref();
  }

  async #round(): Promise<void> {
    const { config, log } = this.#d;
    const parts = this.#d.parts();
    const tracker = this.#d.tracker();
    if (this.#d.stopping()) return;
    if (!parts || !tracker || this.#d.busy()) {
      this.#schedule(Math.min(config.housekeepingIntervalMs, BUSY_RETRY_MS));
      return;
    }
    try {
      const pruned = await new TillHistory(parts.store, config).prune();
      if (pruned.conflicts + pruned.deleteTraces > 0)
        log.info(
          { event: 'engine.history-pruned', conflicts: pruned.conflicts, deleteTraces: pruned.deleteTraces },
          'forgot history older than the retention rules',
        );
      await pruneTombstones(parts, config.tombstoneRetentionDays, log);
      await this.#updateHistoryReach();
      await this.#correct();
      await checkDisk(parts, tracker, config.engineDatabase, log);
    } catch (err) {
      log.warn({ event: 'engine.housekeeping-failed', error: String(err) }, 'housekeeping failed; will try again later');
    }
    this.#schedule(config.housekeepingIntervalMs);
  }

  /** How far back this till's conflict history goes, for the dashboard. */
  async #updateHistoryReach(): Promise<void> {
    const parts = this.#d.parts();
    const tracker = this.#d.tracker();
    if (!parts || !tracker) return;
    const { config } = this.#d;
    const reach = await new TillHistory(parts.store, config).reach();
    tracker.history({ ...reach, keepDays: config.conflictRetentionDays, keepEntries: config.conflictRetentionEntries });
  }
}
