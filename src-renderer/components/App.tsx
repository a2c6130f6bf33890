// @jsxRuntime automatic
/**
 * The dashboard: the status header (the page's banner), then the main
 * landmark with three tabs and the panel of the one selected, in the
 * language of the till (see i18n/language.tsx).
 */
import { useRef, useState, type KeyboardEvent } from 'react';
import { useDashboard } from '../state/context.tsx';
import { LanguageProvider, useWords } from '../i18n/language.tsx';
import { StatusHeader } from './StatusHeader.tsx';
import { Announcer } from './Announcer.tsx';
import { LagChart } from './LagChart.tsx';
import { SetAside } from './SetAside.tsx';
import { SyncDetails } from './SyncDetails.tsx';
import { ConflictHistory } from './ConflictHistory.tsx';
import { SyncToggle } from './SyncToggle.tsx';
import { LanguageSetting } from './LanguageSetting.tsx';
import { HubConnection } from './HubConnection.tsx';
import { Policies } from './Policies.tsx';
import { StartAtLogin } from './StartAtLogin.tsx';

const TABS = ['status', 'conflicts', 'settings'] as const;
type Tab = (typeof TABS)[number];

export interface AppProps {
  /** The till's preferred languages; the browser's unless given (tests). */
  preferredLanguages?: readonly string[];
  /** How long a state must hold before it is announced (ms). */
  announceAfterMs?: number;
}

export function App(props: AppProps) {
  return (
    <LanguageProvider preferred={props.preferredLanguages}>
      <Dashboard announceAfterMs={props.announceAfterMs} />
    </LanguageProvider>
  );
}

function Dashboard(props: { announceAfterMs?: number }) {
  const w = useWords();
  const [tab, setTab] = useState<Tab>('status');
  const conflictCount = useDashboard((s) => s.status?.conflicts.count ?? 0);
  const tabRefs = useRef<Record<Tab, HTMLButtonElement | null>>({ status: null, conflicts: null, settings: null });

  const labels: Record<Tab, string> = {
    status: w.t('tab.status'),
    conflicts: w.t('tab.conflicts', { count: conflictCount }),
    settings: w.t('tab.settings'),
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
      <main className="main">
        <Announcer settleMs={props.announceAfterMs} />
        <div className="tabs" role="tablist" aria-label={w.t('app.sections')} onKeyDown={onTabKey}>
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
              // Only the selected tab's panel is on the page.
              aria-controls={tab === name ? `panel-${name}` : undefined}
              tabIndex={tab === name ? 0 : -1}
              onClick={() => setTab(name)}
            >
              {labels[name]}
            </button>
          ))}
        </div>
        <div id={`panel-${tab}`} role="tabpanel" aria-labelledby={`tab-${tab}`} className="tab-panel">
          {tab === 'status' && (
            <>
              <LagChart />
              <SetAside />
              <SyncDetails />
            </>
          )}
          {tab === 'conflicts' && <ConflictHistory />}
          {tab === 'settings' && (
            <div className="settings-grid">
              <SyncToggle />
              <LanguageSetting />
              <StartAtLogin />
              <HubConnection />
              <Policies />
            </div>
          )}
        </div>
      </main>
    </div>
  );
}
