/**
 * The fleet rules: from one till's heartbeat and the hub's time now, its
 * colour (green, amber or red) and every reason in words. Pure: no clock, no
 * I/O, so a table and a property test hold it to what it promises.
 *
 * Ages are measured by the hub's clock: `lastSeen` was set by the hub, and the
 * fleet reads the hub's time when it looks. A change that was waiting at the
 * last beat has waited that much longer since.
 */
import type { DeviceHeartbeat, FleetColour, FleetReason, FleetRule } from '../../src-shared/fleet.ts';
import type { FleetRules, RuleColour } from './rules-config.ts';
import { duration, plural } from './words.ts';

export const COLOUR_RANK: Readonly<Record<FleetColour, number>> = { green: 0, amber: 1, red: 2 };

const RULE_ORDER: readonly FleetRule[] = [
  'notSeen',
  'changeWaiting',
  'oplogHeadroom',
  'syncProblem',
  'paused',
  'lag',
  'conflicts',
  'setAside',
  'clock',
];

export interface Verdict {
  colour: FleetColour;
  /** Worst first. */
  reasons: FleetReason[];
}

/** How long the hub has not heard from the till (never negative). */
export function silentForMs(hb: Pick<DeviceHeartbeat, 'lastSeen'>, hubNow: number): number {
  return Math.max(0, hubNow - hb.lastSeen);
}

/** The age of the oldest change waiting on the till now, as far as the fleet can tell; null when none waits. */
export function waitingForMs(hb: Pick<DeviceHeartbeat, 'outbox' | 'lastSeen'>, hubNow: number): number | null {
  if (hb.outbox.depth === 0 || hb.outbox.oldestPendingAgeMs === null) return null;
  return hb.outbox.oldestPendingAgeMs + silentForMs(hb, hubNow);
}

function clockWords(offsetMs: number): string {
  return `The till’s clock is ${duration(Math.abs(offsetMs))} ${offsetMs > 0 ? 'fast' : 'slow'} compared with head office`;
}

function lagWords(hb: DeviceHeartbeat, overMs: number): string | null {
  const parts: string[] = [];
  const push = hb.lag.push.p95Ms;
  const pull = hb.lag.pull.p95Ms;
  if (push !== null && push > overMs) parts.push(`reach head office in up to ${duration(push)}`);
  if (pull !== null && pull > overMs) parts.push(`arrive from head office in up to ${duration(pull)}`);
  return parts.length === 0 ? null : `Changes ${parts.join(' and ')} (slowest 5% in the last minute)`;
}

/** Each rule: its words when it applies to this heartbeat, else null. */
function findings(hb: DeviceHeartbeat, hubNow: number, r: FleetRules): Record<FleetRule, string | null> {
  const silent = silentForMs(hb, hubNow);
  const waiting = waitingForMs(hb, hubNow);
  const setAside = hb.setAside.count;
  const oplog = hb.oplogHeadroomHours;
  return {
    notSeen:
      silent <= r.notSeen.minutes * 60_000
        ? null
        : hb.state === 'stopped'
          ? `TillSync was stopped on this till ${duration(silent)} ago and has not been heard from since`
          : `Not heard from for ${duration(silent)} (the till may be switched off or cannot reach head office)`,
    changeWaiting:
      waiting === null || waiting <= r.changeWaiting.minutes * 60_000
        ? null
        : `A change has waited ${duration(waiting)} to be sent to head office (${plural(hb.outbox.depth, 'change')} waiting)`,
    oplogHeadroom:
      oplog === null || oplog >= r.oplogHeadroom.hours
        ? null
        : `The till’s database keeps only about ${duration(oplog * 3_600_000)} of changes; offline longer than that, it must compare every record with head office`,
    lag: lagWords(hb, r.lag.seconds * 1000),
    conflicts:
      hb.conflictsLastHour === null || hb.conflictsLastHour <= r.conflicts.perHour
        ? null
        : `${plural(hb.conflictsLastHour, 'conflict')} in the last hour (the same record changed in two places)`,
    setAside:
      setAside <= r.setAside.count
        ? null
        : setAside === 1
          ? '1 change could not be synced and was set aside'
          : `${setAside} changes could not be synced and were set aside`,
    clock: hb.clockOffsetMs === null || Math.abs(hb.clockOffsetMs) < r.clock.seconds * 1000 ? null : clockWords(hb.clockOffsetMs),
    syncProblem:
      hb.state !== 'error' ? null : `Sync has a problem it cannot fix by itself: ${hb.lastError?.message ?? 'no details were given'}`,
    paused:
      hb.state === 'disabled'
        ? 'Sync is paused on this till; its changes wait there until someone resumes it'
        : hb.state === 'stopped'
          ? 'TillSync was stopped on this till'
          : null,
  };
}

/** The colour of one till and why. */
export function judgeTill(hb: DeviceHeartbeat, hubNow: number, rules: FleetRules): Verdict {
  const found = findings(hb, hubNow, rules);
  const reasons: FleetReason[] = [];
  for (const rule of RULE_ORDER) {
    const text = found[rule];
    const colour: RuleColour = rules[rule].colour;
    if (text !== null && colour !== 'off') reasons.push({ rule, colour, text });
  }
  reasons.sort((a, b) => COLOUR_RANK[b.colour] - COLOUR_RANK[a.colour]); // stable: rule order within a colour
  return { colour: reasons[0]?.colour ?? 'green', reasons };
}

/** The worse of two colours. */
export function worse(a: FleetColour, b: FleetColour): FleetColour {
  return COLOUR_RANK[a] >= COLOUR_RANK[b] ? a : b;
}
