/**
 * Head office's view of every till:
 *
 *   npm run fleet -- --hub <uri> [--db pos] [--port 5190] [--config rules.json] [--json]
 *
 * Serves the fleet page on 127.0.0.1 (live: it reads the hub every few
 * seconds), or with `--json` prints the report once and exits: 0 when no till
 * is red, 1 when any is, 2 when the hub cannot be read or an option is wrong.
 * The hub's connection string can come from TILLSYNC_HUB_URI instead of
 * `--hub`, to keep the password off the command line; it is never logged
 * with its password.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { Logger } from '../sync/log.ts';
import { anyRed } from './report.ts';
import { FleetConfigError, parseFleetRules, type FleetRules } from './rules-config.ts';
import { startFleetServer } from './server.ts';
import { FleetSource, HubReadError } from './source.ts';

const USAGE = 'usage: npm run fleet -- --hub <uri> [--db pos] [--port 5190] [--config rules.json] [--json]   (or TILLSYNC_HUB_URI=<uri>)';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PAGE_DIR = join(ROOT, 'dist', 'fleet');

function fail(message: string): never {
  process.stderr.write(`tillsync fleet: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function readRules(path: string | undefined): FleetRules {
  if (path === undefined) return parseFleetRules({});
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot read the rules file "${path}": ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    fail(`the rules file "${path}" is not valid JSON: ${(err as Error).message}`);
  }
  try {
    return parseFleetRules(parsed);
  } catch (err) {
    if (err instanceof FleetConfigError) fail(`the rules file "${path}" has mistakes:\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
    throw err;
  }
}

/** Builds the page once if this copy has never built it (a fresh checkout). */
async function ensurePageBuilt(log: Logger): Promise<void> {
  if (existsSync(join(PAGE_DIR, 'index.html'))) return;
  log.info({ event: 'fleet.building-page' }, 'building the fleet page (first run only)');
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'src-fleet', 'vite.config.ts'), logLevel: 'warn' });
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs({
      options: {
        hub: { type: 'string' },
        db: { type: 'string', default: 'pos' },
        port: { type: 'string', default: '5190' },
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
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
  const uri = args.hub ?? process.env.TILLSYNC_HUB_URI;
  if (!uri) fail("give the hub's connection string with --hub or in TILLSYNC_HUB_URI");
  if (!/^mongodb(\+srv)?:\/\/[^/?#\s]+/.test(uri)) fail('the hub must be a connection string starting with mongodb:// or mongodb+srv://');
  if (!/^[^/\\. "$\0]{1,63}$/.test(args.db))
    fail(`--db must be a MongoDB database name (1 to 63 characters, none of / \\ . space " $); got "${args.db}"`);
  const port = Number(args.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) fail(`--port must be a whole number from 0 to 65535; got "${args.port}"`);
  const rules = readRules(args.config);
  const source = new FleetSource(uri, args.db);

  if (args.json) {
    try {
      const report = await source.report(rules);
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      process.exitCode = anyRed(report) ? 1 : 0;
    } catch (err) {
      if (!(err instanceof HubReadError)) throw err;
      process.stderr.write(`tillsync fleet: ${err.message}\n`);
      process.exitCode = 2;
    } finally {
      await source.close();
    }
    return;
  }

  const log = pino({ base: { component: 'fleet' }, level: process.env.TILLSYNC_LOG_LEVEL ?? 'info' }) as unknown as Logger;
  await ensurePageBuilt(log);
  let server;
  try {
    server = await startFleetServer({ read: () => source.report(rules), pageDir: PAGE_DIR, port, log });
  } catch (err) {
    await source.close();
    const code = (err as { code?: string }).code;
    fail(code === 'EADDRINUSE' ? `port ${port} is in use; choose another with --port` : `cannot listen on port ${port}: ${String(err)}`);
  }
  log.info({ event: 'fleet.listening', url: server.url, hub: source.where, database: args.db }, `fleet view at ${server.url}`);
  const stop = async (signal: string): Promise<void> => {
    log.info({ event: 'fleet.stopping', signal }, `${signal}: stopping`);
    await server.close();
    await source.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await main();
