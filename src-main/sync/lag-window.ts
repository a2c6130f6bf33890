/**
 * Lag and throughput metrics for the status the engine reports: percentiles
 * over the last minute, a per-second series for the 15-minute chart, and a
 * changes-per-second rate. Pure and bounded: callers pass the time of each
 * sample and of each read, and memory does not grow with the write rate.
 */

import type { LagPoint, LagStats, SyncDirection } from '../../src-shared/status.ts';

const SECOND_MS = 1_000;

export interface LagWindowOptions {
  /** How far back the percentiles look. Default one minute. */
  windowMs?: number;
  /** Samples kept per window before sampling kicks in. Default 10,000. */
  maxSamples?: number;
  /** Randomness for the reservoir; injectable so tests are repeatable. Default Math.random. */
  random?: () => number;
}

interface Sample {
  lagMs: number;
  at: number;
}

/** One second of samples: all of them, or a uniform reservoir once there are too many. */
interface SecondBucket {
  second: number;
  /** How many samples arrived in this second (may exceed samples.length). */
  seen: number;
  samples: Sample[];
}

/**
 * The newest lag and its p50/p95 over a sliding window. Samples are kept in
 * per-second buckets; a bucket holding more than its share of `maxSamples`
 * keeps a uniform reservoir, and each kept sample then stands for
 * `seen / kept` samples, so percentiles stay within a few percent at any rate.
 */
export class LagWindow {
  private readonly windowMs: number;
  private readonly perSecondCap: number;
  private readonly random: () => number;
  private readonly buckets = new Map<number, SecondBucket>();
  private newest: Sample | null = null;
  private newestAt = Number.NEGATIVE_INFINITY;

  constructor(options: LagWindowOptions = {}) {
    this.windowMs = positive(options.windowMs ?? 60_000, 'windowMs');
    const maxSamples = positive(options.maxSamples ?? 10_000, 'maxSamples');
    // A window of N seconds touches at most N + 1 whole seconds, so this keeps the total under maxSamples.
    this.perSecondCap = Math.max(1, Math.floor(maxSamples / (Math.ceil(this.windowMs / SECOND_MS) + 1)));
    this.random = options.random ?? Math.random;
  }

  /**
   * Record one lag sample observed at `at` (epoch ms). Negative lag (the other
   * side's clock runs ahead of ours) counts as zero; non-finite values are
   * ignored rather than poisoning the percentiles.
   */
  record(lagMs: number, at: number): void {
    if (!Number.isFinite(lagMs) || !Number.isFinite(at)) return;
    const sample = { lagMs: Math.max(0, lagMs), at };
    if (at > this.newestAt) {
      this.newestAt = at;
      this.prune(at);
    }
    if (at <= this.newestAt - this.windowMs) return;
    if (this.newest === null || at >= this.newest.at) this.newest = sample;

    const second = Math.floor(at / SECOND_MS);
    let bucket = this.buckets.get(second);
    if (bucket === undefined) {
      bucket = { second, seen: 0, samples: [] };
      this.buckets.set(second, bucket);
    }
    bucket.seen += 1;
    if (bucket.samples.length < this.perSecondCap) {
      bucket.samples.push(sample);
      return;
    }
    // Reservoir (algorithm R): every sample of this second is kept with equal probability.
    const slot = Math.floor(this.random() * bucket.seen);
    if (slot < this.perSecondCap) bucket.samples[slot] = sample;
  }

  /** Newest sample, p50 and p95 (nearest rank) over (now - windowMs, now]; nulls when nothing is in the window. */
  stats(now: number): LagStats {
    const from = now - this.windowMs;
    const weighted: Array<{ lagMs: number; weight: number }> = [];
    let total = 0;
    for (const bucket of this.buckets.values()) {
      const weight = bucket.seen / bucket.samples.length;
      for (const s of bucket.samples) {
        if (s.at <= from || s.at > now) continue;
        weighted.push({ lagMs: s.lagMs, weight });
        total += weight;
      }
    }
    if (weighted.length === 0) return { lastMs: null, p50Ms: null, p95Ms: null };
    weighted.sort((a, b) => a.lagMs - b.lagMs);
    const newest = this.newest !== null && this.newest.at > from && this.newest.at <= now ? this.newest : null;
    return {
      lastMs: newest?.lagMs ?? latestIn(this.buckets, from, now),
      p50Ms: percentile(weighted, total, 0.5),
      p95Ms: percentile(weighted, total, 0.95),
    };
  }

  /** How many samples are held in memory (bounded by about maxSamples, whatever the rate). */
  get retained(): number {
    let n = 0;
    for (const bucket of this.buckets.values()) n += bucket.samples.length;
    return n;
  }

  /** Drop whole seconds that can no longer fall inside any window ending at or after `newestAt`. */
  private prune(newestAt: number): void {
    const oldestKept = Math.floor((newestAt - this.windowMs) / SECOND_MS);
    for (const second of this.buckets.keys()) {
      if (second < oldestKept) this.buckets.delete(second);
    }
  }
}

/** The smallest value whose cumulative weight reaches q of the total (nearest-rank percentile). */
function percentile(sorted: Array<{ lagMs: number; weight: number }>, total: number, q: number): number {
  const target = q * total;
  let cumulative = 0;
  for (const s of sorted) {
    cumulative += s.weight;
    // A small epsilon so float sums of weights do not skip the exact rank.
    if (cumulative >= target - 1e-9) return s.lagMs;
  }
  return sorted[sorted.length - 1]!.lagMs;
}

