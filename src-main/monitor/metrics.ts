/**
 * The engine's status as Prometheus metrics (prom-client): every figure under
 * a `tillsync_` name with a `device` label, in base units (seconds). Values
 * the status does not know (no lag yet, no error) are left out rather than
 * shown as 0.
 */
import { Gauge, Registry } from 'prom-client';
import type { SyncState, SyncStatus } from '../../src-shared/status.ts';

const STATES: readonly SyncState[] = ['disabled', 'starting', 'synced', 'syncing', 'offline', 'error'];

export interface StatusMetrics {
  readonly contentType: string;
  /** The metrics text for this status. */
  render(status: SyncStatus): Promise<string>;
}

export function createStatusMetrics(): StatusMetrics {
  const registry = new Registry();
  const gauge = <L extends string>(name: string, help: string, labels: readonly L[] = []) =>
    new Gauge<L | 'device'>({ name: `tillsync_${name}`, help, labelNames: ['device', ...labels], registers: [registry] });

  const state = gauge('state', 'Sync state: 1 for the current state, 0 for the others', ['state']);
  const enabled = gauge('enabled', 'Whether sync is switched on (1) or paused (0)');
  const lag = gauge('lag_seconds', 'Time for a change to reach the other side over the last minute (stat: last, p50, p95)', [
    'direction',
    'stat',
  ]);
  const rate = gauge('changes_per_second', 'Changes synced per second over the last ten seconds', ['direction']);
  const outbox = gauge('outbox_depth', 'Local changes waiting to be sent to the hub');
  const oldest = gauge('outbox_oldest_age_seconds', 'Age of the oldest change waiting to be sent');
  const conflicts = gauge('conflicts', 'Conflicts in the till’s conflict log');
  const setAside = gauge('set_aside', 'Changes that could not be applied and were set aside');
  const lastSynced = gauge('last_synced_timestamp_seconds', 'When both directions were last caught up (Unix time)');
  const lastError = gauge('last_error_timestamp_seconds', 'When the last problem happened (Unix time), by its reason', ['reason']);
  const checkpoint = gauge('checkpoint_age_seconds', 'How long ago each checkpoint was written', ['checkpoint']);
  const oplog = gauge('oplog_headroom_seconds', 'How much writing the till’s oplog holds before change history is lost');
  const warnings = gauge('warnings', 'Warnings in the status (clock drift, a till clock that is off)');
  const reconcileCompared = gauge('reconciliation_compared', 'Records compared so far by a running full comparison with the hub');
  const reconcileTotal = gauge('reconciliation_total', 'Records a running full comparison with the hub will compare');

  const seconds = (ms: number | null) => (ms === null ? null : ms / 1000);
  function set(g: Gauge<string>, labels: Record<string, string>, value: number | null): void {
    if (value !== null && Number.isFinite(value)) g.set(labels, value);
  }

  return {
    contentType: registry.contentType,
    async render(s: SyncStatus): Promise<string> {
      registry.resetMetrics();
      const device = s.deviceId || 'unknown';
      for (const name of STATES) state.set({ device, state: name }, s.state === name ? 1 : 0);
      enabled.set({ device }, s.enabled ? 1 : 0);
      for (const direction of ['push', 'pull'] as const) {
        const stats = s.lag[direction];
        set(lag, { device, direction, stat: 'last' }, seconds(stats.lastMs));
        set(lag, { device, direction, stat: 'p50' }, seconds(stats.p50Ms));
        set(lag, { device, direction, stat: 'p95' }, seconds(stats.p95Ms));
      }
      rate.set({ device, direction: 'push' }, s.rates.pushPerSec);
      rate.set({ device, direction: 'pull' }, s.rates.pullPerSec);
      outbox.set({ device }, s.outbox.depth);
      set(oldest, { device }, seconds(s.outbox.oldestPendingAgeMs));
      conflicts.set({ device }, s.conflicts.count);
      setAside.set({ device }, s.quarantine.count);
      set(lastSynced, { device }, seconds(s.lastSyncedAt));
      if (s.lastError) lastError.set({ device, reason: s.lastError.reason }, s.lastError.at / 1000);
      set(checkpoint, { device, checkpoint: 'capture' }, seconds(s.checkpointAgeMs.capture));
      set(checkpoint, { device, checkpoint: 'pull' }, seconds(s.checkpointAgeMs.pull));
      set(oplog, { device }, s.oplogHeadroomHours === null ? null : s.oplogHeadroomHours * 3600);
      warnings.set({ device }, s.warnings.length);
      if (s.reconciliation) {
        reconcileCompared.set({ device }, s.reconciliation.compared);
        reconcileTotal.set({ device }, s.reconciliation.total);
      }
      return registry.metrics();
    },
  };
}
