/**
 * The headless agent: the sync engine without Electron.
 *
 *   npm run agent -- --local <uri> --hub <uri> --db <name> [--device-id <id>] [--config <file.json>] [--status-every <seconds>]
 *                    [--monitor-port <port> [--monitor-token-file <file>]]
 *
 * Logs structured JSON lines (state changes, errors, conflicts), a one-line
 * status every few seconds, and stops cleanly on SIGINT/SIGTERM (streams
 * closed, checkpoints written).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { SyncStatus } from '../src-shared/status.ts';
import { ConfigError, parseSyncConfig, redactUri } from './sync/config.ts';
import { createSyncEngine } from './sync/engine.ts';
import type { Logger } from './sync/log.ts';
import { MonitorSetupError, startAgentMonitor } from './monitor/agent-monitor.ts';

/** How long the agent waits before trying again when it cannot start (the till's database is down). */
const START_RETRY_MS = 5_000;
const USAGE =
  'usage: npm run agent -- --local <uri> --hub <uri> --db <name> [--device-id <id>] [--config <file.json>] [--status-every <seconds>]' +
  ' [--monitor-port <port> [--monitor-token-file <file>]]';

function fail(message: string): never {
  process.stderr.write(`tillsync agent: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read the config file "${path}": ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) fail(`the config file "${path}" must hold a JSON object`);
    return parsed as Record<string, unknown>;
  } catch (err) {
    fail(`the config file "${path}" is not valid JSON: ${(err as Error).message}`);
  }
}

/** One line a person can read at a glance. */
export function statusLine(s: SyncStatus): string {
  const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);
  const parts = [
    s.state,
    `outbox ${s.outbox.depth}`,
    `push p50 ${ms(s.lag.push.p50Ms)}`,
    `pull p50 ${ms(s.lag.pull.p50Ms)}`,
    `${s.rates.pushPerSec.toFixed(1)}/s up, ${s.rates.pullPerSec.toFixed(1)}/s down`,
    `${s.conflicts.count} conflicts`,
  ];
  if (s.quarantine.count > 0) parts.push(`${s.quarantine.count} set aside`);
  if (s.lastError && s.state !== 'synced') parts.push(`last error: ${s.lastError.message}`);
  return parts.join(' · ');
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        local: { type: 'string' },
        hub: { type: 'string' },
        db: { type: 'string' },
        'device-id': { type: 'string' },
        config: { type: 'string' },
        'status-every': { type: 'string', default: '5' },
        'monitor-port': { type: 'string' },
        'monitor-token-file': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const fromFile = args.config ? readConfigFile(args.config) : {};
  const input: Record<string, unknown> = { ...fromFile };
  if (args.local) input.local = { uri: args.local };
  if (args.hub) input.hub = { uri: args.hub };
  if (args.db) input.database = args.db;
  if (args['device-id']) input.deviceId = args['device-id'];
  const statusEvery = Number(args['status-every']);
  if (!Number.isFinite(statusEvery) || statusEvery <= 0)
    fail(`--status-every must be a number of seconds above 0; got "${args['status-every']}"`);

  let config;
  try {
    config = parseSyncConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }

  const log = pino({ base: { component: 'agent' }, level: process.env.TILLSYNC_LOG_LEVEL ?? 'info' }) as unknown as Logger;
  let engine = createSyncEngine(config, { log });
  if (args['monitor-token-file'] !== undefined && args['monitor-port'] === undefined) fail('--monitor-token-file needs --monitor-port');
  const monitor =
    args['monitor-port'] === undefined
      ? undefined
      : await startAgentMonitor({ port: args['monitor-port'], tokenFile: args['monitor-token-file'], engine: () => engine, log }).catch(
          (err: unknown) => fail(err instanceof MonitorSetupError ? err.message : String(err)),
        );
  log.info(
    { event: 'agent.starting', local: redactUri(config.local.uri), hub: redactUri(config.hub.uri), database: config.database },
    'starting',
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'agent.stopping', signal }, `${signal}: stopping`);
    await monitor?.close();
    await engine.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  // The till's database may still be starting (or down): keep trying, as the app does, until a signal.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await engine.start();
      break;
    } catch (err) {
      await engine.stop().catch(() => undefined);
      if (stopping) return;
      engine = createSyncEngine(config, { log }); // an engine starts once; the next attempt is a new one
      log.error(
        { event: 'agent.start-failed', attempt, error: String(err), retryInMs: START_RETRY_MS },
        `could not start (is the till's database running?); trying again in ${START_RETRY_MS / 1000} s`,
      );
      await new Promise((resolve) => setTimeout(resolve, START_RETRY_MS));
      if (stopping) return;
    }
  }
  const timer = setInterval(() => {
    const status = engine.lastStatus ?? engine.status();
    log.info({ event: 'agent.status', state: status.state, outbox: status.outbox.depth }, statusLine(status));
  }, statusEvery * 1000);
  timer.unref();
  // Keep the process alive until a signal.
  setInterval(() => undefined, 1 << 30);
}

await main();
