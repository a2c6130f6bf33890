import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  DEFAULT_MAX_DRIFT_MS,
  HybridClock,
  MAX_COUNTER,
  MAX_WALL,
  VersionFormatError,
  compareVersions,
  decodeVersion,
  encodeVersion,
  isValidDeviceId,
  maxVersion,
  type Version,
} from '../../src-main/sync/core/hlc.ts';

// Small ranges mixed in so ties on wall, counter and device actually happen.
const deviceArb = fc.oneof(fc.constantFrom('a', 'b', 'till-1', 'till-10', 'TILL_2', '-'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
const wallArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_WALL }));
const counterArb = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: MAX_COUNTER }));
const versionArb: fc.Arbitrary<Version> = fc.record({ wall: wallArb, counter: counterArb, device: deviceArb }, { noNullPrototype: true });

const NOW = 1_700_000_000_000;

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

function assertAfter(later: Version, earlier: Version, label: string): void {
  assert.ok(compareVersions(later, earlier) > 0, `${label}: expected ${encodeVersion(later)} > ${encodeVersion(earlier)}`);
}

/** A clock whose physical time the test sets. */
function clockAt(start: number, options: { maxDriftMs?: number; last?: Version } = {}) {
  const time = { now: start };
  const clock = new HybridClock('me', { ...options, now: () => time.now });
  return { clock, time };
}

describe('version encoding', () => {
  it('round-trips every valid version', () => {
    fc.assert(
      fc.property(versionArb, (v) => {
        assert.deepEqual(decodeVersion(encodeVersion(v)), v);
      }),
    );
  });

  it('orders encoded strings exactly as compareVersions orders versions', () => {
    fc.assert(
      fc.property(versionArb, versionArb, (a, b) => {
        const ea = encodeVersion(a);
        const eb = encodeVersion(b);
        const stringOrder = ea < eb ? -1 : ea > eb ? 1 : 0;
        assert.equal(stringOrder, sign(compareVersions(a, b)));
      }),
    );
  });

  it('has the documented fixed-width form', () => {
    assert.equal(encodeVersion({ wall: 0x18b_cfe5_6800, counter: 0x2a, device: 'till-1' }), '018bcfe56800.002a.till-1');
  });

  it('rejects malformed strings, naming the input and the expected form', () => {
    const bad = [
      '',
      '018bcfe56800.002a',
      '018BCFE56800.002a.till-1',
      '18bcfe56800.002a.till-1',
      '018bcfe56800.02a.till-1',
      '018bcfe56800.002a.till 1',
      '018bcfe56800.002a.till.1',
      `018bcfe56800.002a.${'x'.repeat(65)}`,
      ' 018bcfe56800.002a.till-1',
    ];
    for (const input of bad) {
      assert.throws(
        () => decodeVersion(input),
        (err: unknown) =>
          err instanceof VersionFormatError &&
          err.reason === 'version-format' &&
          err.message.includes(JSON.stringify(input)) &&
          err.message.includes('12 lowercase hex digits'),
        input,
      );
    }
  });

  it('rejects any string that is not an encoded version', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        fc.pre(!/^[0-9a-f]{12}\.[0-9a-f]{4}\.[A-Za-z0-9_-]{1,64}$/.test(s));
        assert.throws(() => decodeVersion(s), VersionFormatError);
      }),
    );
  });

  it('refuses to encode versions outside the encodable range', () => {
    const bad: Version[] = [
      { wall: -1, counter: 0, device: 'a' },
      { wall: 1.5, counter: 0, device: 'a' },
      { wall: MAX_WALL + 1, counter: 0, device: 'a' },
      { wall: 0, counter: MAX_COUNTER + 1, device: 'a' },
      { wall: 0, counter: 0, device: '' },
      { wall: 0, counter: 0, device: 'till.1' },
    ];
    for (const v of bad) assert.throws(() => encodeVersion(v), VersionFormatError);
  });
});

describe('isValidDeviceId', () => {
  it('accepts 1-64 characters of letters, digits, _ and -', () => {
    for (const id of ['a', 'till-01_A', 'x'.repeat(64)]) assert.equal(isValidDeviceId(id), true, id);
    for (const id of ['', 'x'.repeat(65), 'till.1', 'till 1', 'tïll', 42, null]) {
      assert.equal(isValidDeviceId(id), false, String(id));
    }
  });

  it('is enforced by the clock constructor', () => {
    assert.throws(() => new HybridClock('till 1'), VersionFormatError);
  });
});

