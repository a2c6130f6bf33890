/** The run's summary table, as lines of text. */
import type { CheckResult } from './checks.ts';
import type { FaultRecord } from './chaos.ts';
import type { WriteRecord } from './journal.ts';
import { FAULT_KINDS, replayCommand, type SoakOptions } from './options.ts';

export interface SoakSummary {
  options: Pick<SoakOptions, 'tills' | 'minutes' | 'seed' | 'faults'>;
  serverKind: string;
  dir: string;
  writes: WriteRecord[];
  noops: number;
  faults: FaultRecord[];
  skipped: Map<string, number>;
  faultErrors: string[];
  conflicts: Record<string, number>;
  quarantined: Record<string, number>;
  agents: Record<string, { state: string; unexpectedExits: number; errors: Map<string, number> }>;
  converged: boolean;
  convergeMs: number;
  checks: CheckResult;
  observer: {
    events: number;
    gaps: number;
    replacedClients: number;
    staleStampsOnHqWrites: number;
    tombstonesBesideLiveDocuments: number;
    failures: string[];
  };
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    `  ${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('   ')}`.trimEnd(),
  );
}

export function summaryLines(s: SoakSummary): string[] {
  const o = s.options;
  const lines: string[] = [];
  lines.push('');
  lines.push(`TillSync soak · seed ${o.seed} · ${o.tills} till(s) · ${o.minutes} min of traffic · servers: ${s.serverKind}`);
  lines.push(`faults enabled: ${o.faults.join(', ') || 'none'}`);
  lines.push('');
  lines.push('writes');
  const kinds = [...new Set(s.writes.map((w) => w.kind))].sort();
  const rows = [['kind', 'acknowledged', 'found applied after an error', 'not applied', 'unknown outcome']];
  for (const kind of kinds) {
    const of = s.writes.filter((w) => w.kind === kind);
    rows.push([
      kind,
      String(of.filter((w) => w.acked && w.applied).length),
      String(of.filter((w) => !w.acked && w.applied).length),
      String(of.filter((w) => w.applied === false).length),
      String(of.filter((w) => w.applied === null).length),
    ]);
  }
  rows.push([
    'total',
    String(s.writes.filter((w) => w.acked && w.applied).length),
    String(s.writes.filter((w) => !w.acked && w.applied).length),
    String(s.writes.filter((w) => w.applied === false).length),
    String(s.writes.filter((w) => w.applied === null).length),
  ]);
  lines.push(...table(rows));
  lines.push(
    `  (${s.noops} menu updates/deletes found nothing to change and are not writes; ${s.writes.filter((w) => w.skewed).length} writes made with a skewed clock)`,
  );
  lines.push('');
  lines.push('faults injected');
  const frows = [['kind', 'count', 'longest (s)']];
  for (const kind of FAULT_KINDS) {
    const of = s.faults.filter((f) => f.kind === kind);
    if (of.length === 0 && !o.faults.includes(kind)) continue;
    frows.push([kind, String(of.length), of.length ? String(Math.max(...of.map((f) => f.lasted))) : '-']);
  }
  lines.push(...table(frows));
  for (const [why, n] of s.skipped) lines.push(`  skipped ${n}× — ${why}`);
  for (const e of s.faultErrors.slice(0, 5)) lines.push(`  fault error: ${e}`);
  lines.push('');
  lines.push(
    `conflicts recorded: ${Object.entries(s.conflicts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')} (total ${Object.values(s.conflicts).reduce((a, b) => a + b, 0)})`,
  );
  lines.push(
    `changes set aside (quarantine): ${Object.entries(s.quarantined)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}`,
  );
  const acc = s.checks.accounted;
  lines.push(
    `till menu writes: ${Object.entries(acc)
      .map(([how, n]) => `${n} ${how}`)
      .join(', ')}${s.checks.unverified ? `, ${s.checks.unverified} unverified (hub history missed)` : ''}${
      s.checks.lostWithHistory ? `, ${s.checks.lostWithHistory} delete(s) made while the till's own history was cut, leaving no trace` : ''
    }`,
  );
  lines.push(
    `hub observer: ${s.observer.events} events, ${s.observer.gaps} gap(s), ${s.observer.replacedClients} client replacement(s), ${s.observer.staleStampsOnHqWrites} stale stamp(s) on HQ-written content, ${s.observer.tombstonesBesideLiveDocuments} tombstone(s) beside a document HQ re-created (both harmless)`,
    ...(s.observer.failures.length > 0 ? [`  its stream failed: ${s.observer.failures.join('; ')}`] : []),
  );
  lines.push(
    `agents at the end: ${Object.entries(s.agents)
      .map(([t, a]) => `${t} ${a.state}${a.unexpectedExits ? ` (${a.unexpectedExits} unexpected exit(s))` : ''}`)
      .join(', ')}`,
  );
  const errs = Object.entries(s.agents).map(([t, a]) => `${t}: ${[...a.errors].map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`);
  lines.push(`agent errors reported: ${errs.join('; ')}`);
  lines.push(s.converged ? `converged ${(s.convergeMs / 1000).toFixed(1)} s after healing` : `did NOT converge within the settle time`);
  lines.push('');
  const v = s.checks.violations;
  lines.push(`violations: ${v.length}`);
  const byCheck = new Map<string, string[]>();
  for (const x of v) byCheck.set(x.check, [...(byCheck.get(x.check) ?? []), x.detail]);
  for (const [check, details] of byCheck) {
    lines.push(`  ✗ ${check}: ${details.length}`);
    for (const d of details.slice(0, 8)) lines.push(`      ${d}`);
    if (details.length > 8) lines.push(`      … ${details.length - 8} more`);
  }
  if (v.length > 0) {
    lines.push('');
    lines.push(`seed ${o.seed}; replay with: ${replayCommand(o)}`);
    lines.push(`data, agent and server logs, the write journal: ${s.dir}`);
  }
  return lines;
}
