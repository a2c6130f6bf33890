/**
 * The web bridge: the dashboard in a normal browser. An HTTP server on
 * 127.0.0.1 serves the built dashboard (under the same strict CSP as the
 * desktop window) and the IPC contract over a WebSocket at `BRIDGE_WS_PATH`,
 * through the same handlers as Electron IPC.
 *
 * Only the bridge's own page may use it: requests must name the bridge's own
 * host (no DNS rebinding), WebSocket connections must come from loopback with
 * the bridge's own origin, and every command is checked again by the handlers.
 *
 * And only someone given its address: the bridge makes a random token at
 * start and prints it in its URL (`http://127.0.0.1:PORT/?token=...`), so
 * another user of the computer, or a page in the browser that guesses the
 * port, cannot drive the till's sync. The page load that carries the token
 * gets a cookie holding it (HttpOnly, SameSite=Strict, named after the port so
 * two bridges on one machine keep theirs apart); every later request — the
 * page's scripts, the WebSocket — must carry one of the two. Without it the
 * answer is 401, with a wrong one 403, each saying what to open instead.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import {
  BRIDGE_WS_PATH,
  EVENT_NAMES,
  type BridgeServerMessage,
  type EventName,
  type EventPayloads,
  type IpcResult,
} from '../../src-shared/ipc.ts';
import type { AppBackend } from '../app/backend.ts';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../app/csp.ts';
import { createIpcHandlers } from '../app/handlers.ts';
import { contentTypeOf, resolveStaticFile } from '../app/static-files.ts';
import { silentLogger, type Logger } from '../sync/log.ts';
import { REFUSED_TEXT, tokenCheck, tokenInQuery, TOKEN_PARAM } from './access-token.ts';
import { listenOnLoopback, LOOPBACK } from '../loopback.ts';

export interface BridgeOptions {
  backend: AppBackend;
  /** The built dashboard (`dist/renderer`). */
  rendererDir: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** The access token; a random one when absent (tests may give their own). */
  token?: string;
  log?: Logger;
}

export interface Bridge {
  /** The dashboard's address with its token: `http://127.0.0.1:PORT/?token=...`. The only address that opens it. */
  readonly url: string;
  /** `http://127.0.0.1:PORT` */
  readonly origin: string;
  /** What the URL and the cookie carry. */
  readonly token: string;
  /** The cookie the page gets, `tillsync-bridge-PORT`. */
  readonly cookieName: string;
  readonly port: number;
  /** Open WebSocket connections. */
  readonly clients: number;
  close(): Promise<void>;
}

/** Who sent a command over the bridge: what its connection presented when it opened. */
export interface BridgeSender {
  origin: string | undefined;
  remoteAddress: string | undefined;
}

