/**
 * The fleet rules: a table of each default at its edge (what head office
 * reads for a till), overrides from a config file, and properties that hold
 * for any heartbeat — the colour is the worst reason's; time passing, a worse
 * figure or a stricter rule never makes a till look better; and the report
 * lists the worst first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DeviceHeartbeat, FleetColour, HeartbeatState } from '../../src-shared/fleet.ts';
import { DEFAULT_FLEET_RULES, FleetConfigError, parseFleetRules, type FleetRules } from '../../src-main/fleet/rules-config.ts';
import { COLOUR_RANK, judgeTill } from '../../src-main/fleet/rules.ts';
import { anyRed, fleetReport, judgeFleet } from '../../src-main/fleet/report.ts';

const NOW = Date.UTC(2025, 5, 3, 12, 0, 0);
const S = 1000;
const MIN = 60 * S;

function heartbeat(changes: Partial<DeviceHeartbeat> = {}): DeviceHeartbeat {
  return {
    deviceId: 'till-1',
    name: 'Till 1',
    storeId: 'soho',
    params: { name: 'Till 1', storeId: 'soho' },
    appVersion: '0.1.0',
    state: 'synced',
    enabled: true,
    lag: { push: { p50Ms: 40, p95Ms: 120 }, pull: { p50Ms: 50, p95Ms: 150 } },
    outbox: { depth: 0, oldestPendingAgeMs: null },
    conflictsLastHour: 0,
    setAside: { count: 0, lastHour: 0 },
    clockOffsetMs: 0,
    oplogHeadroomHours: 200,
    lastError: null,
    lastSyncedAt: NOW - 10 * S,
    warnings: [],
    reconciliation: null,
    beatEveryMs: 30 * S,
    lastSeen: NOW - 10 * S,
    ...changes,
  };
}

const judge = (changes: Partial<DeviceHeartbeat>, rules: FleetRules = DEFAULT_FLEET_RULES) => judgeTill(heartbeat(changes), NOW, rules);

describe('fleet rules: the defaults at their edges', () => {
  const table: Array<[string, Partial<DeviceHeartbeat>, FleetColour, RegExp | null]> = [
    ['a healthy till', {}, 'green', null],
    ['seen 4 min 59 s ago', { lastSeen: NOW - 5 * MIN + S }, 'green', null],
    ['seen 5 min 1 s ago', { lastSeen: NOW - 5 * MIN - S }, 'red', /^Not heard from for 5 minutes/],
    ['not seen for two days', { lastSeen: NOW - 49 * 60 * MIN }, 'red', /^Not heard from for 2 days/],
    ['stopped a minute ago', { state: 'stopped', lastSeen: NOW - MIN }, 'amber', /^TillSync was stopped on this till$/],
    ['stopped 6 minutes ago', { state: 'stopped', lastSeen: NOW - 6 * MIN }, 'red', /^TillSync was stopped on this till 6 minutes ago/],
    ['a change 9 min old, seen 30 s ago', { outbox: { depth: 2, oldestPendingAgeMs: 9 * MIN }, lastSeen: NOW - 30 * S }, 'green', null],
    [
      'a change 9 min 50 s old, seen 20 s ago',
      { outbox: { depth: 2, oldestPendingAgeMs: 9 * MIN + 50 * S }, lastSeen: NOW - 20 * S },
      'red',
      /^A change has waited 10 minutes to be sent to head office \(2 changes waiting\)/,
    ],
    ['oplog holds 24 hours', { oplogHeadroomHours: 24 }, 'green', null],
    ['oplog holds 23 hours', { oplogHeadroomHours: 23 }, 'red', /keeps only about 23 hours of changes/],
    ['oplog headroom unknown', { oplogHeadroomHours: null }, 'green', null],
    ['push p95 of 30 s', { lag: { push: { p50Ms: 1, p95Ms: 30 * S }, pull: { p50Ms: null, p95Ms: null } } }, 'green', null],
    [
      'push p95 of 31 s',
      { lag: { push: { p50Ms: 1, p95Ms: 31 * S }, pull: { p50Ms: null, p95Ms: null } } },
      'amber',
      /^Changes reach head office in up to 31 seconds/,
    ],
    [
      'pull p95 of 45 s',
      { lag: { push: { p50Ms: 1, p95Ms: 2 }, pull: { p50Ms: 1, p95Ms: 45 * S } } },
      'amber',
      /^Changes arrive from head office in up to 45 seconds/,
    ],
    ['10 conflicts in the hour', { conflictsLastHour: 10 }, 'green', null],
    ['11 conflicts in the hour', { conflictsLastHour: 11 }, 'amber', /^11 conflicts in the last hour/],
    ['one change set aside', { setAside: { count: 1, lastHour: 0 } }, 'amber', /^1 change could not be synced and was set aside$/],
    ['clock 59 s fast', { clockOffsetMs: 59 * S }, 'green', null],
    ['clock a minute slow', { clockOffsetMs: -60 * S }, 'amber', /^The till’s clock is 60 seconds slow/],
    ['clock 3 minutes fast', { clockOffsetMs: 3 * MIN }, 'amber', /^The till’s clock is 3 minutes fast/],
    [
      'sync in error',
      { state: 'error', lastError: { reason: 'local-unreachable', message: 'The till’s database is not answering', at: NOW } },
      'amber',
      /^Sync has a problem it cannot fix by itself: The till’s database is not answering$/,
    ],
    ['sync paused', { state: 'disabled', enabled: false }, 'amber', /^Sync is paused on this till/],
  ];
  for (const [what, changes, colour, words] of table) {
    it(`${what}: ${colour}`, () => {
      const verdict = judge(changes);
      assert.equal(verdict.colour, colour, JSON.stringify(verdict.reasons));
      if (words === null) assert.deepEqual(verdict.reasons, []);
      else assert.match(verdict.reasons[0]?.text ?? '', words);
    });
  }

  it('lists every reason, red ones first', () => {
    const verdict = judge({ conflictsLastHour: 20, lastSeen: NOW - 20 * MIN, oplogHeadroomHours: 2 });
    assert.equal(verdict.colour, 'red');
    assert.deepEqual(
      verdict.reasons.map((r) => [r.rule, r.colour]),
      [
        ['notSeen', 'red'],
        ['oplogHeadroom', 'red'],
        ['conflicts', 'amber'],
      ],
    );
  });
});

describe('fleet rules: a config file overrides the defaults', () => {
  it('changes thresholds and colours, and turns rules off', () => {
    const rules = parseFleetRules({ lag: { seconds: 5, colour: 'red' }, setAside: { colour: 'off' }, notSeen: { minutes: 60 } });
    assert.equal(rules.changeWaiting.minutes, 10, 'what the file does not name keeps its default');
    const lag = { lag: { push: { p50Ms: 1, p95Ms: 6 * S }, pull: { p50Ms: null, p95Ms: null } } };
    assert.equal(judge(lag).colour, 'green');
    assert.equal(judge(lag, rules).colour, 'red');
    assert.equal(judge({ setAside: { count: 4, lastHour: 4 } }, rules).colour, 'green');
    assert.equal(judge({ lastSeen: NOW - 30 * MIN }, rules).colour, 'green');
  });

  it('names every mistake in a config file', () => {
    assert.throws(
      () => parseFleetRules({ lag: { seconds: '30' }, notSeen: { colour: 'blue' }, lagg: {} }),
      (err: unknown) => {
        assert.ok(err instanceof FleetConfigError);
        assert.deepEqual(
          [...err.problems].sort(),
          [
            'lag.seconds: got "30", expected a number above 0',
            'lagg: unknown, expected one of the rules notSeen, changeWaiting, oplogHeadroom, lag, conflicts, setAside, clock, syncProblem, paused',
            'notSeen.colour: got "blue", expected one of "red", "amber", "off"',
          ].sort(),
        );
        return true;
      },
    );
    assert.throws(() => parseFleetRules([]), /\(rules\): got \[\], expected a JSON object of rules/);
  });
});

const STATES: HeartbeatState[] = ['synced', 'syncing', 'offline', 'error', 'disabled', 'starting', 'stopped'];
const ms = fc.integer({ min: 0, max: 3 * 86_400_000 });
const maybeMs = fc.option(ms, { nil: null });
const arbHeartbeat: fc.Arbitrary<DeviceHeartbeat> = fc
  .record({
    deviceId: fc.stringMatching(/^till-[a-z0-9]{1,6}$/),
    storeId: fc.option(fc.constantFrom('soho', 'leeds', 'york'), { nil: null }),
    state: fc.constantFrom(...STATES),
    pushP95: maybeMs,
    pullP95: maybeMs,
    depth: fc.nat(1_000),
    oldest: ms,
    conflicts: fc.option(fc.nat(100), { nil: null }),
    setAside: fc.nat(20),
    clock: fc.option(fc.integer({ min: -86_400_000, max: 86_400_000 }), { nil: null }),
    oplog: fc.option(fc.double({ min: 0, max: 500, noNaN: true }), { nil: null }),
    silent: ms,
  })
  .map((r) =>
    heartbeat({
      deviceId: r.deviceId,
      name: null,
      storeId: r.storeId,
      state: r.state,
      lag: { push: { p50Ms: r.pushP95, p95Ms: r.pushP95 }, pull: { p50Ms: r.pullP95, p95Ms: r.pullP95 } },
      outbox: { depth: r.depth, oldestPendingAgeMs: r.depth === 0 ? null : r.oldest },
      conflictsLastHour: r.conflicts,
      setAside: { count: r.setAside, lastHour: null },
      clockOffsetMs: r.clock,
      oplogHeadroomHours: r.oplog,
      lastSeen: NOW - r.silent,
    }),
  );
const rank = (c: FleetColour): number => COLOUR_RANK[c];
/** Rules at least as lenient as the defaults: every threshold moved the forgiving way. */
const arbLooser: fc.Arbitrary<FleetRules> = fc
  .array(fc.double({ min: 1, max: 100, noNaN: true }), { minLength: 7, maxLength: 7 })
  .map(([a, b, c, d, e, f, g]) =>
    parseFleetRules({
      notSeen: { minutes: 5 * a! },
      changeWaiting: { minutes: 10 * b! },
      oplogHeadroom: { hours: 24 / c! },
      lag: { seconds: 30 * d! },
      conflicts: { perHour: 10 * e! },
      setAside: { count: f! - 1 },
      clock: { seconds: 60 * g! },
    }),
  );