describe('HybridClock.tick', () => {
  const stepArb = fc.record({
    now: fc.integer({ min: NOW - 10_000, max: NOW + 10_000 }),
    eventWall: fc.option(fc.integer({ min: NOW - 10_000, max: NOW + 10_000 }), { nil: undefined }),
  });

  it('is strictly increasing even when the physical clock goes backwards', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 60 }), (steps) => {
        const { clock, time } = clockAt(NOW);
        let prev = clock.last;
        for (const step of steps) {
          time.now = step.now;
          const v = clock.tick(step.eventWall);
          assertAfter(v, prev, 'tick');
          assert.ok(v.wall >= Math.max(step.now, step.eventWall ?? 0), 'wall keeps up with physical and event time');
          assert.equal(v.device, 'me');
          assert.deepEqual(clock.last, v);
          prev = v;
        }
      }),
    );
  });

  it('moves wall forward by 1 ms when the counter would overflow', () => {
    const { clock } = clockAt(NOW - 5, { last: { wall: NOW, counter: MAX_COUNTER, device: 'me' } });
    assert.deepEqual(clock.tick(), { wall: NOW + 1, counter: 0, device: 'me' });
    assert.deepEqual(clock.tick(), { wall: NOW + 1, counter: 1, device: 'me' });
  });

  it('resumes after the persisted last version, not from the physical clock', () => {
    const last = { wall: NOW + 60_000, counter: 7, device: 'me' };
    const { clock } = clockAt(NOW, { last });
    assert.deepEqual(clock.tick(), { wall: NOW + 60_000, counter: 8, device: 'me' });
  });

  it('keeps increasing when the physical clock or the event time is garbage', () => {
    const { clock, time } = clockAt(NOW);
    const first = clock.tick();
    time.now = Number.NaN;
    const second = clock.tick(Number.NaN);
    assertAfter(second, first, 'NaN physical clock');
    const received = clock.receive({ wall: 5, counter: 0, device: 'x' });
    assert.ok(received.ok);
    assertAfter(received.version, second, 'receive with NaN physical clock');
  });

  it('hands out a copy, so callers cannot move the clock by mutating a version', () => {
    const { clock } = clockAt(NOW);
    const v = clock.tick();
    v.wall = 0;
    assert.equal(clock.last.wall, NOW);
  });
});

describe('HybridClock.receive', () => {
  const opArb = fc.oneof(
    fc.record({ kind: fc.constant('tick' as const), now: fc.integer({ min: NOW - 5_000, max: NOW + 5_000 }) }),
    fc.record({
      kind: fc.constant('receive' as const),
      now: fc.integer({ min: NOW - 5_000, max: NOW + 5_000 }),
      // Offset of the remote wall from physical now: behind, equal or ahead within the drift.
      offset: fc.oneof(fc.constant(0), fc.integer({ min: -10_000, max: 1_000 })),
      counter: counterArb,
      device: deviceArb,
    }),
  );

  it('returns a version later than both the previous last and the remote', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const { clock, time } = clockAt(NOW, { maxDriftMs: 1_000 });
        for (const op of ops) {
          time.now = op.now;
          const prev = clock.last;
          if (op.kind === 'tick') {
            assertAfter(clock.tick(), prev, 'tick');
            continue;
          }
          const remote = { wall: op.now + op.offset, counter: op.counter, device: op.device };
          const result = clock.receive(remote);
          assert.ok(result.ok, 'within drift is accepted');
          assertAfter(result.version, prev, 'receive vs previous last');
          assertAfter(result.version, remote, 'receive vs remote');
          assert.deepEqual(clock.last, result.version);
        }
      }),
    );
  });

  it('refuses a remote beyond the drift limit and leaves the clock unchanged', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 10_000_000 }),
        counterArb,
        deviceArb,
        (warmup, excess, counter, device) => {
          const { clock, time } = clockAt(NOW, { maxDriftMs: 60_000 });
          for (const step of warmup) {
            time.now = NOW + step;
            clock.tick();
          }
          const before = clock.last;
          const remote = { wall: time.now + 60_000 + excess, counter, device };
          assert.deepEqual(clock.peekReceive(remote), { ok: false, reason: 'clock-drift', aheadMs: 60_000 + excess });
          assert.deepEqual(clock.receive(remote), { ok: false, reason: 'clock-drift', aheadMs: 60_000 + excess });
          assert.deepEqual(clock.last, before);
          assertAfter(clock.tick(), before, 'clock still works after a refusal');
        },
      ),
    );
  });

  it('defaults the drift limit to five minutes', () => {
    const { clock } = clockAt(NOW);
    assert.equal(DEFAULT_MAX_DRIFT_MS, 300_000);
    assert.equal(clock.receive({ wall: NOW + 300_000, counter: 0, device: 'x' }).ok, true);
    assert.deepEqual(clock.receive({ wall: NOW + 300_001, counter: 0, device: 'x' }), {
      ok: false,
      reason: 'clock-drift',
      aheadMs: 300_001,
    });
  });

  it('peekReceive predicts receive without moving the clock', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000, max: 1_000 }), counterArb, deviceArb, (offset, counter, device) => {
        const { clock } = clockAt(NOW, { maxDriftMs: 1_000 });
        clock.tick();
        const before = clock.last;
        const remote = { wall: NOW + offset, counter, device };
        const peeked = clock.peekReceive(remote);
        assert.deepEqual(clock.last, before);
        assert.deepEqual(clock.receive(remote), peeked);
      }),
    );
  });

  it('rejects a malformed remote version', () => {
    const { clock } = clockAt(NOW);
    assert.throws(() => clock.receive({ wall: NOW, counter: -1, device: 'x' }), VersionFormatError);
  });
});

