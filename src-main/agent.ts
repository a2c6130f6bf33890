/**
 * The headless agent: the sync engine without Electron.
 *
 *   npm run agent -- --local <uri> --hub-file <file> --db <name> [--device-id <id>] [--config <file.json>] [--status-every <seconds>]
 *                    [--monitor-port <port> [--monitor-token-file <file>]]
 *   npm run agent -- --print-systemd-unit [--local <uri>] [--db <name>] [--hub-file <file>] [--config <file.json>] [--device-id <id>]
 *
 * The hub connection string (it holds the hub password) comes from a file only
 * its owner can read (`--hub-file`), or from TILLSYNC_HUB_URI; `--hub <uri>`
 * still works but shows the password to every user in the process list, and
 * the agent warns about it. Logs structured JSON lines (state changes, errors,
 * conflicts), a one-line status every few seconds, and stops cleanly on
 * SIGINT/SIGTERM (streams closed, checkpoints written).
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { carriesSecret, HUB_URI_ENV, HubUriError, resolveHubUri } from './agent/hub-uri.ts';
import { runAgent } from './agent/run.ts';
import { detectSystemdVersion, renderAgentUnit } from './agent/systemd-unit.ts';
import { ConfigError, parseSyncConfig, redactUri } from './sync/config.ts';
import { createSyncEngine, type SyncEngine } from './sync/engine.ts';
import type { Logger } from './sync/log.ts';
import { MonitorSetupError, startAgentMonitor } from './monitor/agent-monitor.ts';

const USAGE = [
  'usage: npm run agent -- --local <uri> --hub-file <file> --db <name> [--device-id <id>] [--config <file.json>] [--status-every <seconds>]',
  '                        [--monitor-port <port> [--monitor-token-file <file>]]',
  `       (instead of --hub-file: the ${HUB_URI_ENV} environment variable, or --hub <uri>, which shows the password to every user)`,
  '       npm run agent -- --print-systemd-unit [--local <uri>] [--db <name>] [--hub-file <file>] [--config <file.json>] [--device-id <id>]',
].join('\n');
/** This file: the agent's bundle, dist/agent/agent.js (`npm run build:agent`, what `npm run agent` runs), or its source under tsx. */
const SELF = fileURLToPath(import.meta.url);
const FROM_SOURCE = SELF.endsWith('.ts');
const REPO = resolve(dirname(SELF), FROM_SOURCE ? '..' : '../..');
/** How this agent was started (package.json's `agent` script for the bundle); the systemd unit runs it the same way. */
const NODE_FLAGS = FROM_SOURCE ? ['--import', 'tsx'] : [];
const UNIT_DEFAULTS = { local: 'mongodb://127.0.0.1:27017/?replicaSet=rs0', db: 'pos', hubFile: '/etc/tillsync/hub-uri' };

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

