/**
 * Memory back after a burst. A till that comes back online, or a menu
 * import at head office, moves tens of thousands of changes in seconds; V8
 * grows its heap for them and keeps it once they are gone, because a process
 * that then does nothing gives its collector no reason to run: the agent sat
 * at 190-210 MB for the whole minute after a 30,000-change burst, against 69
 * MB at rest (`npm run bench:memory -- --burst`), on a till that shares 4 GB
 * with the POS software.
 *
 * So the process that runs the engine (the agent, the app) hands each status
 * the engine reports to a `MemoryRelease`. Once sync is idle again (synced,
 * nothing waiting to go, no change either way for ten seconds and two more)
 * with the heap well above what it
 * was after the last release, it runs one full collection, which shrinks the
 * heap and gives the pages it held back. It never runs while changes move,
 * and at rest it sets no timer.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { SyncStatus } from '../../src-shared/status.ts';
import type { Logger } from './log.ts';

/** Growth of the heap (V8's total, bytes) past the last release that counts as a burst's. */
export const BURST_GROWTH_BYTES = 32 * 1024 * 1024;
/** How long sync must stay idle (beyond the ten seconds its rates look back) before the release. */
export const QUIET_MS = 2_000;

type Collect = () => void;

let collector: Collect | null | undefined;

/**
 * V8's collector, reached without starting the process with `--expose-gc`: the flag set now exposes `gc` in
 * contexts created after it (the way Jest reaches it). Null where that is not possible.
 */
function collect(): Collect | null {
  if (collector !== undefined) return collector;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    collector = typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    collector = null;
  }
  return collector;
}

/**
 * One full collection, at once (`gc()` with no options: with options, Node 20's V8 runs it later, or not at
 * all); the pages it frees go back to the system moments after.
 */
export function releaseMemory(): boolean {
  const gc = collect();
  if (!gc) return false;
  gc();
  return true;
}

export interface MemoryReleaseOptions {
  log?: Logger;
  /** The heap now, in bytes (V8's total). */
  heapBytes?: () => number;
  release?: () => boolean;
  growthBytes?: number;
  quietMs?: number;
}

export class MemoryRelease {
  readonly #log: Logger | undefined;
  readonly #heapBytes: () => number;
  readonly #release: () => boolean;
  readonly #growth: number;
  readonly #quietMs: number;
  /** The heap after the last release (or when this began). */
  #baseline: number;
  #idle = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MemoryReleaseOptions = {}) {
    this.#log = options.log;
    this.#heapBytes = options.heapBytes ?? (() => getHeapStatistics().total_heap_size);
    this.#release = options.release ?? releaseMemory;
    this.#growth = options.growthBytes ?? BURST_GROWTH_BYTES;
    this.#quietMs = options.quietMs ?? QUIET_MS;
    this.#baseline = this.#heapBytes();
  }

  /** Each status the engine reports (every second or so). */
  onStatus(status: SyncStatus): void {
    // Idle: nothing waits to go, no change went either way in the last ten seconds, no comparison runs.
    this.#idle =
      status.state === 'synced' &&
      status.outbox.depth === 0 &&
      status.rates.pushPerSec === 0 &&
      status.rates.pullPerSec === 0 &&
      !status.reconciliation;
    if (!this.#idle) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#timer || this.#heapBytes() < this.#baseline + this.#growth) return;
    this.#timer = setTimeout(() => this.#fire(), this.#quietMs);
    this.#timer.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    if (!this.#idle) return;
    const before = this.#heapBytes();
    const started = performance.now();
    if (!this.#release()) return;
    this.#baseline = this.#heapBytes();
    this.#log?.info(
      {
        event: 'memory.released',
        heapMbBefore: Math.round(before / 1048576),
        heapMbAfter: Math.round(this.#baseline / 1048576),
        ms: Math.round(performance.now() - started),
      },
      'sync is idle again after a burst: memory given back',
    );
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