describe('merging versions', () => {
  it('maxVersion is commutative, associative and idempotent', () => {
    fc.assert(
      fc.property(versionArb, versionArb, versionArb, (a, b, c) => {
        assert.deepEqual(maxVersion(a, b), maxVersion(b, a));
        assert.deepEqual(maxVersion(maxVersion(a, b), c), maxVersion(a, maxVersion(b, c)));
        assert.deepEqual(maxVersion(a, a), a);
      }),
    );
  });

  it('yields the same max in any order, and a clock absorbing them ends after all of them', () => {
    const nearNow = fc.record(
      {
        wall: fc.integer({ min: NOW - 3, max: NOW + 3 }),
        counter: counterArb,
        device: deviceArb,
      },
      { noNullPrototype: true },
    );
    fc.assert(
      fc.property(
        fc
          .array(nearNow, { minLength: 1, maxLength: 20 })
          .chain((vs) => fc.tuple(fc.constant(vs), fc.shuffledSubarray(vs, { minLength: vs.length, maxLength: vs.length }))),
        ([versions, shuffled]) => {
          const max1 = versions.reduce(maxVersion);
          const max2 = shuffled.reduce(maxVersion);
          assert.deepEqual(max1, max2);
          const { clock } = clockAt(NOW);
          for (const v of [...shuffled, ...shuffled]) assert.ok(clock.receive(v).ok);
          assertAfter(clock.last, max1, 'clock after absorbing all');
        },
      ),
    );
  });
});

describe('HybridClock.fork and advance (the clock moves after commit)', () => {
  it('a fork stamps ahead without moving the clock until advance', () => {
    const { clock, time } = clockAt(NOW, { maxDriftMs: 1_000 });
    const before = clock.tick();
    const tentative = clock.fork();
    const stamped = [tentative.tick(), tentative.tick()];
    assert.deepEqual(clock.last, before, 'an uncommitted batch leaves the clock alone');
    clock.advance(tentative.last);
    assert.deepEqual(clock.last, stamped[1]);
    time.now = NOW - 60_000;
    assertAfter(clock.tick(), stamped[1]!, 'next batch after the committed one');
  });

  it('advance never goes backwards and skips the drift check for our own versions', () => {
    fc.assert(
      fc.property(fc.array(versionArb, { minLength: 1, maxLength: 20 }), (versions) => {
        const { clock } = clockAt(NOW, { maxDriftMs: 1_000 });
        let max = clock.last;
        for (const v of versions) {
          clock.advance(v);
          max = maxVersion(max, v);
          assert.deepEqual(clock.last, max);
        }
      }),
    );
  });

  it('a clock resumed far ahead of physical time keeps issuing fresh versions through forks', () => {
    // E.g. the machine clock was set back a day after a restart.
    const { clock } = clockAt(NOW - 86_400_000, { maxDriftMs: 1_000, last: { wall: NOW, counter: 0, device: 'me' } });
    const seen = new Set<string>();
    for (let batch = 0; batch < 5; batch++) {
      const tentative = clock.fork();
      const v = tentative.tick();
      assert.ok(!seen.has(encodeVersion(v)), 'no version issued twice');
      seen.add(encodeVersion(v));
      clock.advance(tentative.last);
    }
  });
});

describe('HybridClock.receive counter overflow', () => {
  it('moves wall forward by 1 ms when the merged counter would overflow', () => {
    const { clock } = clockAt(NOW);
    const result = clock.receive({ wall: NOW, counter: MAX_COUNTER, device: 'x' });
    assert.deepEqual(result, { ok: true, version: { wall: NOW + 1, counter: 0, device: 'me' } });
  });
});
