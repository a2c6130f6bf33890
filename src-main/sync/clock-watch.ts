/**
 * Keeps the clock readings fresh and the till operator told when this till's
 * clock is far off head office's: reads this till's server clock every few
 * seconds (at every status refresh while it is not answering, to see it come
 * back; capture sees a jump of it sooner, in its changes' times) and the hub's
 * every half minute (or at once, on connecting),
 * keeps the hub reading for a restart while the hub is away, and words the
 * warning.
 */
import type { MongoClient } from 'mongodb';
import type { ClockOffsets } from './clock-offset.ts';
import type { Logger } from './log.ts';
import type { StatusTracker } from './status-tracker.ts';
import type { TillStore } from './till/store.ts';

const LOCAL_CLOCK_CHECK_EVERY_MS = 10_000;
const HUB_CLOCK_CHECK_EVERY_MS = 30_000;
const HUB_CLOCK_SAVE_EVERY_MS = 60_000;
/** A till clock this far from the hub's gets a warning in the status. */
const CLOCK_WARN_MS = 60_000;

export class ClockWatch {
  readonly #offsets: ClockOffsets;
  readonly #log: Logger;
  #localCheckedAt = 0;
  #hubCheckedAt = 0;
  #hubSavedAt = 0;
  #warned = false;

  constructor(offsets: ClockOffsets, log: Logger) {
    this.#offsets = offsets;
    this.#log = log;
  }

  /**
   * Reads the clocks when due (the till's at once with `localNow`, the hub's with `hubNow`) and updates
   * the warning. Returns whether the till's own server answered (undefined when it was not asked, the
   * error when it did not answer): the status tick's sign of it.
   */
  async check(
    local: MongoClient,
    store: TillStore,
    hub: MongoClient | undefined,
    tracker: StatusTracker,
    now: { local: boolean; hub: boolean },
  ): Promise<{ answered: true } | { error: unknown } | undefined> {
    const offsets = this.#offsets;
    let localAnswer: { answered: true } | { error: unknown } | undefined;
    if (now.local || Date.now() - this.#localCheckedAt >= LOCAL_CLOCK_CHECK_EVERY_MS) {
      try {
        await offsets.measureLocal(local);
        this.#localCheckedAt = Date.now();
        localAnswer = { answered: true };
      } catch (err) {
        localAnswer = { error: err };
      }
    }
    try {
      if (hub && (now.hub || Date.now() - this.#hubCheckedAt > HUB_CLOCK_CHECK_EVERY_MS)) {
        this.#hubCheckedAt = Date.now();
        await offsets.measureHub(hub);
        const reading = offsets.hubReading;
        if (reading !== undefined && Date.now() - this.#hubSavedAt > HUB_CLOCK_SAVE_EVERY_MS) {
          this.#hubSavedAt = Date.now();
          await store.saveHubClockOffset(reading);
        }
      }
    } catch (err) {
      this.#log.debug({ event: 'engine.clock-check-failed', error: String(err) }, 'could not compare clocks; will try again');
    }
    const off = -offsets.localMs; // this till's clock minus the hub's
    const was = this.#warned;
    this.#warned = Math.abs(off) >= CLOCK_WARN_MS;
    tracker.warn(
      'till-clock',
      this.#warned
        ? `This till's clock is ${describeDuration(Math.abs(off))} ${off > 0 ? 'fast' : 'slow'} compared with head office. ` +
            "Sync uses head office's time, so changes still sync in the right order; set the till's date and time when you can."
        : null,
      { code: 'till-clock-off', params: { offsetMs: Math.abs(off), direction: off > 0 ? 'fast' : 'slow' } },
    );
    if (this.#warned !== was) {
      this.#log.warn(
        { event: 'engine.till-clock', offsetMs: off },
        this.#warned ? "this till's clock is off; using head office's time" : "this till's clock agrees with head office again",
      );
    }
    return localAnswer;
  }
}

/** "10 minutes", "45 seconds", "2 hours": a clock difference in words. */
function describeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} minutes`;
  return `${Math.round(m / 60)} hours`;
}
