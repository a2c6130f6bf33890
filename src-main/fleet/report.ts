/**
 * The fleet report: every till judged, grouped by store, worst first — what
 * the page shows and `--json` prints. Pure.
 */
import type { DeviceHeartbeat, FleetColour, FleetReport, FleetStore, FleetTill } from '../../src-shared/fleet.ts';
import { decodeHeartbeat } from './decode.ts';
import type { FleetRules } from './rules-config.ts';
import { COLOUR_RANK, judgeTill, worse } from './rules.ts';

const byName = (a: string, b: string): number => a.localeCompare(b, 'en', { numeric: true });

/** Worst first, then more reasons first, then by name. */
export function compareTills(a: FleetTill, b: FleetTill): number {
  return COLOUR_RANK[b.colour] - COLOUR_RANK[a.colour] || b.reasons.length - a.reasons.length || byName(a.name, b.name);
}

function countOf(tills: FleetTill[], colour: FleetColour): number {
  return tills.filter((t) => t.colour === colour).length;
}

/** Worst store first; then the one with more red, then more amber tills; then by id, tills without a store last. */
export function compareStores(a: FleetStore, b: FleetStore): number {
  return (
    COLOUR_RANK[b.colour] - COLOUR_RANK[a.colour] ||
    countOf(b.tills, 'red') - countOf(a.tills, 'red') ||
    countOf(b.tills, 'amber') - countOf(a.tills, 'amber') ||
    (a.storeId === null ? 1 : 0) - (b.storeId === null ? 1 : 0) ||
    byName(a.storeId ?? '', b.storeId ?? '')
  );
}

export function judgeFleet(heartbeats: DeviceHeartbeat[], hubTime: number, rules: FleetRules, unreadable: string[] = []): FleetReport {
  const stores = new Map<string | null, FleetTill[]>();
  const counts: Record<FleetColour, number> = { green: 0, amber: 0, red: 0 };
  for (const hb of heartbeats) {
    const verdict = judgeTill(hb, hubTime, rules);
    const till: FleetTill = { deviceId: hb.deviceId, name: hb.name ?? hb.deviceId, storeId: hb.storeId, ...verdict, heartbeat: hb };
    counts[till.colour] += 1;
    const group = stores.get(hb.storeId);
    if (group) group.push(till);
    else stores.set(hb.storeId, [till]);
  }
  const grouped: FleetStore[] = [...stores].map(([storeId, tills]) => ({
    storeId,
    colour: tills.reduce<FleetColour>((c, t) => worse(c, t.colour), 'green'),
    tills: tills.sort(compareTills),
  }));
  return { hubTime, counts, stores: grouped.sort(compareStores), unreadable };
}

/** The report from the hub's documents as read. */
export function fleetReport(docs: Array<Record<string, unknown>>, hubTime: number, rules: FleetRules): FleetReport {
  const heartbeats: DeviceHeartbeat[] = [];
  const unreadable: string[] = [];
  for (const doc of docs) {
    const decoded = decodeHeartbeat(doc);
    if ('problem' in decoded) unreadable.push(decoded.problem);
    else heartbeats.push(decoded);
  }
  return judgeFleet(heartbeats, hubTime, rules, unreadable);
}

/** Whether `--json` should exit 1. */
export function anyRed(report: FleetReport): boolean {
  return report.counts.red > 0;
}
