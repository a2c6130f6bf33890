/**
 * A control channel for an emulator running as its own process, so a soak in
 * another process can break it: a small HTTP server on 127.0.0.1.
 *
 *   POST /partition?on=1|0      requests get no answer while on
 *   POST /truncate-oplog?keep=N forget all but the newest N oplog events (lost history)
 *   POST /drop-connections      close every client connection
 *   POST /clock-offset?ms=N     the server's wall clock runs N ms ahead (negative: behind)
 *   GET  /status                { port, connections, partitioned, clockOffsetMs }
 *
 * Replies are JSON: `{ ok: true, ... }` or `{ ok: false, error }` with status 400.
 */
import { createServer, type Server } from 'node:http';
import type { Emulator } from './emulator.ts';
import { clockOffsetMs, setClockOffsetMs } from './wall-clock.ts';

export async function startControlServer(emulator: Emulator, port: number, host = '127.0.0.1'): Promise<Server> {
  let partitioned = false;
  const commands: Record<string, (q: URLSearchParams) => Record<string, unknown>> = {
    '/partition': (q) => {
      partitioned = q.get('on') === '1' || q.get('on') === 'true';
      emulator.setPartitioned(partitioned);
      return { partitioned };
    },
    '/truncate-oplog': (q) => {
      emulator.truncateOplog(wholeNumber(q.get('keep') ?? '0', 'keep'));
      return {};
    },
    '/drop-connections': () => {
      emulator.dropConnections();
      return {};
    },
    '/clock-offset': (q) => {
      const ms = Number(q.get('ms'));
      if (!Number.isInteger(ms)) throw new Error(`ms must be a whole number of milliseconds; got "${q.get('ms')}"`);
      setClockOffsetMs(ms);
      return { clockOffsetMs: ms };
    },
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${host}`);
    let status = 200;
    let body: Record<string, unknown>;
    try {
      if (req.method === 'GET' && url.pathname === '/status') {
        body = { ok: true, port: emulator.port, connections: emulator.connectionCount, partitioned, clockOffsetMs: clockOffsetMs() };
      } else {
        const command = req.method === 'POST' ? commands[url.pathname] : undefined;
        if (!command) throw new Error(`unknown control request ${req.method} ${url.pathname}`);
        body = { ok: true, ...command(url.searchParams) };
      }
    } catch (err) {
      status = 400;
      body = { ok: false, error: (err as Error).message };
    }
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    req.resume();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function wholeNumber(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number of at least 0; got "${text}"`);
  return n;
}
