/**
 * The web bridge client: the contract over a WebSocket on the page's own
 * origin (`BRIDGE_WS_PATH`). Reconnects with backoff; while the socket is down
 * every command answers with an `unavailable` error instead of hanging.
 */
import {
  BRIDGE_WS_PATH,
  EVENT_NAMES,
  type BridgeClientMessage,
  type BridgeServerMessage,
  type CommandName,
  type CommandInput,
  type CommandResults,
  type EventName,
  type EventPayloads,
  type IpcResult,
} from '../../src-shared/ipc.ts';
import type { ConnectionState, DashboardApi } from './dashboard-api.ts';

export interface BridgeClientOptions {
  url: string;
  /** Injected for tests; defaults to the browser's WebSocket. */
  WebSocketImpl?: typeof WebSocket;
  initialRetryMs?: number;
  maxRetryMs?: number;
  /** A command with no answer after this long fails with `unavailable`. */
  timeoutMs?: number;
}

export interface BridgeClient extends DashboardApi {
  close(): void;
}

type AnyListener = (payload: never) => void;

const LOST: IpcResult<never> = {
  ok: false,
  error: { code: 'unavailable', message: 'The dashboard lost contact with the sync service. Try again in a moment.' },
};

export function bridgeUrlFor(location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${BRIDGE_WS_PATH}`;
}

export function createBridgeClient(options: BridgeClientOptions): BridgeClient {
  const WebSocketImpl = options.WebSocketImpl ?? WebSocket;
  const initialRetryMs = options.initialRetryMs ?? 500;
  const maxRetryMs = options.maxRetryMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 30_000;

  const pending = new Map<number, { resolve: (result: IpcResult<unknown>) => void; timer: ReturnType<typeof setTimeout> }>();
  const eventListeners = new Map<EventName, Set<AnyListener>>();
  const connectionListeners = new Set<(state: ConnectionState) => void>();
  let state: ConnectionState = 'connecting';
  let socket: WebSocket | null = null;
  let nextId = 1;
  let retryMs = initialRetryMs;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let closed = false;

  function setState(next: ConnectionState): void {
    if (next === state) return;
    state = next;
    for (const listener of connectionListeners) listener(next);
  }

  function failPending(): void {
    for (const { resolve, timer } of pending.values()) {
      clearTimeout(timer);
      resolve(LOST);
    }
    pending.clear();
  }

  function handleMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: BridgeServerMessage;
    try {
      message = JSON.parse(data) as BridgeServerMessage;
    } catch {
      return;
    }
    if (message.type === 'result') {
      const entry = pending.get(message.id);
      if (!entry) return;
      pending.delete(message.id);
      clearTimeout(entry.timer);
      entry.resolve(message.result);
    } else if (message.type === 'event' && EVENT_NAMES.includes(message.event)) {
      for (const listener of eventListeners.get(message.event) ?? []) (listener as (p: unknown) => void)(message.payload);
    }
  }

  function connect(): void {
    if (closed) return;
    const ws = new WebSocketImpl(options.url);
    socket = ws;
    ws.addEventListener('open', () => {
      retryMs = initialRetryMs;
      setState('open');
    });
    ws.addEventListener('message', (event: MessageEvent) => handleMessage(event.data));
    ws.addEventListener('close', () => {
      if (socket !== ws) return;
      socket = null;
      failPending();
      if (closed) return;
      setState('lost');
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(maxRetryMs, retryMs * 2);
    });
    // An error is always followed by close; nothing more to do here.
    ws.addEventListener('error', () => {});
  }

  connect();

  return {
    invoke<C extends CommandName>(command: C, input: CommandInput<C>): Promise<IpcResult<CommandResults[C]>> {
      const ws = socket;
      if (!ws || state !== 'open' || ws.readyState !== WebSocketImpl.OPEN) return Promise.resolve(LOST);
      const id = nextId++;
      const message: BridgeClientMessage = { type: 'invoke', id, command, input };
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve(LOST);
        }, timeoutMs);
        pending.set(id, { resolve: resolve as (result: IpcResult<unknown>) => void, timer });
        ws.send(JSON.stringify(message));
      });
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
      let set = eventListeners.get(event);
      if (!set) eventListeners.set(event, (set = new Set()));
      set.add(listener as AnyListener);
      return () => set.delete(listener as AnyListener);
    },
    connection: () => state,
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    close() {
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      socket?.close();
      socket = null;
      failPending();
    },
  };
}
