/**
 * Hub time. The hub is the one clock every till shares, so versions are made
 * in hub time: a till whose clock runs fast (or slow) still stamps its changes
 * with the time head office sees, and does not win every later conflict.
 *
 * Offsets come from `hello`'s `localTime` on each server, read against this
 * process's clock at the middle of the round trip. The median of the last few
 * readings resists a slow round trip. Offsets under a second are left alone:
 * clocks kept by NTP agree far better than that, and the readings are noisier.
 *
 * A till's server clock that jumps (someone sets the date) shows first in its
 * change events' wallTime: capture calls `localMoved` for an event far from
 * where the local clock should be, and measures the local server again before
 * it stamps anything. A jump of the whole machine's clock is only seen at the
 * next reading against the hub (every few seconds); versions made in between
 * stay ahead and wait at the other tills as clock drift until time catches up.
 */
import type { MongoClient } from 'mongodb';

/** Offsets smaller than this are treated as zero. */
const IGNORED_OFFSET_MS = 1_000;
const READINGS_KEPT = 5;

export class ClockOffsets {
  /** Server clock minus this process's clock, recent readings. */
  readonly #local: number[] = [];
  readonly #hub: number[] = [];

  /**
   * Hub clock minus this till's server clock: add to a local change's
   * wallTime. Before the hub has ever been read, this process's clock stands
   * in for it (on a till the two are one machine's clock, so that is 0).
   */
  get localMs(): number {
    const hub = this.#hub.length > 0 ? median(this.#hub) : 0;
    return significant(hub - median(this.#local.length > 0 ? this.#local : [0]));
  }

  /** Head office's time now, as well as this till knows it. */
  hubNow(now = Date.now()): number {
    return now + this.processMs;
  }

  /** Hub clock minus this process's clock: add to Date.now(). */
  get processMs(): number {
    return this.#hub.length === 0 ? 0 : significant(median(this.#hub));
  }

  /** Where this till's server clock should read now, by this process's clock. */
  expectedLocalNow(now = Date.now()): number {
    return now + (this.#local.length > 0 ? median(this.#local) : 0);
  }

  async measureLocal(client: MongoClient): Promise<void> {
    push(this.#local, await serverMinusProcess(client));
  }

  async measureHub(client: MongoClient): Promise<void> {
    push(this.#hub, await serverMinusProcess(client));
  }

  /** The hub reading to keep across a restart (hub clock minus this process's), if any. */
  get hubReading(): number | undefined {
    return this.#hub.length === 0 ? undefined : Math.round(median(this.#hub));
  }

  /** Starts from a reading kept by an earlier run, until the hub can be asked. */
  seedHub(ms: number): void {
    if (this.#hub.length === 0 && Number.isFinite(ms)) this.#hub.push(ms);
  }

  /** The local server's clock moved: forget its old readings and take a new one. */
  async localMoved(client: MongoClient): Promise<void> {
    this.#local.length = 0;
    await this.measureLocal(client);
  }
}

async function serverMinusProcess(client: MongoClient): Promise<number> {
  const before = Date.now();
  const reply = await client.db('admin').command({ hello: 1 });
  const after = Date.now();
  const serverTime = reply.localTime instanceof Date ? reply.localTime.getTime() : Number.NaN;
  if (!Number.isFinite(serverTime)) throw new Error('the server did not report its time (hello.localTime)');
  return serverTime - (before + after) / 2;
}

function push(readings: number[], value: number): void {
  readings.push(value);
  if (readings.length > READINGS_KEPT) readings.shift();
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function significant(ms: number): number {
  return Math.abs(ms) < IGNORED_OFFSET_MS ? 0 : Math.round(ms);
}
