/**
 * What the status tick reads from the till's database, and the slow
 * housekeeping it does now and then: the outbox's depth and oldest change,
 * the conflict count, the changes set aside (the newest few, with what staff
 * can do with them), old tombstones forgotten on the hub, the oplog's window.
 */
import { MongoClient } from 'mongodb';
import type { Logger } from '../log.ts';
import { oplogHeadroomHours } from '../oplog-headroom.ts';
import type { StatusTracker } from '../status-tracker.ts';
import type { Parts } from './parts.ts';

/** How many set-aside changes the status lists. */
const SET_ASIDE_SHOWN = 5;

export async function readCounts(parts: Parts, tracker: StatusTracker): Promise<void> {
  const { store } = parts;
  const readStarted = tracker.outboxReadStarted();
  const { depth, oldest } = await store.outbox.stats();
  tracker.outbox(depth, oldest?.getTime() ?? null, readStarted);
  tracker.conflicts(await store.conflicts.count());
  const count = await store.quarantine.count();
  const latest = count === 0 ? [] : await store.quarantine.latest(SET_ASIDE_SHOWN);
  tracker.quarantined({
    count,
    latest: latest.map((q) => ({
      id: q._id.toHexString(),
      collection: q.collection,
      documentId: JSON.stringify(q.documentId),
      reason: q.reason,
      at: q.at.getTime(),
      side: q.side,
      ...(q.reasonCode ? { reasonCode: q.reasonCode, reasonParams: q.reasonParams ?? {} } : {}),
      ...(q.handling ? { handling: q.handling } : {}),
    })),
  });
}

/** Forgets hub deletes older than the retention (any till may do it; it is idempotent), and measures the oplog. */
export async function housekeeping(parts: Parts, tracker: StatusTracker, tombstoneRetentionDays: number, log: Logger): Promise<void> {
  const hub = parts.link.hub;
  if (hub) {
    try {
      const count = await hub.pruneTombstones(new Date(Date.now() - tombstoneRetentionDays * 86_400_000));
      if (count > 0) log.info({ event: 'engine.tombstones-pruned', count }, 'forgot old deletes on the hub');
    } catch (err) {
      log.debug({ event: 'engine.tombstone-prune-failed', error: String(err) }, 'could not prune tombstones; will try later');
    }
  }
  tracker.oplogHeadroom(await oplogHeadroomHours(parts.store.client));
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
