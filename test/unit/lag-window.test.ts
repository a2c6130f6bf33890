import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LagSeries, LagWindow, MetricsOptionError, RateMeter } from '../../src-main/sync/lag-window.ts';

const T0 = 1_700_000_000_000;

/** Deterministic PRNG (mulberry32) so the sampling tests are repeatable. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Nearest-rank percentile: the smallest value with at least q of the samples at or below it. */
function exactPercentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length - 1e-9) - 1)]!;
}

/** Where `value` falls in `values`, as a fraction of samples at or below it. */
function rankOf(values: number[], value: number): number {
  return values.filter((v) => v <= value).length / values.length;
}

describe('LagWindow', () => {
  it('reports nulls when nothing was recorded', () => {
    assert.deepEqual(new LagWindow().stats(T0), { lastMs: null, p50Ms: null, p95Ms: null });
  });

  it('reports the newest lag and nearest-rank p50/p95 over the last minute', () => {
    const w = new LagWindow();
    for (let i = 1; i <= 100; i++) w.record(i, T0 + i * 100);
    w.record(7, T0 + 50);
    assert.deepEqual(w.stats(T0 + 20_000), { lastMs: 100, p50Ms: 50, p95Ms: 95 });
  });

  it('takes "last" from the newest sample by time, not by arrival', () => {
    const w = new LagWindow();
    w.record(30, T0 + 2_000);
    w.record(99, T0 + 1_000);
    assert.equal(w.stats(T0 + 3_000).lastMs, 30);
  });

  it('forgets samples older than the window', () => {
    const w = new LagWindow();
    w.record(1_000, T0);
    w.record(10, T0 + 30_000);
    assert.deepEqual(w.stats(T0 + 60_500), { lastMs: 10, p50Ms: 10, p95Ms: 10 });
    assert.deepEqual(w.stats(T0 + 90_000), { lastMs: null, p50Ms: null, p95Ms: null });
    w.record(5, T0 + 200_000);
    w.record(500, T0 + 100_000); // already out of the window of the newest sample
    assert.deepEqual(w.stats(T0 + 200_000), { lastMs: 5, p50Ms: 5, p95Ms: 5 });
  });

  it('counts negative lag (a clock ahead of ours) as zero and ignores non-finite input', () => {
    const w = new LagWindow();
    w.record(-40, T0);
    w.record(Number.NaN, T0 + 1);
    w.record(10, Number.POSITIVE_INFINITY);
    assert.deepEqual(w.stats(T0 + 1), { lastMs: 0, p50Ms: 0, p95Ms: 0 });
  });

  it('is exact while the sample count is under the cap', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ lag: fc.integer({ min: 0, max: 5_000 }), at: fc.integer({ min: 0, max: 120_000 }) }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.integer({ min: 0, max: 120_000 }),
        (samples, nowOffset) => {
          const w = new LagWindow();
          for (const s of samples) w.record(s.lag, T0 + s.at);
          const newestAt = Math.max(...samples.map((s) => s.at));
          const now = Math.max(newestAt, nowOffset);
          const inWindow = samples.filter((s) => s.at > now - 60_000 && s.at <= now && s.at > newestAt - 60_000);
          const stats = w.stats(T0 + now);
          if (inWindow.length === 0) {
            assert.deepEqual(stats, { lastMs: null, p50Ms: null, p95Ms: null });
            return;
          }
          const lags = inWindow.map((s) => s.lag);
          assert.equal(stats.p50Ms, exactPercentile(lags, 0.5));
          assert.equal(stats.p95Ms, exactPercentile(lags, 0.95));
          const newestTime = Math.max(...inWindow.map((s) => s.at));
          const newestLast = inWindow.filter((s) => s.at === newestTime).at(-1)!;
          assert.equal(stats.lastMs, newestLast.lag);
        },
      ),
    );
  });

  it('keeps bounded memory and percentiles within a few percent at 2,000 samples a second', () => {
    const random = seeded(42);
    const w = new LagWindow({ random: seeded(7) });
    const lags: number[] = [];
    for (let i = 0; i < 120_000; i++) {
      // A long-tailed distribution, like real lag.
      const lag = Math.round(20 + 200 * -Math.log(1 - random()));
      lags.push(lag);
      w.record(lag, T0 + Math.floor(i / 2));
    }
    assert.ok(w.retained <= 10_000, `retained ${w.retained}`);
    const stats = w.stats(T0 + 59_999);
    for (const [q, got] of [
      [0.5, stats.p50Ms],
      [0.95, stats.p95Ms],
    ] as const) {
      assert.ok(got !== null);
      const exact = exactPercentile(lags, q);
      assert.ok(Math.abs(rankOf(lags, got) - q) < 0.02, `p${q * 100} rank ${rankOf(lags, got)}`);
      assert.ok(Math.abs(got - exact) / exact < 0.05, `p${q * 100} ${got} vs exact ${exact}`);
    }
    assert.equal(stats.lastMs, lags.at(-1));
  });

  it('weights each second by how many samples it really had', () => {
    // 30 busy seconds of fast syncs, then 30 quiet seconds of slow ones: the quiet
    // seconds are 0.1% of the samples and must not move the percentiles.
    const w = new LagWindow({ random: seeded(1) });
    for (let s = 0; s < 30; s++) for (let i = 0; i < 10_000; i++) w.record(100, T0 + s * 1_000 + (i % 1_000));
    for (let s = 30; s < 60; s++) for (let i = 0; i < 10; i++) w.record(5_000, T0 + s * 1_000 + i);
    assert.deepEqual(w.stats(T0 + 59_999), { lastMs: 5_000, p50Ms: 100, p95Ms: 100 });
  });

  it('stays bounded over a long run', () => {
    const w = new LagWindow({ random: seeded(3) });
    for (let t = 0; t < 300_000; t++) w.record(t % 97, T0 + t);
    assert.ok(w.retained <= 10_000, `retained ${w.retained}`);
  });

  it('rejects a window that is not positive', () => {
    assert.throws(() => new LagWindow({ windowMs: 0 }), MetricsOptionError);
  });
});

