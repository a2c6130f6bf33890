// @jsxRuntime automatic
/** The dashboard: the status header, then three tabs. */
import { useRef, useState, type KeyboardEvent } from 'react';
import { useDashboard } from '../state/context.tsx';
import { StatusHeader } from './StatusHeader.tsx';
import { LagChart } from './LagChart.tsx';
import { SyncDetails } from './SyncDetails.tsx';
import { ConflictHistory } from './ConflictHistory.tsx';
import { SyncToggle } from './SyncToggle.tsx';
import { HubConnection } from './HubConnection.tsx';
import { Policies } from './Policies.tsx';
import { StartAtLogin } from './StartAtLogin.tsx';

const TABS = ['status', 'conflicts', 'settings'] as const;
type Tab = (typeof TABS)[number];

export function App() {
  const [tab, setTab] = useState<Tab>('status');
  const conflictCount = useDashboard((s) => s.status?.conflicts.count ?? null);
  const tabRefs = useRef<Record<Tab, HTMLButtonElement | null>>({ status: null, conflicts: null, settings: null });

  const labels: Record<Tab, string> = {
    status: 'Sync status',
    conflicts: conflictCount ? `Conflicts (${conflictCount})` : 'Conflicts',
    settings: 'Settings',
  };

  // Arrow keys move between tabs, as in any tab strip.
  function onTabKey(event: KeyboardEvent) {
    const index = TABS.indexOf(tab);
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    let next: Tab | undefined;
    if (step !== 0) next = TABS[(index + step + TABS.length) % TABS.length];
    else if (event.key === 'Home') next = TABS[0];
    else if (event.key === 'End') next = TABS[TABS.length - 1];
    if (!next) return;
    event.preventDefault();
    setTab(next);
    tabRefs.current[next]?.focus();
  }

  return (
    <div className="app">
      <StatusHeader />
      <div className="tabs" role="tablist" aria-label="Dashboard sections" onKeyDown={onTabKey}>
        {TABS.map((name) => (
          <button
            key={name}
            ref={(el) => {
              tabRefs.current[name] = el;
            }}
            type="button"
            role="tab"
            id={`tab-${name}`}
            aria-selected={tab === name}
            aria-controls={`panel-${name}`}
            tabIndex={tab === name ? 0 : -1}
            onClick={() => setTab(name)}
          >
            {labels[name]}
          </button>
        ))}
      </div>
      <main id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`} className="tab-panel">
        {tab === 'status' && (
          <>
            <LagChart />
            <SyncDetails />
          </>
        )}
        {tab === 'conflicts' && <ConflictHistory />}
        {tab === 'settings' && (
          <div className="settings-grid">
            <SyncToggle />
            <StartAtLogin />
            <HubConnection />
            <Policies />
          </div>
        )}
      </main>
    </div>
  );
}
