// @jsxRuntime automatic
/** The top of the dashboard: which till, the sync state in plain words, and what is waiting. */
import { useDashboard } from '../state/context.tsx';
import { useNow } from '../state/use-now.ts';
import { describeState, lastSyncedWords, quarantineWords, reconciliationWords, timeAgo, waitingWords } from '../format.ts';

export function StatusHeader() {
  const info = useDashboard((s) => s.info);
  const status = useDashboard((s) => s.status);
  const connection = useDashboard((s) => s.connection);
  const loadError = useDashboard((s) => s.loadError);
  const now = useNow();

  const words = status ? describeState(status) : null;
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
            {info.backend === 'emulator'
              ? 'Demo: data is kept in a test database (MongoDB emulator)'
              : 'Data is kept in MongoDB on this till'}
            {' · '}TillSync {info.version}
          </p>
        )}
      </div>

      {connection === 'lost' && (
        <p className="banner banner-bad" role="alert" data-testid="connection-lost">
          Dashboard lost contact with the sync service — retrying
        </p>
      )}
      {connection === 'connecting' && (
        <p className="banner banner-info" role="status">
          Connecting to the sync service…
        </p>
      )}
      {connection === 'open' && loadError && (
        <p className="banner banner-bad" role="alert">
          {loadError}
        </p>
      )}

      {/* While the sync service cannot be reached, its last state may no longer be true: show none. */}
      {status && words && connection === 'open' && (
        <div className="status-body">
          <div className="status-state" role="status" aria-live="polite">
            <p className="status-headline" data-testid="status-headline">
              <span className="status-dot" aria-hidden="true" />
              {words.headline}
            </p>
            {words.detail && <p className="status-detail">{words.detail}</p>}
            {status.reconciliation && (
              <p className="status-detail" data-testid="reconciliation">
                {reconciliationWords(status.reconciliation)}
              </p>
            )}
          </div>
          <ul className="status-facts">
            <li data-testid="last-synced">{lastSyncedWords(status.lastSyncedAt, now)}</li>
            <li data-testid="waiting">
              {waitingWords(status.outbox.depth)}
              {status.outbox.depth > 0 && status.outbox.oldestPendingAgeMs !== null && (
                <> (oldest made {timeAgo(now - status.outbox.oldestPendingAgeMs, now)})</>
              )}
            </li>
            {status.quarantine.count > 0 && <li data-testid="quarantined">{quarantineWords(status.quarantine.count)}</li>}
          </ul>
          {status.lastError && status.state !== 'error' && (
            <p className="status-last-error" data-testid="last-error">
              Last problem ({timeAgo(status.lastError.at, now)}): {status.lastError.message}
            </p>
          )}
          {status.warnings.length > 0 && (
            <ul className="status-warnings" aria-label="Warnings" data-testid="warnings">
              {status.warnings.map((warning) => (
                <li key={warning}>{warning}</li>
              ))}
            </ul>
          )}
        </div>
      )}
    </header>
  );
}
