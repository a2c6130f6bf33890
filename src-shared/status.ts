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

/**
 * Messages that reach the dashboard travel as data too: a stable code and the
 * values its sentence needs, next to the English text. The dashboard says a
 * code it knows in the operator's language and shows the English text for one
 * it does not (a newer engine's). Values are plain: durations in milliseconds,
 * names and server text as they are.
 */
export type MessageParams = Record<string, string | number>;

/** A code with exactly the params it needs, for whoever fills these fields: `{ code, params } satisfies Coded<SyncErrorParams>`. */
export type Coded<P> = { [C in keyof P]: { code: C; params: P[C] } }[keyof P];

type NoParams = Record<string, never>;
type Side = 'hub' | 'local';
/** Why a side refused a document for good: a unique index, a validator, its size, a value, or else. */
export type RefusalCause = 'unique' | 'validation' | 'size' | 'value' | 'other';

/** `SyncErrorInfo.code` → its params. */
export interface SyncErrorParams {
  /** The hub cannot be reached; changes are kept. (A `reason` of `hub-unreachable` means the same when no code is sent.) */
  'hub-unreachable': NoParams;
  /** This till's database cannot be reached. (Likewise the `local-unreachable` reason.) */
  'local-unreachable': NoParams;
  /** A change stream's history no longer reaches back far enough; a full comparison is needed. */
  'history-lost': { side: Side };
  /** A side ended a read in progress (a restart): nothing was refused, the stream was reopened. */
  'read-interrupted': { side: Side };
  /** A side's transaction met another writing the same records at the same moment (a write conflict): tried again, nothing refused. */
  busy: { side: Side };
  /** The hub refused a change: the server's own words and error code. */
  'hub-rejected': { detail: string; serverCode: string };
  /** This till's database refused a change. */
  'local-rejected': { detail: string; serverCode: string };
  /** Anything else: the error's own text. */
  unexpected: { detail: string };
  /** No hub connection string is set yet. */
  'no-hub-set': NoParams;
  /** The saved hub connection string cannot be used: what is wrong with it. */
  'hub-uri-unusable': { detail: string };
  /** The saved sync settings cannot be used: what is wrong with them. */
  'settings-unusable': { detail: string };
}
export type SyncErrorCode = keyof SyncErrorParams;

/** `SyncWarning.code` → its params. */
export interface SyncWarningParams {
  /** This till's clock differs from head office's by `offsetMs` (positive); `direction` says which way. */
  'till-clock-off': { offsetMs: number; direction: 'fast' | 'slow' };
  /** Changes from `device` carry a time `aheadMs` ahead of this till's clock; they wait until the clocks agree. */
  'clock-drift': { device: string; aheadMs: number };
  /** Another TillSync (process `pid` on `host`, syncing as `device` since `sinceMs`, epoch ms) syncs this till; this one waits. */
  'another-engine': { device: string; host: string; pid: number; sinceMs: number };
  /**
   * This till's disk has `freeMb` MB free, less than the `neededMb` MB that `offlineDays` days without
   * the hub need at today's rate of changes (changes waiting to be sent, and the change history).
   */
  'disk-low': { freeMb: number; neededMb: number; offlineDays: number };
}
export type SyncWarningCode = keyof SyncWarningParams;

/** A quarantine record's `reasonCode` → its params. */
export interface QuarantineReasonParams {
  /** A change of a type sync does not apply (`operation`, e.g. `shardCollection`). */
  'unknown-change-type': { operation: string };
  /** A delete whose tombstone carries a version that cannot be read. */
  'malformed-tombstone-version': { version: string };
  /** A document whose sync metadata cannot be read: what is wrong with it. */
  'malformed-sync-metadata': { detail: string };
  /** A document whose sync version cannot be read. */
  'malformed-version': { version: string };
  /** A document over MongoDB's 16 MB limit. */
  'document-too-large': NoParams;
  /** A change from `device` made `aheadMs` ahead of this till's clock; kept until the clocks agree. */
  'clock-drift': { device: string; aheadMs: number };
  /** One side (`side`) refused this document for good: why (`cause`), and the server's own words and code. */
  refused: { side: Side; cause: RefusalCause; detail: string; serverCode: string };
  /** Too large to sync with what sync keeps beside it: its size and the most it may be, in MB. */
  'too-large-to-sync': { sizeMb: number; limitMb: number };
}
export type QuarantineReasonCode = keyof QuarantineReasonParams;

export interface SyncErrorInfo {
  /** Stable machine-readable reason, e.g. `hub-unreachable`. */
  reason: string;
  /** Plain words for a till operator (English). */
  message: string;
  /** Epoch milliseconds. */
  at: number;
  /** What `message` says, as data, so the dashboard can say it in the operator's language. */
  code?: SyncErrorCode;
  params?: MessageParams;
}

/** One warning: the English text (as in `SyncStatus.warnings`) and what it says as data. */
export interface SyncWarning {
  code: SyncWarningCode;
  params: MessageParams;
  message: string;
}

export interface QuarantineSummary {
  count: number;
  latest: Array<{
    collection: string;
    documentId: string;
    /** Why it was set aside (English). */
    reason: string;
    at: number;
    /** What `reason` says, as data. */
    reasonCode?: QuarantineReasonCode;
    reasonParams?: MessageParams;
    /** For `setAside.retry` / `setAside.discard`. */
    id?: string;
    /** Which side refused it: the hub (a change of this till's), or this till's database (a hub change). */
    side?: Side;
    /** Staff asked to try it again or to discard it, and the engine is doing so. */
    handling?: 'retry' | 'discard';
  }>;
}

/** How far back a till's conflict history goes: each conflict is kept whole for `keepDays` days, at most `keepEntries` of them. */
export interface HistoryReach {
  /** Epoch milliseconds of the oldest conflict still kept; null when none is. */
  conflictsSince: number | null;
  /** Older conflicts, no longer kept, only counted. */
  olderConflicts: number;
  keepDays: number;
  keepEntries: number;
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
  /** The same warnings as data (code, params and the English text); when present, the dashboard shows these. */
  warningDetails?: SyncWarning[];
  /**
   * A full comparison of this till with the hub (first start, a till that
   * joined late, or change history that was lost), with its progress; null
   * when none is running.
   */
  reconciliation: { compared: number; total: number } | null;
  /** How far back the conflict history goes; absent until the engine has looked (or from an engine that does not say). */
  history?: HistoryReach;
}
