/**
 * What the sync engine reports about itself. Shared by the engine, the agent,
 * the Electron main process and the dashboard: plain data, no platform imports.
 */

export type SyncState = 'disabled' | 'starting' | 'synced' | 'syncing' | 'offline' | 'error';

export type SyncDirection = 'push' | 'pull';

/** Lag in milliseconds: the newest sample and percentiles over the last minute. */
export interface LagStats {
  lastMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
}

/** One point per second over the last 15 minutes (null where nothing synced). */
export interface LagPoint {
  /** Epoch milliseconds at the start of the second. */
  t: number;
  pushMs: number | null;
  pullMs: number | null;
}

export interface SyncErrorInfo {
  /** Stable machine-readable reason, e.g. `hub-unreachable`. */
  reason: string;
  /** Plain words for a till operator. */
  message: string;
  /** Epoch milliseconds. */
  at: number;
}

export interface QuarantineSummary {
  count: number;
  latest: Array<{ collection: string; documentId: string; reason: string; at: number }>;
}

export interface SyncStatus {
  state: SyncState;
  deviceId: string;
  enabled: boolean;
  /** Epoch milliseconds of the last moment both directions were caught up. */
  lastSyncedAt: number | null;
  lag: { push: LagStats; pull: LagStats };
  lagSeries: LagPoint[];
  outbox: { depth: number; oldestPendingAgeMs: number | null };
  /** Changes per second over the last ten seconds. */
  rates: { pushPerSec: number; pullPerSec: number };
  conflicts: { count: number };
  lastError: SyncErrorInfo | null;
  /** How long ago each checkpoint was last written. */
  checkpointAgeMs: { capture: number | null; pull: number | null };
  /** Hours of writes the local oplog can hold before change history is lost; null if unknown. */
  oplogHeadroomHours: number | null;
  quarantine: QuarantineSummary;
  /** Clock-drift refusals, in plain words (empty when none). */
  warnings: string[];
  /**
   * A full comparison of this till with the hub (first start, a till that
   * joined late, or change history that was lost), with its progress; null
   * when none is running.
   */
  reconciliation: { compared: number; total: number } | null;
}
