/**
 * The two Electron IPC channels the contract travels on (main and preload
 * only; the dashboard sees `window.tillsync`). Commands and events are named
 * by the contract in src-shared/ipc.ts, not by channels.
 */
export const IPC_CHANNELS = {
  /** renderer → main: (command, input) → IpcResult */
  invoke: 'tillsync:invoke',
  /** main → renderer: (event name, payload) */
  event: 'tillsync:event',
} as const;
