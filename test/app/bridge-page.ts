/**
 * A dashboard page's side of the web bridge, as the bridge tests see it: a
 * WebSocket that presents what a browser on the printed URL would (the
 * bridge's origin, and the token cookie the page load set), and plain HTTP
 * requests with or without that cookie.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { BRIDGE_WS_PATH, type BridgeServerMessage, type EventName, type IpcResult } from '../../src-shared/ipc.ts';
import type { Bridge } from '../../src-main/bridge/server.ts';

/** The Cookie header the page load gives a browser that opened `bridge.url`. */
export function tokenCookie(bridge: Bridge, token = bridge.token): string {
  return `${bridge.cookieName}=${token}`;
}

export interface PageOptions {
  origin?: string;
  /** The Cookie header; the right token by default, null for none. */
  cookie?: string | null;
  /** Added to the WebSocket's path, e.g. `?token=...`. */
  query?: string;
}

export class Page {
  readonly events: Array<{ event: EventName; payload: unknown }> = [];
  readonly #pending = new Map<number, (r: IpcResult<unknown>) => void>();
  #next = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as BridgeServerMessage;
      if (message.type === 'event') this.events.push({ event: message.event, payload: message.payload });
      else this.#pending.get(message.id)?.(message.result);
    });
  }

  static open(bridge: Bridge, options: PageOptions | string = {}): Promise<Page> {
    const {
      origin = bridge.origin,
      cookie = tokenCookie(bridge),
      query = '',
    } = typeof options === 'string' ? { origin: options } : options;
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}${BRIDGE_WS_PATH}${query}`, {
      origin,
      headers: cookie === null ? {} : { cookie },
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new Page(ws)));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => reject(new Error(`refused with HTTP ${res.statusCode}: ${body}`)));
      });
      ws.once('error', reject);
    });
  }

  invoke<T>(command: string, input: unknown = {}): Promise<IpcResult<T>> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve as (r: IpcResult<unknown>) => void);
      this.ws.send(JSON.stringify({ type: 'invoke', id, command, input }));
    });
  }

  async value<T>(command: string, input: unknown = {}): Promise<T> {
    const result = await this.invoke<T>(command, input);
    assert.ok(result.ok, `${command} failed: ${JSON.stringify(result)}`);
    return result.value;
  }

  latest<T>(event: EventName): T | undefined {
    for (let i = this.events.length - 1; i >= 0; i -= 1) if (this.events[i]!.event === event) return this.events[i]!.payload as T;
    return undefined;
  }

  close(): void {
    this.ws.close();
  }
}

export interface Response {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** GET `path` from the bridge, as its own page would (the token cookie) unless told otherwise. */
export function get(bridge: Bridge, path: string, options: { host?: string; cookie?: string | null } = {}): Promise<Response> {
  const { host = `127.0.0.1:${bridge.port}`, cookie = tokenCookie(bridge) } = options;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host };
    if (cookie !== null) headers.cookie = cookie;
    const req = request({ host: '127.0.0.1', port: bridge.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
