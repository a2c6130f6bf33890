/**
 * A heartbeat document as the hub holds it, turned into a `DeviceHeartbeat`
 * once, at the edge. Tills of other versions may write more or fewer fields:
 * what is missing or malformed reads as unknown (null), and only a document
 * without a device id or a `lastSeen` is refused, with the reason in words.
 */
import { z } from 'zod';
import type { DeviceHeartbeat, HeartbeatState } from '../../src-shared/fleet.ts';
import { HEARTBEAT_EVERY_MS } from '../../src-shared/fleet.ts';

const STATES: readonly HeartbeatState[] = ['disabled', 'starting', 'synced', 'syncing', 'offline', 'error', 'stopped'];

const num = z.number().finite().nullable().catch(null);
const count = z.number().finite().min(0).catch(0);
const lag = z.object({ p50Ms: num, p95Ms: num }).catch({ p50Ms: null, p95Ms: null });
const text = z.string().nullable().catch(null);

const schema = z.object({
  deviceId: z.string().min(1),
  name: text,
  storeId: text,
  params: z.record(z.string(), z.string()).catch({}),
  appVersion: z.string().catch('unknown'),
  state: z.enum(STATES as [HeartbeatState, ...HeartbeatState[]]).catch('error'),
  enabled: z.boolean().catch(true),
  lag: z.object({ push: lag, pull: lag }).catch({ push: { p50Ms: null, p95Ms: null }, pull: { p50Ms: null, p95Ms: null } }),
  outbox: z.object({ depth: count, oldestPendingAgeMs: num }).catch({ depth: 0, oldestPendingAgeMs: null }),
  conflictsLastHour: num,
  setAside: z.object({ count, lastHour: num }).catch({ count: 0, lastHour: null }),
  clockOffsetMs: num,
  oplogHeadroomHours: num,
  lastError: z.object({ reason: z.string(), message: z.string(), at: z.number() }).nullable().catch(null),
  lastSyncedAt: num,
  warnings: z.array(z.string()).catch([]),
  reconciliation: z.object({ compared: z.number(), total: z.number() }).nullable().catch(null),
  beatEveryMs: z.number().positive().catch(HEARTBEAT_EVERY_MS),
  lastSeen: z.date(),
});

/** The heartbeat, or why it cannot be read. */
export function decodeHeartbeat(doc: Record<string, unknown>): DeviceHeartbeat | { problem: string } {
  const result = schema.safeParse({ ...doc, deviceId: doc.deviceId ?? doc._id });
  if (result.success) return { ...result.data, lastSeen: result.data.lastSeen.getTime() };
  const id = typeof doc._id === 'string' ? `"${doc._id}"` : 'without an id';
  const fields = [...new Set(result.error.issues.map((i) => i.path.join('.') || '(document)'))].join(', ');
  return { problem: `The report of till ${id} cannot be read (${fields} missing or wrong)` };
}
