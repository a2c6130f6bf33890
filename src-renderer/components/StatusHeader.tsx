// @jsxRuntime automatic
/**
 * The top of the dashboard, kept compact for an 800×600 till: which till, the
 * sync state in plain words, and what is waiting. Changes here are announced
 * by the Announcer once they settle, not as they flicker.
 */
import { useDashboard } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { useWords } from '../i18n/language.tsx';
import { describeState, errorWords, lastSyncedWords, warningWords } from '../format.ts';

export function StatusHeader() {
  const w = useWords();
  const info = useDashboard((s) => s.info);
  const status = useDashboard((s) => s.status);
  const connection = useDashboard((s) => s.connection);
  const loadError = useDashboard((s) => s.loadError);
  const now = useNow();

  const words = status ? describeState(w, status) : null;
  const warnings = status ? warningWords(w, status) : [];
  return (
    <header
      className={`status-header tone-${connection === 'open' ? (words?.tone ?? 'off') : connection === 'lost' ? 'bad' : 'off'}`}
      data-testid="status-header"
      data-state={connection === 'open' ? (status?.state ?? 'unknown') : 'unknown'}
    >
      <div className="status-title">
        <h1>{info ? info.tillName : 'TillSync'}</h1>
        {info && (
          <p className="status-backend" data-testid="backend">
            {w.t(info.backend === 'emulator' ? 'header.backend.emulator' : 'header.backend.mongod')}
            {' · '}
            {w.t('header.version', { version: info.version })}
          </p>
        )}
      </div>

      {connection === 'lost' && (
        <p className="banner banner-bad" role="alert" data-testid="connection-lost">
          {w.t('header.connection-lost')}
        </p>
      )}
      {connection === 'connecting' && <p className="banner banner-info">{w.t('header.connecting')}</p>}
      {connection === 'open' && loadError && (
        <p className="banner banner-bad" role="alert">
          {loadError}
        </p>
      )}

      {/* While the sync service cannot be reached, its last state may no longer be true: show none. */}
      {status && words && connection === 'open' && (
        <div className="status-body">
          <div className="status-state">
            <p className="status-headline" data-testid="status-headline">
              <span className="status-dot" aria-hidden="true" />
              {words.headline}
            </p>
            {words.detail && <p className="status-detail">{words.detail}</p>}
            {status.reconciliation && (
              <p className="status-detail" data-testid="reconciliation">
                {w.t('header.reconciliation', { compared: status.reconciliation.compared, total: status.reconciliation.total })}
              </p>
            )}
          </div>
          <ul className="status-facts">
            <li data-testid="last-synced">{lastSyncedWords(w, status.lastSyncedAt, now)}</li>
            <li data-testid="waiting">
              {w.t('header.waiting', { count: status.outbox.depth })}
              {status.outbox.depth > 0 && status.outbox.oldestPendingAgeMs !== null && (
                <> {w.t('header.waiting.oldest', { ago: w.timeAgo(now - status.outbox.oldestPendingAgeMs, now) })}</>
              )}
            </li>
            {status.quarantine.count > 0 && (
              <li data-testid="quarantined">{w.t('header.quarantined', { count: status.quarantine.count })}</li>
            )}
          </ul>
          {status.lastError && status.state !== 'error' && (
            <p className="status-last-error" data-testid="last-error">
              {w.t('header.last-problem', { ago: w.timeAgo(status.lastError.at, now), message: errorWords(w, status.lastError) })}
            </p>
          )}
          {warnings.length > 0 && (
            <ul className="status-warnings" aria-label={w.t('header.warnings')} data-testid="warnings">
              {warnings.map((warning) => (
                <li key={warning}>{warning}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </header>
  );
}
