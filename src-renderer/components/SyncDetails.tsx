// @jsxRuntime automatic
/** Numbers for whoever looks after the till: plain labels, technical values. */
import { useDashboard } from '../state/context.tsx';
import { duration } from '../format.ts';
import type { LagStats } from '../../src-shared/status.ts';

function lagText(stats: LagStats): string {
  const part = (ms: number | null) => (ms === null ? '—' : duration(ms));
  return `last ${part(stats.lastMs)}, typical ${part(stats.p50Ms)}, slowest 5% ${part(stats.p95Ms)}`;
}

function ageText(ms: number | null): string {
  return ms === null ? 'never' : `${duration(ms)} ago`;
}

export function SyncDetails() {
  const status = useDashboard((s) => s.status);
  const info = useDashboard((s) => s.info);
  if (!status) return null;
  return (
    <section className="panel" aria-labelledby="details-title">
      <details>
        <summary>
          <h2 id="details-title" className="summary-title">
            Details for support
          </h2>
        </summary>
        <dl className="facts" data-testid="sync-details">
          <dt>Till id</dt>
          <dd className="mono">{status.deviceId}</dd>
          <dt>Time to reach the hub (last minute)</dt>
          <dd>{lagText(status.lag.push)}</dd>
          <dt>Time to arrive from the hub (last minute)</dt>
          <dd>{lagText(status.lag.pull)}</dd>
          <dt>Changes per second</dt>
          <dd>
            {status.rates.pushPerSec.toFixed(1)} sent, {status.rates.pullPerSec.toFixed(1)} received
          </dd>
          <dt>Changes waiting to be sent</dt>
          <dd>
            {status.outbox.depth}
            {status.outbox.oldestPendingAgeMs !== null && <>, oldest {duration(status.outbox.oldestPendingAgeMs)} old</>}
          </dd>
          <dt>Conflicts recorded</dt>
          <dd>{status.conflicts.count}</dd>
          <dt>Progress last saved</dt>
          <dd>
            sending: {ageText(status.checkpointAgeMs.capture)}; receiving: {ageText(status.checkpointAgeMs.pull)}
          </dd>
          <dt>Offline time the till can hold</dt>
          <dd>{status.oplogHeadroomHours === null ? 'unknown' : `about ${duration(status.oplogHeadroomHours * 3_600_000)}`}</dd>
          {status.lastError && (
            <>
              <dt>Last problem code</dt>
              <dd className="mono">{status.lastError.reason}</dd>
            </>
          )}
          {info && (
            <>
              <dt>Database</dt>
              <dd>{info.backend === 'emulator' ? 'MongoDB emulator (demo and tests only)' : 'MongoDB (mongod)'}</dd>
              <dt>Version</dt>
              <dd>{info.version}</dd>
            </>
          )}
        </dl>
      </details>
    </section>
  );
}
