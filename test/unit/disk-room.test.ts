/**
 * When a till's disk is too small for the offline promise: a week without the
 * hub at today's rate of changes, the oplog still to grow to its size, and
 * what its minimum retention makes it keep past that size.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DISK_MARGIN_MB, diskRoom, type DiskFacts } from '../../src-main/sync/till/disk.ts';

const quiet: DiskFacts = { freeMB: 20_000, oplog: { sizeMB: 40, maxSizeMB: 990, windowHours: 24 * 7, minRetentionHours: 168 } };

describe('disk room for the offline promise', () => {
  it('is enough on a till with room: the oplog still to fill, a week of changes, and a margin', () => {
    const room = diskRoom(quiet);
    // 40 MB a week of changes: 950 MB of oplog still to come, 40 MB waiting while offline for 7 days.
    assert.equal(room.neededMB, 950 + 40 + DISK_MARGIN_MB);
    assert.equal(room.enough, true);
  });

  it('is not enough when the free space is below that', () => {
    const room = diskRoom({ ...quiet, freeMB: 1_200 });
    assert.deepEqual(room, { freeMB: 1_200, neededMB: 1_502, enough: false });
  });

  it('counts the oplog growing past its size to keep its hours, on a busy till', () => {
    // 990 MB hold 24 hours: the oplog keeps 168 hours, so it grows to ~6.9 GB; a week offline is as much again.
    const busy: DiskFacts = { freeMB: 10_000, oplog: { sizeMB: 990, maxSizeMB: 990, windowHours: 24, minRetentionHours: 168 } };
    const room = diskRoom(busy);
    assert.equal(room.neededMB, Math.round((990 / 24) * 168 - 990 + (990 / 24) * 24 * 7 + DISK_MARGIN_MB));
    assert.equal(room.enough, false);
    assert.equal(diskRoom({ ...busy, oplog: { ...busy.oplog, minRetentionHours: 0 } }).neededMB, Math.round(6_930 + DISK_MARGIN_MB));
  });

  it('does not guess a rate from an oplog younger than an hour', () => {
    const fresh: DiskFacts = { freeMB: 1_000, oplog: { sizeMB: 5, maxSizeMB: 990, windowHours: 0.2, minRetentionHours: 168 } };
    assert.equal(diskRoom(fresh).neededMB, 985 + DISK_MARGIN_MB);
  });
});
