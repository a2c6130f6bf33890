/**
 * The fleet contract: what each engine writes to the hub about itself (a
 * heartbeat, one document per till in `_tillsync_devices`), and what the
 * fleet view makes of them (a colour and reasons in words per till, grouped
 * by store). Shared by the heartbeat writer, the fleet server, `--json` and
 * the fleet page: plain data, no platform imports.
 */
import type { SyncState } from './status.ts';

/** The hub collection that holds one heartbeat per till (an engine collection: it never syncs to tills). */
export const DEVICES_COLLECTION = '_tillsync_devices';

/** How often an engine writes its heartbeat when nothing changes. */
export const HEARTBEAT_EVERY_MS = 30_000;

/** A heartbeat's state: the engine's, or `stopped` when it said goodbye as it shut down. */
export type HeartbeatState = SyncState | 'stopped';

/** Lag percentiles over the last minute, in milliseconds (null where nothing synced). */
export interface HeartbeatLag {
  p50Ms: number | null;
  p95Ms: number | null;
}

/** One till's heartbeat as the fleet reads it (the hub document, decoded). */
export interface DeviceHeartbeat {
  deviceId: string;
  /** A name people use for the till ("Till 3"); null when none is configured. */
  name: string | null;
  /** The store the till belongs to; null when none is configured. */
  storeId: string | null;
  /** Every device parameter from the till's configuration (name and storeId included). */
  params: Record<string, string>;
  appVersion: string;
  state: HeartbeatState;
  enabled: boolean;
  lag: { push: HeartbeatLag; pull: HeartbeatLag };
  outbox: { depth: number; oldestPendingAgeMs: number | null };
  /** Conflicts recorded on the till in the hour before the beat; null if it could not count them. */
  conflictsLastHour: number | null;
  /** Changes set aside (could not be applied) now, and in the hour before the beat. */
  setAside: { count: number; lastHour: number | null };
  /** The till's clock minus the hub's, in milliseconds (under a second reads as 0); null before it was measured. */
  clockOffsetMs: number | null;
  /** Hours of writes the till's oplog can hold; null if unknown. */
  oplogHeadroomHours: number | null;
  lastError: { reason: string; message: string; at: number } | null;
  /** Epoch ms (till's clock) when both directions were last caught up. */
  lastSyncedAt: number | null;
  warnings: string[];
  reconciliation: { compared: number; total: number } | null;
  /** How often this till beats, so the fleet knows what "late" means for it. */
  beatEveryMs: number;
  /** When the hub received the beat, by the hub's clock (epoch ms). */
  lastSeen: number;
}

/** The colour of a till in the fleet view, worst last. */
export type FleetColour = 'green' | 'amber' | 'red';

/** The rules the fleet view applies; each names one reason a till is amber or red. */
export const FLEET_RULES = [
  'notSeen',
  'changeWaiting',
  'oplogHeadroom',
  'lag',
  'conflicts',
  'setAside',
  'clock',
  'syncProblem',
  'paused',
] as const;
export type FleetRule = (typeof FLEET_RULES)[number];

export interface FleetReason {
  rule: FleetRule;
  colour: Exclude<FleetColour, 'green'>;
  /** The reason in words for head office's IT person. */
  text: string;
}

export interface FleetTill {
  deviceId: string;
  /** The till's name, or its device id when it has none. */
  name: string;
  storeId: string | null;
  colour: FleetColour;
  /** Worst first; empty when green. */
  reasons: FleetReason[];
  heartbeat: DeviceHeartbeat;
}

export interface FleetStore {
  /** null: tills with no store configured. */
  storeId: string | null;
  colour: FleetColour;
  /** Worst first, then by name. */
  tills: FleetTill[];
}

export interface FleetReport {
  /** The hub's clock when the report was made (epoch ms): every age is measured against it. */
  hubTime: number;
  counts: Record<FleetColour, number>;
  /** Worst store first. */
  stores: FleetStore[];
  /** Heartbeat documents that could not be read (an older or foreign writer), in words. */
  unreadable: string[];
}
