// @jsxRuntime automatic
/** The fleet page: a summary, then one group per store, worst first; a till's detail opens on click. */
import { useState } from 'react';
import type { FleetReport } from '../../src-shared/fleet.ts';
import { ago, COLOUR_TONE, plural } from '../format.ts';
import { useFleet } from '../use-fleet.ts';
import { StoreGroup } from './StoreGroup.tsx';

function headline(report: FleetReport): string {
  const { red, amber, green } = report.counts;
  const total = red + amber + green;
  if (total === 0) return 'No till has reported yet';
  if (red > 0) return `${plural(red, 'till')} ${red === 1 ? 'needs' : 'need'} attention`;
  if (amber > 0) return `${plural(amber, 'till')} to keep an eye on`;
  return total === 1 ? 'The till is well' : `All ${total} tills are well`;
}

export function FleetApp() {
  const { report, fetchedAt, problem } = useFleet();
  const [open, setOpen] = useState<string | null>(null);
  const worst = report ? (report.counts.red > 0 ? 'red' : report.counts.amber > 0 ? 'amber' : 'green') : null;
  const toggle = (deviceId: string) => setOpen((current) => (current === deviceId ? null : deviceId));

  return (
    <div className="app fleet">
      <header className={`status-header tone-${worst ? COLOUR_TONE[worst] : 'off'}`} data-testid="fleet-header">
        <div className="status-title">
          <h1>TillSync fleet</h1>
          <p className="status-backend">Every till that reports to head office</p>
        </div>
        {problem && (
          <p className="banner banner-bad" role="alert" data-testid="fleet-problem">
            {problem}
            {report && ' The last report read is shown below.'}
          </p>
        )}
        {!report && !problem && (
          <p className="banner banner-info" role="status">
            Reading the fleet from head office…
          </p>
        )}
        {report && (
          <div className="status-body">
            <p className="status-headline" role="status" aria-live="polite" data-testid="fleet-headline">
              <span className="status-dot" aria-hidden="true" />
              {headline(report)}
            </p>
            <ul className="status-facts">
              <li data-testid="fleet-counts">
                {report.counts.red} red · {report.counts.amber} amber · {report.counts.green} green
              </li>
              {fetchedAt !== null && <li>Updated {ago(Date.now() - fetchedAt)}</li>}
            </ul>
          </div>
        )}
      </header>
      <main className="fleet-stores">
        {report && report.stores.length === 0 && (
          <section className="panel">
            <p>No till has written a heartbeat to this hub database yet. Tills running TillSync with this hub report every 30 seconds.</p>
          </section>
        )}
        {report?.stores.map((store) => (
          <StoreGroup key={store.storeId ?? ''} store={store} hubTime={report.hubTime} open={open} onToggle={toggle} />
        ))}
        {report && report.unreadable.length > 0 && (
          <section className="panel" aria-labelledby="unreadable-title">
            <h2 id="unreadable-title">Reports that could not be read</h2>
            <ul>
              {report.unreadable.map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </section>
        )}
      </main>
    </div>
  );
}
