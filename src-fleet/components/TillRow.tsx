// @jsxRuntime automatic
/** A till in the list: its colour in words, its name, the main reason; a click shows its detail. */
import type { FleetTill } from '../../src-shared/fleet.ts';
import { ago, COLOUR_TONE, COLOUR_WORDS, STATE_WORDS } from '../format.ts';
import { TillDetail } from './TillDetail.tsx';

export function TillRow(props: { till: FleetTill; hubTime: number; open: boolean; onToggle: (deviceId: string) => void }) {
  const { till } = props;
  const detailId = `till-detail-${till.deviceId}`;
  const first = till.reasons[0];
  const more = till.reasons.length - 1;
  return (
    <li
      className={`fleet-till tone-${COLOUR_TONE[till.colour]}`}
      data-testid="fleet-till"
      data-device={till.deviceId}
      data-colour={till.colour}
    >
      <button
        type="button"
        className="fleet-till-summary"
        aria-expanded={props.open}
        aria-controls={detailId}
        onClick={() => props.onToggle(till.deviceId)}
      >
        <span className="fleet-colour">
          <span className="status-dot" aria-hidden="true" />
          {COLOUR_WORDS[till.colour]}
        </span>
        <span className="fleet-name">{till.name}</span>
        <span className="fleet-reason" data-testid="fleet-reason">
          {first ? first.text : STATE_WORDS[till.heartbeat.state]}
          {more > 0 && <span className="fleet-more"> (+{more} more)</span>}
        </span>
        <span className="fleet-seen hint">seen {ago(props.hubTime - till.heartbeat.lastSeen)}</span>
      </button>
      {props.open && <TillDetail id={detailId} till={till} hubTime={props.hubTime} />}
    </li>
  );
}
