/**
 * What the dashboard talks to: the contract's `TillSyncApi`, plus whether the
 * sync service can be reached right now (always, inside Electron; the web
 * bridge's WebSocket can drop and come back).
 */
import type { TillSyncApi } from '../../src-shared/ipc.ts';

export type ConnectionState = 'connecting' | 'open' | 'lost';

export interface DashboardApi extends TillSyncApi {
  connection(): ConnectionState;
  /** Called on every change of the connection state; returns the unsubscribe function. */
  onConnection(listener: (state: ConnectionState) => void): () => void;
}

/** Wraps an API that is always reachable (Electron's preload, a test double). */
export function alwaysConnected(api: TillSyncApi): DashboardApi {
  return {
    invoke: (command, input) => api.invoke(command, input),
    on: (event, listener) => api.on(event, listener),
    connection: () => 'open',
    onConnection: () => () => {},
  };
}
