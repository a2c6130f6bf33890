/**
 * What the status tick reads from the till's database, and the slow
 * housekeeping does now and then: the outbox's depth and oldest change, the
 * conflict count, the changes set aside (the newest few, with what staff can
 * do with them), old tombstones forgotten on the hub, the disk's room.
 */
import { MongoClient } from 'mongodb';
import type { SyncStatus } from '../../../src-shared/status.ts';
import type { Logger } from '../log.ts';
import type { StatusTracker } from '../status-tracker.ts';
import { diskRoom, OFFLINE_DAYS, readDiskFacts } from '../till/disk.ts';
import type { QuarantineRecord } from '../till/records.ts';
import type { Parts } from './parts.ts';

/** How many set-aside changes the status lists. */
const SET_ASIDE_SHOWN = 5;

/** Reads the outbox's depth and oldest change, the conflict count and the newest changes set aside. */
export async function readCounts(parts: Parts, tracker: StatusTracker): Promise<void> {
  const { store } = parts;
  const outboxRead = tracker.outboxReadStarted();
  const { depth, oldest } = await store.outbox.stats();
  tracker.outbox(depth, oldest?.getTime() ?? null, outboxRead);
  const recordsRead = tracker.recordsReadStarted();
  const conflicts = await store.conflicts.count();
  const count = await store.quarantine.count();
  const latest = count === 0 ? [] : await store.quarantine.latest(SET_ASIDE_SHOWN);
  tracker.conflicts(conflicts, recordsRead);
  tracker.quarantined({ count, latest: latest.map(setAsideSummary) }, recordsRead);
}

/** A change set aside as the status shows it, with what staff can do with it. */
export function setAsideSummary(q: QuarantineRecord): SyncStatus['quarantine']['latest'][number] {
  return {
    id: q._id.toHexString(),
    collection: q.collection,
    documentId: JSON.stringify(q.documentId),
    reason: q.reason,
    at: q.at.getTime(),
    side: q.side,
    ...(q.reasonCode ? { reasonCode: q.reasonCode, reasonParams: q.reasonParams ?? {} } : {}),
    ...(q.handling ? { handling: q.handling } : {}),
  };
}

/** Forgets hub deletes older than the retention (any till may do it; it is idempotent). */
export async function pruneTombstones(parts: Parts, tombstoneRetentionDays: number, log: Logger): Promise<void> {
  const hub = parts.link.hub;
  if (!hub) return;
  try {
    const count = await hub.pruneTombstones(new Date(Date.now() - tombstoneRetentionDays * 86_400_000));
    if (count > 0) log.info({ event: 'engine.tombstones-pruned', count }, 'forgot old deletes on the hub');
  } catch (err) {
    log.debug({ event: 'engine.tombstone-prune-failed', error: String(err) }, 'could not prune tombstones; will try later');
  }
}

/** Warns, in words, when the till's disk has no room left for the days offline the product promises. */
export async function checkDisk(parts: Parts, tracker: StatusTracker, engineDatabase: string, log: Logger): Promise<void> {
  const facts = await readDiskFacts(parts.local, engineDatabase);
  const room = facts && diskRoom(facts);
  const was = tracker.hasWarning('disk-low');
  if (!room || room.enough) {
    tracker.warn('disk-low', null);
    if (was) log.info({ event: 'engine.disk-ok' }, "this till's disk has room again");
    return;
  }
  const gb = (mb: number): string => `${(mb / 1024).toFixed(1)} GB`;
  tracker.warn(
    'disk-low',
    `This till's disk has ${gb(room.freeMB)} free; ${OFFLINE_DAYS} days without the hub need about ${gb(room.neededMB)} ` +
      "at today's rate of changes. Free some space on this till's disk before it fills up.",
    { code: 'disk-low', params: { freeMb: room.freeMB, neededMb: room.neededMB, offlineDays: OFFLINE_DAYS } },
  );
  if (!was) log.warn({ event: 'engine.disk-low', freeMb: room.freeMB, neededMb: room.neededMB }, "this till's disk is nearly full");
}

/** Whether a fresh connection to the till's database answers (the old one may be stuck on dropped connections). */
export async function freshConnectionAnswers(uri: string): Promise<boolean> {
  const probe = new MongoClient(uri, { serverSelectionTimeoutMS: 3_000, connectTimeoutMS: 3_000 });
  try {
    await probe.connect();
    await probe.db('admin').command({ ping: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await probe.close(true).catch(() => undefined);
  }
}
