/**
 * A simulated internet link in front of a MongoDB server:
 *   npm run link -- --to 127.0.0.1:27017 --rtt 80 [--jitter 5] [--kbps N] [--port P] [--host 127.0.0.1]
 * Prints the connection string through it on one line, then runs until Ctrl-C
 * and prints the wire messages it carried, per command. Started by another
 * process with an IPC channel (process.ts), it also takes requests on it
 * (control.ts): new delay, bandwidth, down/up, counters.
 */
import { parseArgs } from 'node:util';
import { handleRequest, type LinkRequest } from './control.ts';
import { LinkOptionError, LinkProxy, type LinkCounters } from './proxy.ts';

const USAGE = 'usage: npm run link -- --to HOST:PORT [--rtt MS] [--jitter MS] [--kbps KBIT_PER_S] [--port P] [--host 127.0.0.1]';

function fail(message: string): never {
  process.stderr.write(`link: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) fail(`--${name} must be a number; got "${text}"`);
  return value;
}

let values;
try {
  values = parseArgs({
    options: {
      to: { type: 'string' },
      rtt: { type: 'string' },
      jitter: { type: 'string' },
      kbps: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string', default: '127.0.0.1' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  }).values;
} catch (err) {
  fail((err as Error).message);
}
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (!values.to) fail('--to is required: the server to forward to, as host:port (e.g. 127.0.0.1:27017)');
const port = number('port', values.port, 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a whole number from 0 to 65535; got "${values.port}"`);
const kbps = values.kbps === undefined ? null : number('kbps', values.kbps, 0);

let link: LinkProxy;
try {
  link = await LinkProxy.start({
    to: values.to,
    port,
    host: values.host,
    rttMs: number('rtt', values.rtt, 0),
    jitterMs: number('jitter', values.jitter, 0),
    kbps,
  });
} catch (err) {
  fail(err instanceof LinkOptionError ? err.message : `could not start: ${(err as Error).message}`);
}

const s = link.settings;
process.stdout.write(`mongodb://${link.host}:${link.port}/?directConnection=true\n`);
process.stderr.write(
  `link: ${link.host}:${link.port} → ${values.to}, round trip +${s.rttMs} ms${s.jitterMs ? ` ±${s.jitterMs / 2} ms each way` : ''}, ${s.kbps === null ? 'no bandwidth cap' : `${s.kbps} kbit/s each way`}\n`,
);

process.on('message', (req: LinkRequest) => process.send?.(handleRequest(link, req)));
// The parent going away (its IPC channel closing) ends the link too.
process.on('disconnect', () => void link.stop().then(() => process.exit(0)));

function summary(c: LinkCounters): string {
  const rows = Object.entries(c.commands).sort((a, b) => b[1].requests - a[1].requests);
  const lines = [`link: ${c.connections} connection(s), ${c.bytesToServer} bytes to the server, ${c.bytesToClient} back`];
  for (const [name, n] of rows)
    lines.push(`  ${name.padEnd(24)} ${String(n.requests).padStart(8)} requests ${String(n.replies).padStart(8)} replies`);
  return `${lines.join('\n')}\n`;
}

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  process.stderr.write(summary(link.counters()));
  void link.stop().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
