/**
 * The state a till shows while the hub is away: offline until the part that
 * failed gets a real answer again, whatever the other parts are doing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusTracker } from '../../src-main/sync/status-tracker.ts';
import type { SyncErrorInfo } from '../../src-shared/status.ts';

const inputs = { enabled: true, started: true, hubConnected: true, captureBusy: false };
const down: SyncErrorInfo = { reason: 'hub-unreachable', message: 'Cannot reach the head-office hub.', at: 1 };

function syncedTracker(): StatusTracker {
  const t = new StatusTracker('till-a');
  t.caughtUp(true, 0);
  assert.equal(t.state(inputs), 'synced');
  return t;
}

describe('status tracker: offline', () => {
  it('stays offline while the pull stream is merely quiet (a driver resuming it looks the same)', () => {
    const t = syncedTracker();
    t.unreachable('pull', down, 10);
    t.caughtUp(true, 20);
    t.caughtUp(true, 1_020);
    assert.equal(t.state(inputs), 'offline');
    t.reachable('pull');
    assert.equal(t.state(inputs), 'synced');
  });

  it('a failing push keeps the till offline even while the pull stream answers', () => {
    const t = syncedTracker();
    t.outbox(3, 5, t.outboxReadStarted());
    t.unreachable('push', down, 10);
    t.reachable('pull');
    t.pulled([5], 30);
    assert.equal(t.state(inputs), 'offline');
    t.pushed([5, 6, 7], 40);
    t.outbox(0, null, t.outboxReadStarted());
    assert.equal(t.state(inputs), 'synced');
  });

  it('knows since when the hub has been unreachable, from the first part that failed', () => {
    const t = syncedTracker();
    assert.equal(t.unreachableSince(), undefined);
    t.unreachable('pull', down, 100);
    t.unreachable('push', down, 200);
    t.unreachable('pull', down, 300);
    assert.equal(t.unreachableSince(), 100);
    t.reachable('pull');
    assert.equal(t.unreachableSince(), 200);
    t.reachable('push');
    assert.equal(t.unreachableSince(), undefined);
  });

  it('is offline without a hub connection, and disabled above all', () => {
    const t = syncedTracker();
    assert.equal(t.state({ ...inputs, hubConnected: false }), 'offline');
    t.unreachable('connect', down, 1);
    assert.equal(t.state({ ...inputs, enabled: false }), 'disabled');
  });
});

describe('status tracker: changes waiting in the outbox', () => {
  it('shows captured changes at once, and a count of the outbox that began before them does not hide them', () => {
    const t = syncedTracker();
    const read = t.outboxReadStarted();
    t.outboxGrew(2, 100);
    t.outbox(0, null, read); // began before the capture: it may have missed both
    assert.equal(t.state(inputs), 'syncing');
    assert.equal(t.snapshot(inputs, 150).outbox.depth, 2);
    assert.equal(t.snapshot(inputs, 150).outbox.oldestPendingAgeMs, 50);
    t.outboxShrank(2);
    assert.equal(t.state(inputs), 'synced');
    // A quiet count is taken as it is.
    t.outbox(4, 120, t.outboxReadStarted());
    assert.equal(t.snapshot(inputs, 150).outbox.depth, 4);
  });
});

describe('status tracker: conflicts and changes set aside, without reading the database', () => {
  const setAside = (documentId: string, at: number) => ({ collection: 'menu', documentId, reason: 'bad version', at });

  it('counts conflicts and set-aside changes as they are recorded; a read that began before them does not hide them', () => {
    const t = syncedTracker();
    t.conflicts(5, t.recordsReadStarted());
    const read = t.recordsReadStarted();
    t.conflictsRecorded(2);
    t.quarantineRecorded([setAside('"a"', 10), setAside('"b"', 11)]);
    t.conflicts(5, read); // began before them: it may have missed them
    t.quarantined({ count: 0, latest: [] }, read);
    const s = t.snapshot(inputs, 20);
    assert.equal(s.conflicts.count, 7);
    assert.equal(s.quarantine.count, 2);
    assert.deepEqual(
      s.quarantine.latest.map((q) => q.documentId),
      ['"b"', '"a"'],
      'newest first',
    );
    // A quiet read is taken as it is (retention removed some).
    t.conflicts(3, t.recordsReadStarted());
    assert.equal(t.snapshot(inputs, 30).conflicts.count, 3);
  });

  it('counts a set-aside change reported again (its record is kept per document) once, and asks for a read', () => {
    const t = syncedTracker();
    t.takeCorrection();
    t.quarantineRecorded([{ ...setAside('"stew"', 1), id: 'q1' }]);
    t.quarantineRecorded([{ ...setAside('"stew"', 2), id: 'q1' }]);
    const s = t.snapshot(inputs, 10).quarantine;
    assert.equal(s.count, 1);
    assert.deepEqual(
      s.latest.map((q) => [q.id, q.at]),
      [['q1', 2]],
      'shown once, as last recorded',
    );
    assert.equal(t.takeCorrection(), true, 'the count is read again soon');
    assert.equal(t.takeCorrection(), false);
  });

  it('shows at most five set-aside changes, newest first', () => {
    const t = syncedTracker();
    t.quarantineRecorded([1, 2, 3].map((i) => setAside(`"${i}"`, i)));
    t.quarantineRecorded([4, 5, 6].map((i) => setAside(`"${i}"`, i)));
    const s = t.snapshot(inputs, 10).quarantine;
    assert.equal(s.count, 6);
    assert.deepEqual(
      s.latest.map((q) => q.documentId),
      ['"6"', '"5"', '"4"', '"3"', '"2"'],
    );
  });
});

describe('status tracker: warnings as data', () => {
  it('gives the warnings as data only when each one has its data, so no warning is ever left out', () => {
    const t = syncedTracker();
    const disk = { code: 'disk-low' as const, params: { freeMb: 900, neededMb: 2_000, offlineDays: 7 } };
    t.warn('disk-low', "This till's disk has 0.9 GB free…", disk);
    let s = t.snapshot(inputs, 1);
    assert.deepEqual(s.warnings, ["This till's disk has 0.9 GB free…"]);
    assert.deepEqual(s.warningDetails, [{ ...disk, message: "This till's disk has 0.9 GB free…" }]);
    t.warn('till-clock', "This till's clock is 10 minutes fast…");
    s = t.snapshot(inputs, 2);
    assert.equal(s.warnings.length, 2);
    assert.equal(s.warningDetails, undefined, 'one warning in words only: the dashboard shows the words of all');
    t.warn('disk-low', null);
    t.warn('till-clock', null);
    assert.deepEqual(t.snapshot(inputs, 3).warnings, []);
  });
});
