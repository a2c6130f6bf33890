import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Backoff, BackoffOptionError } from '../../src-main/sync/backoff.ts';

/** random() that always returns just under 1, so next() returns (almost) the ceiling. */
const top = () => 0.999_999_999;

describe('Backoff', () => {
  it('doubles the ceiling from initialMs up to the cap, and stays there', () => {
    const b = new Backoff({ random: top });
    const delays = Array.from({ length: 12 }, () => b.next());
    assert.deepEqual(
      delays.map((d) => d + 1),
      [500, 1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000, 60_000, 60_000],
    );
    assert.equal(b.attempt, 12);
  });

  it('never exceeds maxMs and stays within [0, ceiling) for any options and randomness', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 200 }),
        (initialMs, extra, randoms) => {
          let i = 0;
          const b = new Backoff({ initialMs, maxMs: initialMs + extra, random: () => randoms[i++ % randoms.length]! });
          for (let n = 0; n < randoms.length; n++) {
            const ceiling = Math.min(initialMs + extra, initialMs * 2 ** n);
            assert.equal(b.ceilingMs, ceiling);
            const delay = b.next();
            assert.ok(Number.isInteger(delay) && delay >= 0 && delay < ceiling, `${delay} for ceiling ${ceiling}`);
          }
        },
      ),
    );
  });

  it('applies full jitter: the delay is random() times the ceiling', () => {
    const values = [0, 0.25, 0.5, 0.75];
    let i = 0;
    const b = new Backoff({ initialMs: 1_000, maxMs: 100_000, random: () => values[i++]! });
    assert.deepEqual([b.next(), b.next(), b.next(), b.next()], [0, 500, 2_000, 6_000]);
  });

  it('keeps the cap after very many attempts (no overflow to Infinity or NaN)', () => {
    const b = new Backoff({ random: top });
    for (let n = 0; n < 5_000; n++) b.next();
    assert.equal(b.next(), 59_999);
  });

  it('stays in range even if the injected random() misbehaves', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 100, random: () => 1 });
    assert.equal(b.next(), 99);
    const c = new Backoff({ initialMs: 100, maxMs: 100, random: () => -3 });
    assert.equal(c.next(), 0);
  });

  it('starts over after reset', () => {
    const b = new Backoff({ random: top });
    b.next();
    b.next();
    b.next();
    b.reset();
    assert.equal(b.attempt, 0);
    assert.equal(b.next(), 499);
    assert.equal(b.attempt, 1);
  });

  it('rejects options that make no sense', () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), BackoffOptionError);
    assert.throws(() => new Backoff({ initialMs: -1 }), BackoffOptionError);
    assert.throws(() => new Backoff({ initialMs: 1_000, maxMs: 500 }), /maxMs must be a number >= initialMs/);
    assert.throws(() => new Backoff({ maxMs: Number.NaN }), BackoffOptionError);
  });
});
