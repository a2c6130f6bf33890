/**
 * `npm run demo`: a hub and two tills on this machine, an engine per till,
 * simulated restaurant traffic, and one dashboard per till in the browser
 * (each at the address it prints, which carries the bridge's access token).
 * Needs no Electron and no download: the MongoDB servers are real mongods
 * where MONGOMS_SYSTEM_BINARY is set, else the test emulator.
 *
 *   npm run demo -- [--port-a 5181] [--port-b 5182] [--no-traffic] [--conflict-every 20]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MongoClient } from 'mongodb';
import { pino } from 'pino';
import { EngineBackend } from '../src-main/app/backend.ts';
import { createEphemeralSecretBox } from '../src-main/app/ephemeral-secret-box.ts';
import { SettingsStore } from '../src-main/app/settings-store.ts';
import { startBridge, type Bridge } from '../src-main/bridge/server.ts';
import { redactUri } from '../src-main/sync/config.ts';
import type { Logger } from '../src-main/sync/log.ts';
import { startReplSet, type ReplSet } from '../test/harness/replset.ts';
import { seedMenu, startTraffic, type DemoTill } from './demo/traffic.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RENDERER_DIR = join(ROOT, 'dist', 'renderer');
const USAGE = 'usage: npm run demo -- [--port-a 5181] [--port-b 5182] [--no-traffic] [--conflict-every <seconds, 0 for none>]';

function fail(message: string): never {
  console.error(`demo: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseOptions(): { portA: number; portB: number; traffic: boolean; conflictEvery: number } {
  let values;
  try {
    values = parseArgs({
      options: {
        'port-a': { type: 'string', default: '5181' },
        'port-b': { type: 'string', default: '5182' },
        'no-traffic': { type: 'boolean', default: false },
        'conflict-every': { type: 'string', default: '20' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const port = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1 || n > 65_535) fail(`--${name} must be a port number from 1 to 65535; got "${text}"`);
    return n;
  };
  const portA = port('port-a', values['port-a']);
  const portB = port('port-b', values['port-b']);
  if (portA === portB) fail('--port-a and --port-b must differ');
  const conflictEvery = Number(values['conflict-every']);
  if (!Number.isFinite(conflictEvery) || conflictEvery < 0)
    fail(`--conflict-every must be a number of seconds (0 for none); got "${values['conflict-every']}"`);
  return { portA, portB, traffic: !values['no-traffic'], conflictEvery };
}

/** Builds the dashboard when it is missing; without a build script the bridge serves a page that says so. */
function ensureDashboardBuilt(): void {
  if (existsSync(join(RENDERER_DIR, 'index.html'))) return;
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> }).scripts ?? {};
  if (!scripts['build:renderer']) {
    console.log('The dashboard has no build script yet; the pages will say it is not built.');
    return;
  }
  console.log('Building the dashboard (first run only)...');
  const result = spawnSync('npm', ['run', 'build:renderer'], { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) console.log('The dashboard did not build (see above); the pages will say it is not built.');
}

async function waitUntil(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const options = parseOptions();
  ensureDashboardBuilt();
  const log = pino({ base: { component: 'demo' }, level: process.env.TILLSYNC_LOG_LEVEL ?? 'warn' }) as unknown as Logger;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  const cleanups: Array<() => Promise<unknown>> = [];
  let stopping = false;
  const stop = async (code: number): Promise<never> => {
    if (!stopping) {
      stopping = true;
      console.log('\nStopping the demo...');
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    }
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    const work = await mkdtemp(join(tmpdir(), 'tillsync-demo-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const start = async (): Promise<{ rs: ReplSet; client: MongoClient }> => {
      const rs = await startReplSet();
      cleanups.push(() => rs.stop());
      const client = await rs.connect();
      cleanups.push(() => client.close());
      return { rs, client };
    };
    const hub = await start();
    const backendKind = hub.rs.kind === 'emulator' ? 'emulator' : 'mongod';

    const tills: DemoTill[] = [];
    const bridges: Bridge[] = [];
    const databaseUris: string[] = [];
    for (const [letter, port] of [
      ['A', options.portA],
      ['B', options.portB],
    ] as const) {
      const local = await start();
      databaseUris.push(local.rs.uri);
      const settings = await SettingsStore.open(join(work, `till-${letter.toLowerCase()}`), createEphemeralSecretBox());
      await settings.update({ hubUri: hub.rs.uri });
      const backend = new EngineBackend({
        settings,
        localUri: local.rs.uri,
        database: 'pos',
        engine: { deviceId: `till-${letter.toLowerCase()}`, retry: { initialMs: 200, maxMs: 5_000 } },
        info: { version, backend: backendKind, tillName: `Till ${letter}` },
        log,
      });
      await backend.start();
      cleanups.push(() => backend.stop());
      const bridge = await startBridge({ backend, rendererDir: RENDERER_DIR, port, log }).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE')
          throw new Error(`port ${port} is already in use; pick another with --port-${letter.toLowerCase()} <port>`);
        throw err;
      });
      cleanups.push(() => bridge.close());
      bridges.push(bridge);
      tills.push({ name: `Till ${letter}`, deviceId: `till-${letter.toLowerCase()}`, db: local.client.db('pos'), backend });
    }

    await waitUntil('both tills to reach the hub', () => tills.every((t) => t.backend.status().state === 'synced'), 60_000);
    await seedMenu(hub.client.db('pos'));

    if (options.traffic) {
      const traffic = startTraffic({
        hubDb: hub.client.db('pos'),
        tills: tills as [DemoTill, DemoTill],
        conflictEverySeconds: options.conflictEvery,
        onProblem: (what, err) => log.warn({ event: 'demo.traffic-problem', error: String(err) }, `problem ${what}`),
      });
      cleanups.push(() => traffic.stop());
    }

    console.log(
      [
        '',
        `TillSync demo: a hub and two tills, running on ${backendKind === 'emulator' ? 'the MongoDB emulator (set MONGOMS_SYSTEM_BINARY to use a real mongod)' : 'real mongod servers'}.`,
        '',
        `  Till A dashboard: ${bridges[0]!.url}`,
        `  Till B dashboard: ${bridges[1]!.url}`,
        '  (Open them as printed: the token in each address is what lets a browser in; it changes at each start.)',
        '',
        'Databases, for a look with mongosh or Compass (the dashboards do not need them):',
        `  Hub database: ${redactUri(hub.rs.uri)}`,
        `  Till A database: ${redactUri(databaseUris[0]!)}`,
        `  Till B database: ${redactUri(databaseUris[1]!)}`,
        '',
        options.traffic
          ? `Traffic: orders on both tills every second or so, price changes from head office every few seconds${options.conflictEvery > 0 ? `, and a conflict on till B every ${options.conflictEvery} s` : ''}.`
          : 'No simulated traffic (--no-traffic).',
        'Press Ctrl-C to stop.',
      ].join('\n'),
    );
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    await stop(1);
  }
}

await main();
