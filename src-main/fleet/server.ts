/**
 * The fleet page's server: on 127.0.0.1 only, the built page (under the
 * dashboard's strict CSP) and `GET /api/fleet`, the report as JSON, read from
 * the hub at most once a second however many pages poll it. Requests must
 * name the server's own host (no DNS rebinding); it answers GET and HEAD.
 */
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { FleetReport } from '../../src-shared/fleet.ts';
import { contentSecurityPolicy, SECURITY_HEADERS } from '../app/csp.ts';
import { contentTypeOf, resolveStaticFile } from '../app/static-files.ts';
import { silentLogger, type Logger } from '../sync/log.ts';
import { listenOnLoopback, LOOPBACK } from '../loopback.ts';

export const FLEET_API_PATH = '/api/fleet';
const HOST = LOOPBACK;
/** Reports this fresh are shared between requests. */
const FRESH_MS = 1_000;

export interface FleetServerOptions {
  /** Reads the fleet now; throws an error whose message is safe to show. */
  read: () => Promise<FleetReport>;
  /** The built page (`dist/fleet`). */
  pageDir: string;
  /** 0 picks a free port. */
  port: number;
  log?: Logger;
}

export interface FleetServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startFleetServer(options: FleetServerOptions): Promise<FleetServer> {
  const log = (options.log ?? silentLogger).child({ component: 'fleet-server' });
  const server = createServer();
  const { port, hosts } = await listenOnLoopback(server, options.port);
  const headers = { ...SECURITY_HEADERS, 'Content-Security-Policy': contentSecurityPolicy() };

  let cached: { at: number; report: FleetReport } | undefined;
  let reading: Promise<FleetReport> | undefined;
  let failing = false;
  async function report(): Promise<FleetReport> {
    if (cached && Date.now() - cached.at < FRESH_MS) return cached.report;
    reading ??= options
      .read()
      .then((r) => {
        cached = { at: Date.now(), report: r };
        if (failing) log.info({ event: 'fleet.hub-readable' }, 'the hub can be read again');
        failing = false;
        return r;
      })
      .catch((err: unknown) => {
        if (!failing) log.warn({ event: 'fleet.hub-unreadable', error: (err as Error).message }, 'cannot read the fleet from the hub');
        failing = true;
        throw err;
      })
      .finally(() => (reading = undefined));
    return reading;
  }

  function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
    res.writeHead(status, { ...headers, 'Content-Type': type, 'Cache-Control': 'no-store', ...extra }).end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!hosts.has(req.headers.host ?? ''))
      return send(res, 421, 'text/plain; charset=utf-8', 'This server only answers to its own address.\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'Only GET and HEAD are served here.\n', { Allow: 'GET, HEAD' });
    }
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path === FLEET_API_PATH) {
      try {
        return send(res, 200, 'application/json; charset=utf-8', JSON.stringify(await report()));
      } catch (err) {
        return send(res, 503, 'application/json; charset=utf-8', JSON.stringify({ error: (err as Error).message }));
      }
    }
    const file = await resolveStaticFile(options.pageDir, req.url ?? '/');
    if (file === null) return send(res, 404, 'text/plain; charset=utf-8', 'Not found.\n');
    const type = contentTypeOf(file);
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'no-cache' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  server.on('request', (req, res) => void handle(req, res));
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
