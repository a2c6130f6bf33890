/**
 * How the till's mongod is sized, as pure rules (local-mongod.ts does the
 * process work): a capped WiredTiger cache, and an oplog sized from the disk's
 * free space within limits, keeping the hours of history the settings ask for
 * — unless the disk is too small for that, which the plan says in words.
 */
import { MIN_OPLOG_MB, type TillDatabaseSettings } from './till-database-settings.ts';

/** MongoDB's own rule for a default oplog: this share of the free disk space. */
const OPLOG_SHARE_OF_FREE = 0.05;
/**
 * Room a till needs beside the oplog: its POS data growing, and the changes
 * that wait in the outbox while the hub cannot be reached. Below it, the oplog
 * is not allowed to grow past its size to keep its hours of history.
 */
export const RESERVE_MB = 2_048;
/** The history kept when the disk is too small for the configured retention. */
export const SHORT_DISK_RETENTION_HOURS = 24;
/** An existing oplog is resized only when its size is this far from the plan (replSetResizeOplog rewrites nothing, but says so in the log). */
const RESIZE_TOLERANCE = 0.1;

export interface DiskNow {
  /** Free space on the file system of the data folder, in MB. */
  freeMB: number;
  /** The oplog's configured maximum, in MB, when it exists already (a later start); null on first start. */
  oplogMaxMB: number | null;
  /** What the oplog holds now, in MB (0 on first start): its space counts as the oplog's own. */
  oplogUsedMB: number;
}

export interface TillDatabasePlan {
  cacheSizeGB: number;
  oplogSizeMB: number;
  oplogMinRetentionHours: number;
  /** An existing oplog whose size is off the plan: resize it once mongod is up (replSetResizeOplog). */
  resize: boolean;
  /** The disk is too small for the configured history: what was done instead, in words (null: it is not). */
  shortOfSpace: string | null;
}

export function planTillDatabase(disk: DiskNow, settings: TillDatabaseSettings): TillDatabasePlan {
  const available = Math.max(0, disk.freeMB) + Math.max(0, disk.oplogUsedMB);
  const oplogSizeMB = Math.round(Math.min(settings.oplogMaxSizeMB, Math.max(MIN_OPLOG_MB, available * OPLOG_SHARE_OF_FREE)));
  const short = available - oplogSizeMB < RESERVE_MB && settings.oplogMinRetentionHours > SHORT_DISK_RETENTION_HOURS;
  const oplogMinRetentionHours = short ? SHORT_DISK_RETENTION_HOURS : settings.oplogMinRetentionHours;
  const resize = disk.oplogMaxMB !== null && Math.abs(disk.oplogMaxMB - oplogSizeMB) > oplogSizeMB * RESIZE_TOLERANCE;
  return {
    cacheSizeGB: settings.cacheSizeGB,
    oplogSizeMB,
    oplogMinRetentionHours,
    resize,
    shortOfSpace: short
      ? `This till's disk has only ${formatMB(disk.freeMB)} free; TillSync needs ${formatMB(oplogSizeMB + RESERVE_MB)} to keep ` +
        `${settings.oplogMinRetentionHours} hours of change history, so it keeps ${SHORT_DISK_RETENTION_HOURS} hours. ` +
        'Free some space on the disk.'
      : null,
  };
}

/** The mongod options the plan asks for (mongodb-memory-server adds port, data folder, replica set and address). */
export function mongodArgs(plan: TillDatabasePlan): string[] {
  return [
    '--wiredTigerCacheSizeGB',
    String(plan.cacheSizeGB),
    // Read only when the oplog is created (first start); later starts resize it (replSetResizeOplog).
    '--oplogSize',
    String(plan.oplogSizeMB),
    '--oplogMinRetentionHours',
    String(plan.oplogMinRetentionHours),
  ];
}

/** "1.2 GB", "640 MB". */
export function formatMB(mb: number): string {
  return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${Math.round(mb)} MB`;
}