/** Fallback for "last" when stats is asked about a time before the newest sample. */
function latestIn(buckets: Map<number, SecondBucket>, from: number, now: number): number | null {
  let best: Sample | null = null;
  for (const bucket of buckets.values()) {
    for (const s of bucket.samples) {
      if (s.at > from && s.at <= now && (best === null || s.at >= best.at)) best = s;
    }
  }
  return best?.lagMs ?? null;
}

export interface LagSeriesOptions {
  /** How many one-second points the series holds. Default 900 (15 minutes). */
  seconds?: number;
}

/**
 * The per-second chart of push and pull lag: the worst lag seen in each
 * second, because a chart of averages hides the spikes staff ask about.
 * A ring of `seconds` slots, so memory is fixed.
 */
export class LagSeries {
  private readonly seconds: number;
  private readonly slotSecond: number[];
  private readonly push: Array<number | null>;
  private readonly pull: Array<number | null>;

  constructor(options: LagSeriesOptions = {}) {
    this.seconds = positiveInteger(options.seconds ?? 900, 'seconds');
    this.slotSecond = new Array<number>(this.seconds).fill(Number.NaN);
    this.push = new Array<number | null>(this.seconds).fill(null);
    this.pull = new Array<number | null>(this.seconds).fill(null);
  }

  /** Record a lag sample; negative lag counts as zero, non-finite input is ignored. */
  record(direction: SyncDirection, lagMs: number, at: number): void {
    if (!Number.isFinite(lagMs) || !Number.isFinite(at)) return;
    const second = Math.floor(at / SECOND_MS);
    const slot = this.slotOf(second);
    const held = this.slotSecond[slot]!;
    if (held !== second) {
      // A slot already holding a newer second means this sample is too old for the ring.
      if (held > second) return;
      this.slotSecond[slot] = second;
      this.push[slot] = null;
      this.pull[slot] = null;
    }
    const values = direction === 'push' ? this.push : this.pull;
    const lag = Math.max(0, lagMs);
    const current = values[slot] ?? null;
    values[slot] = current === null ? lag : Math.max(current, lag);
  }

  /** Exactly `seconds` points, oldest first, the last one for the second containing `now`. */
  points(now: number): LagPoint[] {
    const nowSecond = Math.floor(now / SECOND_MS);
    const out: LagPoint[] = [];
    for (let second = nowSecond - this.seconds + 1; second <= nowSecond; second++) {
      const slot = this.slotOf(second);
      const here = this.slotSecond[slot] === second;
      out.push({
        t: second * SECOND_MS,
        pushMs: here ? (this.push[slot] ?? null) : null,
        pullMs: here ? (this.pull[slot] ?? null) : null,
      });
    }
    return out;
  }

  private slotOf(second: number): number {
    return ((second % this.seconds) + this.seconds) % this.seconds;
  }
}

export interface RateMeterOptions {
  /** How far back the rate looks. Default ten seconds. */
  windowMs?: number;
}

const RATE_BUCKETS = 100;

/**
 * Changes per second over a sliding window, counted in 100 fixed buckets
 * (100 ms each for the default window): constant memory at any rate, and the
 * window edge is exact to within one bucket (1%).
 */
export class RateMeter {
  private readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly bucketIndex = new Array<number>(RATE_BUCKETS).fill(Number.NaN);
  private readonly counts = new Array<number>(RATE_BUCKETS).fill(0);

  constructor(options: RateMeterOptions = {}) {
    this.windowMs = positive(options.windowMs ?? 10_000, 'windowMs');
    this.bucketMs = this.windowMs / RATE_BUCKETS;
  }

  /** Count `count` changes at `at` (epoch ms); non-positive or non-finite counts are ignored. */
  add(count: number, at: number): void {
    if (!Number.isFinite(count) || count <= 0 || !Number.isFinite(at)) return;
    const index = Math.floor(at / this.bucketMs);
    const slot = ((index % RATE_BUCKETS) + RATE_BUCKETS) % RATE_BUCKETS;
    const held = this.bucketIndex[slot]!;
    if (held !== index) {
      if (held > index) return;
      this.bucketIndex[slot] = index;
      this.counts[slot] = 0;
    }
    this.counts[slot] = this.counts[slot]! + count;
  }

  /** Changes per second over the window ending at `now`. */
  perSecond(now: number): number {
    const newest = Math.floor(now / this.bucketMs);
    const oldest = newest - RATE_BUCKETS + 1;
    let total = 0;
    for (let slot = 0; slot < RATE_BUCKETS; slot++) {
      const index = this.bucketIndex[slot]!;
      if (index >= oldest && index <= newest) total += this.counts[slot]!;
    }
    return total / (this.windowMs / SECOND_MS);
  }
}

/** A metrics option that makes no sense (zero or negative window). */
export class MetricsOptionError extends Error {
  override readonly name = 'MetricsOptionError';
  readonly reason = 'metrics-option' as const;

  constructor(
    readonly option: string,
    readonly value: unknown,
    expected: string,
  ) {
    super(`Invalid ${option}: got ${String(value)}, expected ${expected}`);
  }
}

function positive(value: number, option: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new MetricsOptionError(option, value, 'a positive number');
  return value;
}

function positiveInteger(value: number, option: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new MetricsOptionError(option, value, 'a positive integer');
  return value;
}