describe('LagSeries', () => {
  it('returns exactly `seconds` points, one per second, ending at the second of now', () => {
    const series = new LagSeries();
    const now = T0 + 12_345;
    const points = series.points(now);
    assert.equal(points.length, 900);
    assert.equal(points.at(-1)!.t, T0 + 12_000);
    assert.equal(points[0]!.t, T0 + 12_000 - 899_000);
    for (let i = 1; i < points.length; i++) assert.equal(points[i]!.t - points[i - 1]!.t, 1_000);
    assert.ok(points.every((p) => p.pushMs === null && p.pullMs === null));
  });

  it('keeps the worst lag of each second, per direction', () => {
    const series = new LagSeries({ seconds: 5 });
    series.record('push', 40, T0 + 1_100);
    series.record('push', 90, T0 + 1_900);
    series.record('push', 10, T0 + 1_500);
    series.record('pull', 7, T0 + 3_000);
    series.record('pull', -5, T0 + 4_000);
    assert.deepEqual(series.points(T0 + 4_999), [
      { t: T0, pushMs: null, pullMs: null },
      { t: T0 + 1_000, pushMs: 90, pullMs: null },
      { t: T0 + 2_000, pushMs: null, pullMs: null },
      { t: T0 + 3_000, pushMs: null, pullMs: 7 },
      { t: T0 + 4_000, pushMs: null, pullMs: 0 },
    ]);
  });

  it('drops seconds that scrolled out, and never shows a stale slot as current', () => {
    const series = new LagSeries({ seconds: 3 });
    series.record('push', 50, T0);
    assert.equal(series.points(T0 + 2_000)[0]!.pushMs, 50);
    assert.deepEqual(
      series.points(T0 + 3_000).map((p) => p.pushMs),
      [null, null, null],
    );
    series.record('push', 60, T0 + 3_000); // same ring slot as T0
    series.record('push', 999, T0); // too old for the ring now: ignored
    assert.deepEqual(
      series.points(T0 + 3_000).map((p) => p.pushMs),
      [null, null, 60],
    );
  });

  it('matches a per-second max model', () => {
    const recordArb = fc.record({
      direction: fc.constantFrom('push' as const, 'pull' as const),
      lag: fc.integer({ min: 0, max: 10_000 }),
      at: fc.integer({ min: 0, max: 40_000 }),
    });
    fc.assert(
      fc.property(fc.array(recordArb, { maxLength: 200 }), fc.integer({ min: 0, max: 20_000 }), (records, extra) => {
        const series = new LagSeries({ seconds: 30 });
        for (const r of records) series.record(r.direction, r.lag, T0 + r.at);
        const now = T0 + Math.max(0, ...records.map((r) => r.at)) + extra;
        for (const p of series.points(now)) {
          const inSecond = records.filter((r) => Math.floor((T0 + r.at) / 1_000) * 1_000 === p.t);
          const max = (d: 'push' | 'pull') => {
            const lags = inSecond.filter((r) => r.direction === d).map((r) => r.lag);
            return lags.length === 0 ? null : Math.max(...lags);
          };
          assert.equal(p.pushMs, max('push'));
          assert.equal(p.pullMs, max('pull'));
        }
      }),
    );
  });
});

describe('RateMeter', () => {
  it('is zero with nothing counted', () => {
    assert.equal(new RateMeter().perSecond(T0), 0);
  });

  it('averages over the last ten seconds', () => {
    const rate = new RateMeter();
    rate.add(30, T0 + 1_000);
    rate.add(20, T0 + 9_000);
    assert.equal(rate.perSecond(T0 + 9_500), 5);
    assert.equal(rate.perSecond(T0 + 10_900), 5);
    assert.equal(rate.perSecond(T0 + 11_100), 2);
    assert.equal(rate.perSecond(T0 + 60_000), 0);
  });

  it('ignores zero, negative and non-finite counts', () => {
    const rate = new RateMeter();
    rate.add(-5, T0);
    rate.add(Number.NaN, T0);
    rate.add(0, T0);
    assert.equal(rate.perSecond(T0), 0);
  });

  it('counts what is in the window, exact to one bucket (1%) at the edge', () => {
    const eventArb = fc.record({ count: fc.integer({ min: 1, max: 50 }), at: fc.integer({ min: 0, max: 30_000 }) });
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 200 }), fc.integer({ min: 0, max: 15_000 }), (events, extra) => {
        const rate = new RateMeter();
        for (const e of events) rate.add(e.count, T0 + e.at);
        const now = Math.max(0, ...events.map((e) => e.at)) + extra;
        const sum = (from: number) => events.filter((e) => e.at > from && e.at <= now).reduce((n, e) => n + e.count, 0);
        const got = rate.perSecond(T0 + now) * 10;
        assert.ok(Math.abs(got - Math.round(got)) < 1e-9);
        assert.ok(got <= sum(now - 10_000) && got >= sum(now - 10_000 + 100), `${got} outside the window bounds`);
      }),
    );
  });
});
