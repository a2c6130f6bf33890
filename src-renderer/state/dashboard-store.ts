/**
 * The dashboard's store: a mirror of what the main process says, fed by the
 * `status`, `conflict` and `settings` events and refreshed in full whenever
 * the connection (re)opens. Components read it through selectors.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AppInfo, ConflictView, SettingsView } from '../../src-shared/ipc.ts';
import type { SyncStatus } from '../../src-shared/status.ts';
import type { ConnectionState, DashboardApi } from '../api/dashboard-api.ts';

export interface DashboardState {
  connection: ConnectionState;
  info: AppInfo | null;
  status: SyncStatus | null;
  settings: SettingsView | null;
  /** Bumped on every `conflict` event, so the conflict history knows to refresh. */
  conflictEvents: number;
  latestConflict: ConflictView | null;
  /** Collection names seen in policies and conflicts, sorted, for the filter. */
  collections: string[];
  /** Plain words when the first load failed, else null. */
  loadError: string | null;
  setSettings(settings: SettingsView): void;
}

export type DashboardStore = StoreApi<DashboardState>;

function mergeCollections(known: string[], more: Iterable<string>): string[] {
  const all = new Set(known);
  let grew = false;
  for (const name of more) {
    if (!all.has(name)) {
      all.add(name);
      grew = true;
    }
  }
  return grew ? [...all].sort() : known;
}

export function createDashboardStore(api: DashboardApi): { store: DashboardStore; stop: () => void } {
  const store = createStore<DashboardState>()((set) => ({
    connection: api.connection(),
    info: null,
    status: null,
    settings: null,
    conflictEvents: 0,
    latestConflict: null,
    collections: [],
    loadError: null,
    setSettings: (settings) => set((s) => ({ settings, collections: mergeCollections(s.collections, Object.keys(settings.policies)) })),
  }));

  async function loadAll(): Promise<void> {
    const [info, status, settings, recent] = await Promise.all([
      api.invoke('app.info', {}),
      api.invoke('status.get', {}),
      api.invoke('settings.get', {}),
      api.invoke('conflicts.list', { page: 0, pageSize: 50 }),
    ]);
    const failed = [info, status, settings].find((r) => !r.ok);
    store.setState((s) => ({
      info: info.ok ? info.value : s.info,
      status: status.ok ? status.value : s.status,
      settings: settings.ok ? settings.value : s.settings,
      collections: mergeCollections(s.collections, [
        ...(settings.ok ? Object.keys(settings.value.policies) : []),
        ...(recent.ok ? recent.value.items.map((c) => c.collection) : []),
      ]),
      loadError: failed && !failed.ok ? failed.error.message : null,
    }));
  }

  const unsubscribers = [
    api.on('status', (status) => store.setState({ status })),
    api.on('settings', (settings) => store.getState().setSettings(settings)),
    api.on('conflict', (conflict) =>
      store.setState((s) => ({
        conflictEvents: s.conflictEvents + 1,
        latestConflict: conflict,
        collections: mergeCollections(s.collections, [conflict.collection]),
      })),
    ),
    api.onConnection((connection) => {
      store.setState({ connection });
      if (connection === 'open') void loadAll();
    }),
  ];
  if (api.connection() === 'open') void loadAll();

  return {
    store,
    stop: () => {
      for (const unsubscribe of unsubscribers) unsubscribe();
    },
  };
}
