// @jsxRuntime automatic
/** Numbers for whoever looks after the till: plain labels, technical values. */
import { useDashboard } from '../state/context.tsx';
import { useWords } from '../i18n/language.tsx';
import type { Words } from '../i18n/words.ts';
import type { LagStats } from '../../src-shared/status.ts';

function lagText(w: Words, stats: LagStats): string {
  const part = (ms: number | null) => (ms === null ? '—' : w.duration(ms));
  return w.t('details.lag', { last: part(stats.lastMs), typical: part(stats.p50Ms), slowest: part(stats.p95Ms) });
}

function ageText(w: Words, ms: number | null): string {
  return ms === null ? w.t('time.never') : w.t('time.ago', { duration: w.duration(ms) });
}

export function SyncDetails() {
  const w = useWords();
  const status = useDashboard((s) => s.status);
  const info = useDashboard((s) => s.info);
  if (!status) return null;
  return (
    <section className="panel" aria-labelledby="details-title">
      <details>
        <summary>
          <h2 id="details-title" className="summary-title">
            {w.t('details.title')}
          </h2>
        </summary>
        <dl className="facts" data-testid="sync-details">
          <dt>{w.t('details.till-id')}</dt>
          <dd className="mono">{status.deviceId}</dd>
          <dt>{w.t('details.push-lag')}</dt>
          <dd>{lagText(w, status.lag.push)}</dd>
          <dt>{w.t('details.pull-lag')}</dt>
          <dd>{lagText(w, status.lag.pull)}</dd>
          <dt>{w.t('details.rates')}</dt>
          <dd>
            {w.t('details.rates.value', { sent: w.number(status.rates.pushPerSec, 1), received: w.number(status.rates.pullPerSec, 1) })}
          </dd>
          <dt>{w.t('details.waiting')}</dt>
          <dd>
            {status.outbox.oldestPendingAgeMs === null
              ? w.number(status.outbox.depth)
              : w.t('details.waiting.oldest', { count: status.outbox.depth, age: w.duration(status.outbox.oldestPendingAgeMs) })}
          </dd>
          <dt>{w.t('details.conflicts')}</dt>
          <dd>{w.number(status.conflicts.count)}</dd>
          <dt>{w.t('details.checkpoints')}</dt>
          <dd>
            {w.t('details.checkpoints.value', {
              capture: ageText(w, status.checkpointAgeMs.capture),
              pull: ageText(w, status.checkpointAgeMs.pull),
            })}
          </dd>
          <dt>{w.t('details.headroom')}</dt>
          <dd>
            {status.oplogHeadroomHours === null
              ? w.t('details.unknown')
              : w.t('details.headroom.value', { duration: w.duration(status.oplogHeadroomHours * 3_600_000) })}
          </dd>
          {status.lastError && (
            <>
              <dt>{w.t('details.problem-code')}</dt>
              <dd className="mono">{status.lastError.reason}</dd>
            </>
          )}
          {info && (
            <>
              <dt>{w.t('details.database')}</dt>
              <dd>{w.t(info.backend === 'emulator' ? 'details.database.emulator' : 'details.database.mongod')}</dd>
              <dt>{w.t('details.version')}</dt>
              <dd>{info.version}</dd>
            </>
          )}
        </dl>
      </details>
    </section>
  );
}
