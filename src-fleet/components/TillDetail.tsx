// @jsxRuntime automatic
/** Everything a till's last heartbeat said, in words, with every reason for its colour. */
import type { FleetTill } from '../../src-shared/fleet.ts';
import { ago, clockWords, duration, lagWords, plural, STATE_WORDS } from '../format.ts';

export function TillDetail(props: { id: string; till: FleetTill; hubTime: number }) {
  const { till } = props;
  const hb = till.heartbeat;
  const extraParams = Object.entries(hb.params).filter(([key]) => key !== 'name' && key !== 'storeId');
  return (
    <div id={props.id} className="fleet-detail" data-testid="fleet-detail">
      {till.reasons.length > 0 ? (
        <ul className="fleet-reasons" aria-label="Why">
          {till.reasons.map((reason) => (
            <li key={reason.rule} className={`fleet-reason-${reason.colour}`}>
              <strong>{reason.colour === 'red' ? 'Red' : 'Amber'}:</strong> {reason.text}
            </li>
          ))}
        </ul>
      ) : (
        <p>Nothing to report: every rule is met.</p>
      )}
      <dl className="facts">
        <dt>Till id</dt>
        <dd className="mono">{hb.deviceId}</dd>
        {extraParams.map(([key, value]) => (
          <div key={key} className="fleet-param">
            <dt>{key}</dt>
            <dd>{value}</dd>
          </div>
        ))}
        <dt>Sync</dt>
        <dd>{STATE_WORDS[hb.state]}</dd>
        <dt>Last heard from</dt>
        <dd>{ago(props.hubTime - hb.lastSeen)}</dd>
        <dt>Time to reach head office</dt>
        <dd>{lagWords(hb.lag.push)}</dd>
        <dt>Time to arrive from head office</dt>
        <dd>{lagWords(hb.lag.pull)}</dd>
        <dt>Changes waiting to be sent</dt>
        <dd>
          {hb.outbox.depth}
          {hb.outbox.oldestPendingAgeMs !== null && hb.outbox.depth > 0 && (
            <>, the oldest made {duration(hb.outbox.oldestPendingAgeMs)} before the report</>
          )}
        </dd>
        <dt>Conflicts in the last hour</dt>
        <dd>{hb.conflictsLastHour ?? 'unknown'}</dd>
        <dt>Changes set aside</dt>
        <dd>
          {hb.setAside.count}
          {hb.setAside.lastHour !== null && <> ({hb.setAside.lastHour} in the last hour)</>}
        </dd>
        <dt>Till clock</dt>
        <dd>{clockWords(hb.clockOffsetMs)}</dd>
        <dt>Offline time the till can hold</dt>
        <dd>
          {hb.oplogHeadroomHours === null
            ? 'unknown'
            : hb.oplogHeadroomHours < 1
              ? 'less than an hour'
              : `about ${duration(hb.oplogHeadroomHours * 3_600_000)}`}
        </dd>
        {hb.reconciliation && (
          <>
            <dt>Checking against head office</dt>
            <dd>
              {hb.reconciliation.compared} of {plural(hb.reconciliation.total, 'record')} compared
            </dd>
          </>
        )}
        {hb.lastError && (
          <>
            <dt>Last problem</dt>
            <dd>
              {hb.lastError.message} <span className="mono hint">({hb.lastError.reason})</span>
            </dd>
          </>
        )}
        {hb.warnings.length > 0 && (
          <>
            <dt>Warnings</dt>
            <dd>
              <ul className="fleet-warnings">
                {hb.warnings.map((w) => (
                  <li key={w}>{w}</li>
                ))}
              </ul>
            </dd>
          </>
        )}
        <dt>TillSync version</dt>
        <dd>{hb.appVersion}</dd>
      </dl>
    </div>
  );
}
