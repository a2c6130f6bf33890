/**
 * `npm start`: checks that the Electron program and a mongod are there, then
 * builds the app (dashboard and main process) and starts Electron. When
 * either program is missing — they download from the internet, which this
 * machine may not have — it prints one message saying what is missing, how to
 * get it, and that `npm run demo` works without either, and exits with 1.
 *
 *   npm start [-- --check] [-- --download-mongod]
 *
 * --check: only look for the programs. --download-mongod: let the app
 * download mongod on this first start (needs internet).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findElectron, findMongod, isFound } from './binaries.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function say(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function missingMessage(electronProblem: string | null, mongodProblem: string | null): string {
  const lines = ['TillSync cannot start the desktop app on this machine:'];
  if (electronProblem) lines.push(`  - Electron: ${electronProblem}.`);
  if (mongodProblem) lines.push(`  - MongoDB: ${mongodProblem}.`);
  lines.push('', 'On a machine with internet:');
  if (electronProblem)
    lines.push('  - get Electron with `node node_modules/electron/install.js` (or `npx electron --version`, which installs it too);');
  if (mongodProblem) {
    lines.push(
      '  - mongod downloads on the first start with `npm start -- --download-mongod` (about 100 MB, once); or point MONGOMS_SYSTEM_BINARY at an installed mongod (7.0 or newer).',
    );
  }
  lines.push('', 'Meanwhile, `npm run demo` shows the dashboard in your browser with two simulated tills; it needs neither program.');
  return lines.join('\n');
}

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', shell: process.platform === 'win32' });
  if (result.status !== 0) {
    process.stderr.write(`tillsync: \`${[command, ...args].join(' ')}\` failed; see above.\n`);
    process.exit(result.status ?? 1);
  }
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const download = process.argv.includes('--download-mongod');
  const electron = findElectron();
  // Both problems are reported at once, so one trip to a machine with internet fixes both.
  const mongod = download ? { path: '' } : await findMongod();
  if (!isFound(electron) || !isFound(mongod)) {
    process.stderr.write(`${missingMessage(isFound(electron) ? null : electron.problem, isFound(mongod) ? null : mongod.problem)}\n`);
    process.exit(1);
  }
  if (check) {
    say('TillSync: Electron and mongod are both present; `npm start` will run the desktop app.');
    return;
  }
  if (!existsSync(join(ROOT, 'dist', 'renderer', 'index.html'))) run('npm', ['run', 'build:renderer']);
  run(process.execPath, [join(ROOT, 'scripts', 'build-main.mjs')]);
  const child = spawn(electron.path, [ROOT], {
    cwd: ROOT,
    stdio: 'inherit',
    env: download ? { ...process.env, TILLSYNC_DOWNLOAD_MONGOD: '1' } : { ...process.env, MONGOMS_SYSTEM_BINARY: mongod.path },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
}

await main();
