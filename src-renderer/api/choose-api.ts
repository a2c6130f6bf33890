/** Electron's preload exposes `window.tillsync`; in a normal browser the web bridge serves the page. */
import type { TillSyncApi } from '../../src-shared/ipc.ts';
import { alwaysConnected, type DashboardApi } from './dashboard-api.ts';
import { bridgeUrlFor, createBridgeClient } from './bridge-client.ts';

declare global {
  interface Window {
    tillsync?: TillSyncApi;
  }
}

export function chooseApi(win: Window): DashboardApi {
  if (win.tillsync) return alwaysConnected(win.tillsync);
  return createBridgeClient({ url: bridgeUrlFor(win.location) });
}
