/**
 * Whether the till's disk has room for the offline promise: a week without
 * the hub, at today's rate of local changes, while the oplog keeps its hours
 * of history. Read from the till's own mongod (free space from `dbStats`, the
 * oplog's size, window and retention), so the desktop app and the headless
 * agent both say it; a server that does not report its disk (the test
 * emulator) gets no verdict.
 */
import type { MongoClient } from 'mongodb';
import { oplogWindow } from '../oplog-headroom.ts';

const MB = 1024 * 1024;
/** The offline promise the warning speaks of. */
export const OFFLINE_DAYS = 7;
/** Room WiredTiger needs beyond the data (checkpoints, journal), so a full disk never stops the till's database. */
export const DISK_MARGIN_MB = 512;

export interface DiskFacts {
  freeMB: number;
  oplog: {
    sizeMB: number;
    maxSizeMB: number;
    /** Hours between the oplog's first and last entries. */
    windowHours: number;
    /** The oplog's minimum retention (0: none). */
    minRetentionHours: number;
  };
}

export interface DiskRoom {
  freeMB: number;
  /** What the promise needs: the oplog still to grow, the changes waiting while offline, and a margin. */
  neededMB: number;
  enough: boolean;
}

/**
 * The rule. Local changes arrive at about the rate the oplog fills (MB an
 * hour, once it spans an hour); while the hub is away they wait in the outbox
 * with their version records (about as much again), and the oplog may grow
 * past its size to keep its minimum retention.
 */
export function diskRoom(facts: DiskFacts, offlineDays = OFFLINE_DAYS): DiskRoom {
  const { oplog } = facts;
  const perHour = oplog.windowHours >= 1 ? oplog.sizeMB / oplog.windowHours : 0;
  const oplogToGrow = Math.max(0, oplog.maxSizeMB - oplog.sizeMB);
  const pastItsSize = Math.max(0, perHour * oplog.minRetentionHours - Math.max(oplog.maxSizeMB, oplog.sizeMB));
  const waiting = perHour * 24 * offlineDays;
  const neededMB = Math.round(oplogToGrow + pastItsSize + waiting + DISK_MARGIN_MB);
  return { freeMB: Math.round(facts.freeMB), neededMB, enough: facts.freeMB >= neededMB };
}

/** The facts from the till's mongod; null when it does not report its disk. */
export async function readDiskFacts(client: MongoClient, engineDatabase: string): Promise<DiskFacts | null> {
  const db = await client.db(engineDatabase).command({ dbStats: 1 });
  if (typeof db.fsTotalSize !== 'number' || typeof db.fsUsedSize !== 'number') return null;
  const window = await oplogWindow(client);
  const status = await client.db('admin').command({ serverStatus: 1, oplogTruncation: 1 });
  const retention = Number(status.oplogTruncation?.oplogMinRetentionHours ?? 0);
  return {
    freeMB: (db.fsTotalSize - db.fsUsedSize) / MB,
    oplog: {
      sizeMB: (window?.size ?? 0) / MB,
      maxSizeMB: (window?.maxSize ?? 0) / MB,
      windowHours: (window?.seconds ?? 0) / 3600,
      minRetentionHours: Number.isFinite(retention) ? retention : 0,
    },
  };
}
