// @jsxRuntime automatic
/** One store's tills, worst first. */
import type { FleetStore } from '../../src-shared/fleet.ts';
import { COLOUR_TONE, storeTitle } from '../format.ts';
import { TillRow } from './TillRow.tsx';

export function StoreGroup(props: { store: FleetStore; hubTime: number; open: string | null; onToggle: (deviceId: string) => void }) {
  const { store } = props;
  const id = `store-${store.storeId ?? 'none'}`;
  return (
    <section className={`panel fleet-store tone-${COLOUR_TONE[store.colour]}`} aria-labelledby={id} data-testid="fleet-store">
      <div className="panel-head">
        <h2 id={id}>{storeTitle(store.storeId)}</h2>
        <span className="hint">{store.tills.length === 1 ? '1 till' : `${store.tills.length} tills`}</span>
      </div>
      <ul className="fleet-tills">
        {store.tills.map((till) => (
          <TillRow key={till.deviceId} till={till} hubTime={props.hubTime} open={props.open === till.deviceId} onToggle={props.onToggle} />
        ))}
      </ul>
    </section>
  );
}
