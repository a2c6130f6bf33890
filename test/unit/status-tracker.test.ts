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
