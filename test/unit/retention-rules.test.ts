/**
 * What a till keeps of its past, as rules: which of the oldest conflicts go
 * (too old, or beyond the count), how removed ones are counted per collection
 * and day, and which delete traces are old enough to forget (by the wall time
 * inside their version).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { conflictsToForget, countByDay, dayOf, deleteTraceCutoff, type RetentionRules } from '../../src-main/sync/till/retention.ts';

const DAY = 86_400_000;
const NOW = Date.UTC(2027, 2, 10, 12);
const RULES: RetentionRules = { conflictRetentionDays: 90, conflictRetentionEntries: 10_000, tombstoneRetentionDays: 30 };

const daysAgo = (d: number): { at: Date } => ({ at: new Date(NOW - d * DAY) });

describe('retention: which conflicts go', () => {
  it('removes those older than the retention, and no younger one while under the count', () => {
    const oldest = [daysAgo(200), daysAgo(120), daysAgo(91), daysAgo(89), daysAgo(3)];
    assert.equal(conflictsToForget(oldest, 5, RULES, NOW), 3);
    assert.equal(conflictsToForget([daysAgo(89), daysAgo(1)], 2, RULES, NOW), 0, 'nothing old: nothing goes');
    assert.equal(conflictsToForget([], 0, RULES, NOW), 0);
  });

  it('removes the oldest beyond the count, however young they are', () => {
    const rules = { ...RULES, conflictRetentionEntries: 100 };
    const oldest = Array.from({ length: 50 }, (_, i) => daysAgo(10 - i / 10));
    assert.equal(conflictsToForget(oldest, 130, rules, NOW), 30, '130 held, 100 kept');
    assert.equal(conflictsToForget(oldest, 1_000, rules, NOW), 50, 'never more than the batch it was shown');
  });

  it('keeps exactly the newest within both rules (any log, any rules)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 365 }),
        (ages, entries, days) => {
          const log = [...ages].sort((a, b) => b - a).map((d) => daysAgo(d)); // oldest first
          const rules = { ...RULES, conflictRetentionEntries: entries, conflictRetentionDays: days };
          const n = conflictsToForget(log, log.length, rules, NOW);
          const kept = log.slice(n);
          assert.ok(kept.length <= entries, 'at most the count');
          assert.ok(
            kept.every((c) => c.at.getTime() >= NOW - days * DAY),
            'none older than the days',
          );
          // Nothing more than needed: the next oldest would have been kept by both rules.
          if (n > 0) {
            const last = log[n - 1] as { at: Date };
            assert.ok(last.at.getTime() < NOW - days * DAY || log.length - (n - 1) > entries, 'each removed one broke a rule');
          }
        },
      ),
    );
  });
});

describe('retention: counting what goes', () => {
  it('counts removed conflicts per collection and UTC day', () => {
    const at = (iso: string): Date => new Date(iso);
    const counts = countByDay([
      { collection: 'orders', at: at('2026-01-05T23:59:00Z') },
      { collection: 'orders', at: at('2026-01-05T01:00:00Z') },
      { collection: 'orders', at: at('2026-01-06T00:00:00Z') },
      { collection: 'menu', at: at('2026-01-05T12:00:00Z') },
    ]);
    assert.deepEqual(counts, [
      { _id: { c: 'orders', d: '2026-01-05' }, n: 2 },
      { _id: { c: 'orders', d: '2026-01-06' }, n: 1 },
      { _id: { c: 'menu', d: '2026-01-05' }, n: 1 },
    ]);
    assert.equal(dayOf(new Date('2026-12-31T23:30:00-02:00')), '2027-01-01', 'days are UTC, the same on every till');
  });
});

describe('retention: delete traces', () => {
  it('forgets a delete trace only once its version is older than twice the tombstone retention', () => {
    const cutoff = deleteTraceCutoff(RULES, NOW);
    const wall = (msAgo: number): number => NOW - msAgo;
    assert.ok(wall(61 * DAY) < cutoff, 'a delete 61 days old goes (retention 30)');
    assert.ok(wall(60 * DAY + 1) < cutoff, 'just past 60 days');
    assert.ok(!(wall(60 * DAY) < cutoff), 'exactly 60 days old stays');
    assert.ok(!(wall(59 * DAY) < cutoff), 'younger stays');
    assert.ok(!(wall(-5 * 60_000) < cutoff), 'a version ahead of the clock stays');
    assert.equal(deleteTraceCutoff(RULES, 5 * DAY), 0, 'never before the epoch');
  });
});