describe('fleet rules: properties', () => {
  it('the colour is the worst reason’s, green exactly when there is none, reasons worst first', () => {
    fc.assert(
      fc.property(arbHeartbeat, (hb) => {
        const { colour, reasons } = judgeTill(hb, NOW, DEFAULT_FLEET_RULES);
        assert.equal(colour === 'green', reasons.length === 0);
        assert.equal(rank(colour), Math.max(0, ...reasons.map((r) => rank(r.colour))));
        for (let i = 1; i < reasons.length; i += 1) assert.ok(rank(reasons[i - 1]!.colour) >= rank(reasons[i]!.colour));
        for (const r of reasons) assert.ok(r.text.length > 10 && !/undefined|NaN|null/.test(r.text), r.text);
      }),
      { numRuns: 2_000 },
    );
  });

  it('time passing never makes a till look better', () => {
    fc.assert(
      fc.property(arbHeartbeat, ms, (hb, later) => {
        assert.ok(rank(judgeTill(hb, NOW + later, DEFAULT_FLEET_RULES).colour) >= rank(judgeTill(hb, NOW, DEFAULT_FLEET_RULES).colour));
      }),
      { numRuns: 2_000 },
    );
  });

  it('a worse figure never makes a till look better', () => {
    fc.assert(
      fc.property(arbHeartbeat, fc.nat(3_600_000), fc.nat(50), (hb, more, extra) => {
        const before = rank(judgeTill(hb, NOW, DEFAULT_FLEET_RULES).colour);
        const worse: DeviceHeartbeat = {
          ...hb,
          lag: {
            push: { ...hb.lag.push, p95Ms: hb.lag.push.p95Ms === null ? null : hb.lag.push.p95Ms + more },
            pull: { ...hb.lag.pull, p95Ms: hb.lag.pull.p95Ms === null ? null : hb.lag.pull.p95Ms + more },
          },
          outbox: { depth: hb.outbox.depth + extra, oldestPendingAgeMs: (hb.outbox.oldestPendingAgeMs ?? 0) + more },
          conflictsLastHour: hb.conflictsLastHour === null ? null : hb.conflictsLastHour + extra,
          setAside: { ...hb.setAside, count: hb.setAside.count + extra },
          clockOffsetMs: hb.clockOffsetMs === null ? null : hb.clockOffsetMs + Math.sign(hb.clockOffsetMs || 1) * more,
          oplogHeadroomHours: hb.oplogHeadroomHours === null ? null : Math.max(0, hb.oplogHeadroomHours - more / 3_600_000),
          lastSeen: hb.lastSeen - more,
        };
        assert.ok(rank(judgeTill(worse, NOW, DEFAULT_FLEET_RULES).colour) >= before);
      }),
      { numRuns: 2_000 },
    );
  });

  it('more lenient rules never make a till look worse; every rule off makes every till green', () => {
    const allOff = parseFleetRules(Object.fromEntries(Object.keys(DEFAULT_FLEET_RULES).map((k) => [k, { colour: 'off' }])));
    fc.assert(
      fc.property(arbHeartbeat, arbLooser, (hb, looser) => {
        assert.ok(rank(judgeTill(hb, NOW, looser).colour) <= rank(judgeTill(hb, NOW, DEFAULT_FLEET_RULES).colour));
        assert.equal(judgeTill(hb, NOW, allOff).colour, 'green');
      }),
      { numRuns: 2_000 },
    );
  });

  it('the report counts every till once, groups by store, and lists the worst first', () => {
    fc.assert(
      fc.property(fc.uniqueArray(arbHeartbeat, { selector: (hb) => hb.deviceId, maxLength: 30 }), (hbs) => {
        const report = judgeFleet(hbs, NOW, DEFAULT_FLEET_RULES);
        const tills = report.stores.flatMap((s) => s.tills);
        assert.equal(tills.length, hbs.length);
        assert.equal(report.counts.green + report.counts.amber + report.counts.red, hbs.length);
        assert.equal(
          anyRed(report),
          tills.some((t) => t.colour === 'red'),
        );
        assert.equal(new Set(report.stores.map((s) => s.storeId)).size, report.stores.length, 'one group per store');
        for (const store of report.stores) {
          assert.ok(store.tills.every((t) => t.storeId === store.storeId));
          assert.equal(rank(store.colour), Math.max(...store.tills.map((t) => rank(t.colour))));
          for (let i = 1; i < store.tills.length; i += 1) assert.ok(rank(store.tills[i - 1]!.colour) >= rank(store.tills[i]!.colour));
        }
        for (let i = 1; i < report.stores.length; i += 1) assert.ok(rank(report.stores[i - 1]!.colour) >= rank(report.stores[i]!.colour));
      }),
      { numRuns: 500 },
    );
  });
});

describe('fleet report from hub documents', () => {
  it('reads what older or newer tills wrote, and names a document it cannot read', () => {
    const lastSeen = new Date(NOW - 10 * S);
    const report = fleetReport(
      [
        { _id: 'till-old', deviceId: 'till-old', state: 'synced', lastSeen }, // an older writer: most fields missing
        { _id: 'till-new', deviceId: 'till-new', state: 'hibernating', storeId: 'soho', lastSeen, futureField: { x: 1 } },
        { _id: 'till-bad', deviceId: 'till-bad', state: 'synced' }, // no lastSeen
      ],
      NOW,
      DEFAULT_FLEET_RULES,
    );
    const tills = report.stores.flatMap((s) => s.tills);
    assert.deepEqual(tills.map((t) => [t.deviceId, t.colour]).sort(), [
      ['till-new', 'amber'],
      ['till-old', 'green'],
    ]);
    assert.equal(tills.find((t) => t.deviceId === 'till-new')?.heartbeat.state, 'error', 'an unknown state reads as a problem');
    assert.deepEqual(report.unreadable, ['The report of till "till-bad" cannot be read (lastSeen missing or wrong)']);
  });
});
