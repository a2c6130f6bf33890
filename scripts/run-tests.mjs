// Runs every test file under test/ with Node's test runner (TypeScript through tsx),
// each file in its own process, two at a time.
//
// Usage: node scripts/run-tests.mjs [substring-filter ...]
//
// Each file gets a deadline (TEST_FILE_TIMEOUT_S, default 600 s) and each test one of
// its own (TEST_TIMEOUT_S, default 240 s). A file that outlives its deadline — a hung
// test, or a process kept alive by a handle nobody closed — is killed with its whole
// process group (the emulators it started included) and reported as failed, so a
// hang costs minutes and names the file, instead of stalling CI until its limit.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { setTimeout, clearTimeout } from 'node:timers';
import { Buffer } from 'node:buffer';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts') || name.endsWith('.test.tsx')) out.push(path);
  }
  return out;
}

const seconds = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} must be a positive number of seconds; got ${JSON.stringify(process.env[name])}`);
    process.exit(2);
  }
  return value;
};
const fileTimeoutMs = seconds('TEST_FILE_TIMEOUT_S', 600) * 1000;
const testTimeoutMs = seconds('TEST_TIMEOUT_S', 240) * 1000;
const concurrency = Math.max(1, Math.min(2, cpus().length));

const filters = process.argv.slice(2);
const files = findTests('test')
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
if (files.length === 0) {
  console.error(`No test files matched ${filters.join(', ') || 'test/**/*.test.ts'}`);
  process.exit(1);
}

const totals = { tests: 0, pass: 0, fail: 0, skipped: 0, cancelled: 0 };
const failedFiles = [];
const started = Date.now();
const running = new Set();

/** Runs one file; resolves when its process has exited (or been killed at its deadline). */
function runFile(file) {
  return new Promise((resolve) => {
    const fileStart = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', `--test-timeout=${testTimeoutMs}`, file], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    running.add(child.pid);
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    let timedOut = false;
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, fileTimeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child.pid);
      // Whatever the file left running (an emulator, a demo) goes with it.
      killGroup();
      // Give the pipes a moment to flush what was already written.
      setTimeout(() => {
        const output = Buffer.concat(chunks).toString('utf8');
        const secs = ((Date.now() - fileStart) / 1000).toFixed(1);
        process.stdout.write(`\n━━ ${file} (${secs} s)\n${output}`);
        for (const key of Object.keys(totals)) {
          const m = output.match(new RegExp(`^ℹ ${key} (\\d+)$`, 'm'));
          if (m) totals[key] += Number(m[1]);
        }
        const ok = !timedOut && code === 0;
        if (timedOut)
          process.stdout.write(
            `✖ ${file} was still running after ${fileTimeoutMs / 1000} s and was stopped (a hung test or an open handle)\n`,
          );
        else if (!ok) process.stdout.write(`✖ ${file} exited with ${signal ?? `code ${code}`}\n`);
        if (!ok) failedFiles.push(file);
        resolve();
      }, 100);
    });
  });
}

const queue = [...files];
async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) await runFile(file);
}
const stopAll = () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(130);
};
process.on('SIGINT', stopAll);
process.on('SIGTERM', stopAll);
await Promise.all(Array.from({ length: concurrency }, worker));

const minutes = ((Date.now() - started) / 60_000).toFixed(1);
console.log(
  `\n━━ ${files.length} files in ${minutes} min: ${totals.tests} tests, ${totals.pass} passed, ${totals.fail} failed, ${totals.skipped} skipped, ${totals.cancelled} cancelled`,
);
if (failedFiles.length > 0) {
  console.log(`Failed files:\n${failedFiles.map((f) => `  ${f}`).join('\n')}`);
  process.exit(1);
}
