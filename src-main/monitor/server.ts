/**
 * The agent's monitor API, on 127.0.0.1 only:
 *
 *   GET  /health            200 when synced or syncing, 503 otherwise: {state, lagMs, outbox, …}
 *   GET  /metrics           Prometheus text (tillsync_* with a device label)
 *   GET  /conflicts?limit=N the newest conflicts                 (Authorization: Bearer <token>)
 *   POST /toggle            {"enabled": false} pauses, true resumes (Authorization: Bearer <token>)
 *
 * A wrong or missing token gets 401, a bad request 400 with a message, an
 * unknown path 404, a known path asked with the wrong method 405. Requests
 * must name the server's own host, so a web page cannot reach it through
 * DNS rebinding. It reaches the engine only through `MonitoredEngine`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EJSON } from 'bson';
import type { SyncStatus } from '../../src-shared/status.ts';
import { silentLogger, type Logger } from '../sync/log.ts';
import { createStatusMetrics } from './metrics.ts';
import { listenOnLoopback, LOOPBACK } from '../loopback.ts';

/** What the monitor needs from the engine, and nothing more. */
export interface MonitoredEngine {
  status(): SyncStatus;
  listConflicts(query: { pageSize: number }): Promise<{ total: number; items: unknown[] }>;
  setEnabled(enabled: boolean): Promise<void>;
}

export interface MonitorOptions {
  engine: MonitoredEngine;
  token: string;
  /** 0 picks a free port. */
  port: number;
  log?: Logger;
}

export interface Monitor {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const HOST = LOOPBACK;
const MAX_BODY_BYTES = 1024;
const MAX_LIMIT = 200;
const HEALTHY: ReadonlySet<string> = new Set(['synced', 'syncing']);
const ROUTES: Record<string, { method: 'GET' | 'POST'; token: boolean }> = {
  '/health': { method: 'GET', token: false },
  '/metrics': { method: 'GET', token: false },
  '/conflicts': { method: 'GET', token: true },
  '/toggle': { method: 'POST', token: true },
};

/** A request the API refuses, with its status and words. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export async function startMonitor(options: MonitorOptions): Promise<Monitor> {
  const log = (options.log ?? silentLogger).child({ component: 'monitor' });
  const metrics = createStatusMetrics();
  const expected = digest(options.token);
  const server = createServer();
  const { port, hosts } = await listenOnLoopback(server, options.port);

  function authorised(req: IncomingMessage): boolean {
    const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
    return match !== null && timingSafeEqual(digest(match[1]!), expected);
  }

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res
      .writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...headers,
      })
      .end(`${JSON.stringify(body)}\n`);
  }

  function health(s: SyncStatus) {
    return {
      state: s.state,
      deviceId: s.deviceId,
      enabled: s.enabled,
      lagMs: { push: s.lag.push.p95Ms, pull: s.lag.pull.p95Ms },
      outbox: s.outbox,
      lastSyncedAt: s.lastSyncedAt,
      conflicts: s.conflicts.count,
      setAside: s.quarantine.count,
      lastError: s.lastError,
      warnings: s.warnings,
      reconciliation: s.reconciliation,
    };
  }

  function limitOf(url: URL): number {
    for (const name of url.searchParams.keys()) {
      if (name !== 'limit') throw new Refusal(400, `unknown query parameter "${name}"; /conflicts takes only limit`);
    }
    const raw = url.searchParams.get('limit');
    if (raw === null) return 20;
    if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT) {
      throw new Refusal(400, `limit must be a whole number from 1 to ${MAX_LIMIT}; got ${JSON.stringify(raw.slice(0, 40))}`);
    }
    return Number(raw);
  }

  async function readToggle(req: IncomingMessage): Promise<boolean> {
    const form = 'the body must be JSON like {"enabled": false}';
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) throw new Refusal(400, `${form}, at most ${MAX_BODY_BYTES} bytes`);
      chunks.push(chunk);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      throw new Refusal(400, `${form}; it is not valid JSON`);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new Refusal(400, `${form}; got ${Array.isArray(body) ? 'a list' : JSON.stringify(body)}`);
    const extra = Object.keys(body).filter((k) => k !== 'enabled');
    if (extra.length > 0) throw new Refusal(400, `${form}; unknown field ${JSON.stringify(extra[0])}`);
    const enabled = (body as { enabled?: unknown }).enabled;
    if (typeof enabled !== 'boolean') {
      throw new Refusal(
        400,
        `${form}; "enabled" must be true or false, got ${enabled === undefined ? 'nothing' : JSON.stringify(enabled)}`,
      );
    }
    return enabled;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hosts.has(req.headers.host ?? '')) throw new Refusal(421, 'this server only answers to its own address (127.0.0.1 or localhost)');
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    const route = ROUTES[url.pathname];
    if (!route)
      throw new Refusal(404, `no such path "${url.pathname.slice(0, 80)}"; this API has /health, /metrics, /conflicts and /toggle`);
    const allowed = route.method === 'GET' ? ['GET', 'HEAD'] : ['POST'];
    if (!allowed.includes(req.method ?? '')) {
      throw new Refusal(405, `${url.pathname} takes ${allowed.join(' or ')}, not ${req.method}`, { Allow: allowed.join(', ') });
    }
    if (route.token && !authorised(req)) {
      throw new Refusal(401, 'this path needs "Authorization: Bearer <token>" with the token from the monitor token file', {
        'WWW-Authenticate': 'Bearer realm="tillsync"',
      });
    }
    const engine = options.engine;
    switch (url.pathname) {
      case '/health': {
        const s = engine.status();
        return json(res, HEALTHY.has(s.state) ? 200 : 503, health(s));
      }
      case '/metrics': {
        const text = await metrics.render(engine.status());
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(text);
        return;
      }
      case '/conflicts': {
        const limit = limitOf(url);
        const page = await engine.listConflicts({ pageSize: limit }).catch((err: unknown) => {
          throw new Refusal(503, `cannot read the conflict log now (${String((err as Error).message ?? err)}); try again shortly`);
        });
        res
          .writeHead(200, {
            'Content-Type': 'application/json; charset=utf-8',
            'Cache-Control': 'no-store',
            'X-Content-Type-Options': 'nosniff',
          })
          .end(`${EJSON.stringify({ total: page.total, items: page.items }, { relaxed: true })}\n`);
        return;
      }
      case '/toggle': {
        const enabled = await readToggle(req);
        await engine.setEnabled(enabled).catch((err: unknown) => {
          throw new Refusal(
            503,
            `cannot ${enabled ? 'resume' : 'pause'} sync now (${String((err as Error).message ?? err)}); try again shortly`,
          );
        });
        log.info(
          { event: 'monitor.toggled', enabled },
          enabled ? 'sync resumed through the monitor API' : 'sync paused through the monitor API',
        );
        return json(res, 200, { enabled, state: engine.status().state });
      }
    }
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) return void res.destroy();
      if (err instanceof Refusal) return json(res, err.status, { error: err.message }, err.headers);
      log.warn({ event: 'monitor.request-failed', error: String(err) }, 'a monitor request failed');
      json(res, 500, { error: 'the monitor could not answer; see the agent log' });
    });
  });

  log.info({ event: 'monitor.listening', port }, `monitor API at http://${HOST}:${port}/ (health, metrics, conflicts, toggle)`);
  return {
    url: `http://${HOST}:${port}/`,
    port,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
