/**
 * The only bridge between the dashboard and the main process: exposes the
 * contract as `window.tillsync` (nothing else — no ipcRenderer, no Node.js).
 * Runs sandboxed; bundled to CommonJS by scripts/build-main.mjs.
 */
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { EVENT_NAMES_LIST } from './preload-events.ts';
import type { CommandInput, CommandName, CommandResults, EventName, EventPayloads, IpcResult, TillSyncApi } from '../../src-shared/ipc.ts';
import { IPC_CHANNELS } from './ipc-channels.ts';

type Listener = (payload: never) => void;
const listeners = new Map<EventName, Set<Listener>>();

ipcRenderer.on(IPC_CHANNELS.event, (_event: IpcRendererEvent, name: unknown, payload: unknown) => {
  if (typeof name !== 'string' || !EVENT_NAMES_LIST.includes(name as EventName)) return;
  for (const listener of listeners.get(name as EventName) ?? []) (listener as (p: unknown) => void)(payload);
});

const api = {
  invoke<C extends CommandName>(command: C, input: CommandInput<C>): Promise<IpcResult<CommandResults[C]>> {
    return ipcRenderer.invoke(IPC_CHANNELS.invoke, command, input) as Promise<IpcResult<CommandResults[C]>>;
  },
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(listener as Listener);
    return () => {
      set.delete(listener as Listener);
    };
  },
} satisfies TillSyncApi;

contextBridge.exposeInMainWorld('tillsync', api);