function parseOptions() {
  try {
    return parseArgs({
      options: {
        local: { type: 'string' },
        hub: { type: 'string' },
        'hub-file': { type: 'string' },
        db: { type: 'string' },
        'device-id': { type: 'string' },
        config: { type: 'string' },
        'status-every': { type: 'string' },
        'print-systemd-unit': { type: 'boolean', default: false },
        'monitor-port': { type: 'string' },
        'monitor-token-file': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    fail((err as Error).message);
  }
}
type Options = ReturnType<typeof parseOptions>;

function parseConfig(input: Record<string, unknown>) {
  try {
    return parseSyncConfig(input);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
}

function statusEverySeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isFinite(seconds) || seconds <= 0) fail(`--status-every must be a number of seconds above 0; got "${text}"`);
  return seconds;
}

/** Prints a systemd unit that runs this agent, from this checkout, as this user, with the hub URI from a file. */
function printSystemdUnit(args: Options): void {
  if (args.hub !== undefined)
    fail('a systemd unit never carries the hub connection string: leave out --hub, and put it in the file named by --hub-file');
  const local = args.local ?? UNIT_DEFAULTS.local;
  const db = args.db ?? UNIT_DEFAULTS.db;
  const config = args.config === undefined ? undefined : resolve(args.config);
  // Checked now, so a mistake shows here rather than in the service's log; the hub URI is not needed for that.
  parseConfig({ ...(config ? readConfigFile(config) : {}), local: { uri: local }, hub: { uri: 'mongodb://hub.invalid' }, database: db });
  const hubFile = resolve(args['hub-file'] ?? UNIT_DEFAULTS.hubFile);
  const agentArgs = ['--local', local, '--db', db, '--hub-file', hubFile];
  if (config) agentArgs.push('--config', config);
  if (args['device-id']) agentArgs.push('--device-id', args['device-id']);
  if (args['status-every']) agentArgs.push('--status-every', String(statusEverySeconds(args['status-every'])));
  let unit: string;
  try {
    unit = renderAgentUnit({
      command: [process.execPath, ...NODE_FLAGS, SELF, ...agentArgs],
      workingDirectory: REPO,
      user: userInfo().username,
      hubFile,
      systemdVersion: detectSystemdVersion(),
    });
  } catch (err) {
    fail(`cannot write a systemd unit for this machine: ${(err as Error).message}`);
  }
  process.stdout.write(unit);
}

async function main(): Promise<void> {
  const args = parseOptions();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (args['print-systemd-unit']) {
    printSystemdUnit(args);
    return;
  }
  const fromFile = args.config ? readConfigFile(args.config) : {};
  let hub;
  try {
    hub = resolveHubUri({ argument: args.hub, file: args['hub-file'], env: process.env });
  } catch (err) {
    if (err instanceof HubUriError) fail(err.message);
    throw err;
  }
  if (!hub && fromFile.hub === undefined)
    fail(`no hub connection string: pass --hub-file <file> (a file only you can read), or set ${HUB_URI_ENV}`);
  const input: Record<string, unknown> = { ...fromFile };
  if (args.local) input.local = { uri: args.local };
  if (hub) input.hub = { uri: hub.uri };
  if (args.db) input.database = args.db;
  if (args['device-id']) input.deviceId = args['device-id'];
  const statusEvery = statusEverySeconds(args['status-every'] ?? '5');
  const config = parseConfig(input);

  // Written synchronously: the agent ends with process.exit, and an asynchronous stream would lose or reorder
  // its last lines (the engine's "stopped" after the agent's). It logs little: state changes, errors, conflicts
  // and a status line every few seconds.
  const log = pino(
    { base: { component: 'agent' }, level: process.env.TILLSYNC_LOG_LEVEL ?? 'info' },
    pino.destination({ dest: 1, sync: true }),
  ) as unknown as Logger;
  if (hub?.from === 'argument' && carriesSecret(hub.uri)) {
    log.warn(
      { event: 'agent.password-on-command-line' },
      'the hub connection string given with --hub holds a password, which every user of this computer can see in the process list; ' +
        `put it in a file only you can read and pass --hub-file <file>, or set ${HUB_URI_ENV}`,
    );
  }

  // The monitor API (health, metrics, conflicts, toggle) asks for the current engine each time: the agent
  // starts a new one when a start fails.
  let engine: SyncEngine = createSyncEngine(config, { log });
  if (args['monitor-token-file'] !== undefined && args['monitor-port'] === undefined) fail('--monitor-token-file needs --monitor-port');
  const monitor =
    args['monitor-port'] === undefined
      ? undefined
      : await startAgentMonitor({ port: args['monitor-port'], tokenFile: args['monitor-token-file'], engine: () => engine, log }).catch(
          (err: unknown) => fail(err instanceof MonitorSetupError ? err.message : String(err)),
        );
  await runAgent(config, log, statusEvery * 1000, {
    onEngine: (e) => (engine = e),
    beforeStop: async () => monitor?.close(),
    announce: () =>
      log.info(
        {
          event: 'agent.starting',
          local: redactUri(config.local.uri),
          hub: redactUri(config.hub.uri),
          hubFrom: hub?.from ?? 'config-file',
          database: config.database,
        },
        'starting',
      ),
  });
}

await main();