const HOST = LOOPBACK;
const MAX_MESSAGE_BYTES = 1 << 20;
/** A client this far behind gets no more status pushes until it catches up (a later one supersedes them). */
const MAX_BUFFERED_BYTES = 4 << 20;

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TillSync</title></head>
<body><h1>The dashboard is not built yet</h1>
<p>Build it with <code>npm run build:renderer</code>, then reload this page. Sync itself is running.</p></body></html>
`;

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

export async function startBridge(options: BridgeOptions): Promise<Bridge> {
  const log = (options.log ?? silentLogger).child({ component: 'web-bridge' });
  const server = createServer();
  const { port, hosts } = await listenOnLoopback(server, options.port ?? 0);
  const origins = new Set([...hosts].map((h) => `http://${h}`));
  const csp = contentSecurityPolicy({ connectSrc: [`ws://${HOST}:${port}${BRIDGE_WS_PATH}`, `ws://localhost:${port}${BRIDGE_WS_PATH}`] });
  const token = options.token ?? randomBytes(24).toString('base64url');
  const cookieName = `tillsync-bridge-${port}`;
  const access = tokenCheck(token, cookieName);

  const handle = createIpcHandlers<BridgeSender>(options.backend, {
    isTrustedSender: (s) => isLoopback(s.remoteAddress) && s.origin !== undefined && origins.has(s.origin),
    log: options.log,
  });

  server.on('request', (req, res) => void serveFile(req, res));

  async function serveFile(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': csp };
    if (!hosts.has(req.headers.host ?? '')) {
      res.writeHead(421, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('This server only answers to its own address.\n');
      return;
    }
    const allowed = access(req);
    if (allowed !== 'ok') {
      log.warn({ event: 'bridge.request-refused', why: allowed }, 'a request without the dashboard token was refused');
      res
        .writeHead(allowed === 'missing' ? 401 : 403, {
          ...headers,
          'Content-Type': 'text/plain; charset=utf-8',
          'Cache-Control': 'no-store',
        })
        .end(REFUSED_TEXT[allowed]);
      return;
    }
    if (tokenInQuery(req.url) !== undefined) {
      // The page's own scripts and its WebSocket carry the token in this cookie from now on.
      res.setHeader('Set-Cookie', `${cookieName}=${token}; Path=/; HttpOnly; SameSite=Strict`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { ...headers, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' })
        .end('Only GET and HEAD are served here.\n');
      return;
    }
    const path = await resolveStaticFile(options.rendererDir, req.url ?? '/');
    if (path === null) {
      const index = await resolveStaticFile(options.rendererDir, '/');
      if (index === null) {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(NOT_BUILT_PAGE);
        return;
      }
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found.\n');
      return;
    }
    const type = contentTypeOf(path);
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(path)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  const senders = new WeakMap<WebSocket, BridgeSender>();

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const path = (req.url ?? '').split('?', 1)[0];
    const sender: BridgeSender = { origin: req.headers.origin, remoteAddress: req.socket.remoteAddress };
    const fromDashboard =
      path === BRIDGE_WS_PATH &&
      hosts.has(req.headers.host ?? '') &&
      isLoopback(sender.remoteAddress) &&
      sender.origin !== undefined &&
      origins.has(sender.origin);
    if (!fromDashboard) {
      log.warn({ event: 'bridge.connection-refused', path }, 'a WebSocket connection from outside the dashboard was refused');
      refuseUpgrade(socket, 403, 'Forbidden', 'Only the dashboard page of this bridge may connect.');
      return;
    }
    const allowed = access(req);
    if (allowed !== 'ok') {
      log.warn({ event: 'bridge.connection-refused', why: allowed }, 'a WebSocket connection without the dashboard token was refused');
      refuseUpgrade(socket, allowed === 'missing' ? 401 : 403, allowed === 'missing' ? 'Unauthorized' : 'Forbidden', REFUSED_TEXT[allowed]);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      senders.set(ws, sender);
      wss.emit('connection', ws, req);
    });
  });

  function send(ws: WebSocket, message: BridgeServerMessage): void {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  wss.on('connection', (ws: WebSocket) => {
    ws.on('message', (data: RawData, isBinary: boolean) => void onMessage(ws, data, isBinary));
    ws.on('error', () => ws.terminate());
    // A fresh page shows the state at once instead of waiting for the next push.
    send(ws, { type: 'event', event: 'status', payload: options.backend.status() });
  });

  async function onMessage(ws: WebSocket, data: RawData, isBinary: boolean): Promise<void> {
    const message = isBinary ? undefined : parse(data.toString());
    if (!message || message.type !== 'invoke' || !Number.isSafeInteger(message.id)) {
      const id = typeof message?.id === 'number' ? message.id : -1;
      const result: IpcResult<never> = {
        ok: false,
        error: {
          code: 'invalid-input',
          message: 'Each message must be JSON text like {"type":"invoke","id":1,"command":"status.get","input":{}}.',
        },
      };
      send(ws, { type: 'result', id, result });
      return;
    }
    const result = await handle(message.command, message.input, senders.get(ws) ?? { origin: undefined, remoteAddress: undefined });
    send(ws, { type: 'result', id: message.id as number, result });
  }

  function broadcast<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    const text = JSON.stringify({ type: 'event', event, payload } satisfies BridgeServerMessage);
    for (const ws of wss.clients) {
      if (ws.readyState !== WebSocket.OPEN) continue;
      if (event === 'status' && ws.bufferedAmount > MAX_BUFFERED_BYTES) continue;
      ws.send(text);
    }
  }

  const unsubscribe = EVENT_NAMES.map((event) => options.backend.on(event, (payload) => broadcast(event, payload as never)));

  // The token stays out of the log: whoever reads the log is not necessarily who runs the demo.
  log.info({ event: 'bridge.listening', port }, `dashboard at http://${HOST}:${port}/ (open the address printed with its token)`);
  return {
    url: `http://${HOST}:${port}/?${TOKEN_PARAM}=${token}`,
    origin: `http://${HOST}:${port}`,
    token,
    cookieName,
    port,
    get clients() {
      return wss.clients.size;
    },
    async close() {
      for (const off of unsubscribe) off();
      for (const ws of wss.clients) ws.close(1001, 'TillSync is stopping');
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      // Clients that do not answer the close handshake promptly are cut off.
      await new Promise((resolve) => setTimeout(resolve, wss.clients.size > 0 ? 300 : 0));
      for (const ws of wss.clients) ws.terminate();
      await closeServer(server);
    },
  };
}

function refuseUpgrade(socket: Socket, status: number, statusText: string, body: string): void {
  const length = Buffer.byteLength(body);
  socket.end(
    `HTTP/1.1 ${status} ${statusText}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${length}\r\n\r\n${body}`,
  );
}

function parse(text: string): { type?: unknown; id?: unknown; command?: unknown; input?: unknown } | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

async function closeServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
