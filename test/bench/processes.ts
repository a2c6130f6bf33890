/** Child processes for benchmarks: emulators and agents, each measured on its own. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { buildAgent } from '../../scripts/build-agent.mjs';

export interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  stop(): Promise<void>;
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

/** CPU time (user + system) a process has used so far, in seconds. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
  const ticksPerSecond = 100; // USER_HZ on Linux
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

/** CPU seconds each named process used between `start()` and `read()`, with the wall time, to see where a figure's time went. */
export class CpuMeter {
  readonly #pids: Map<string, number>;
  #at = new Map<string, number>();
  #wall = 0;
  constructor(pids: Record<string, number>) {
    this.#pids = new Map(Object.entries(pids));
  }
  start(): void {
    this.#wall = performance.now();
    for (const [name, pid] of this.#pids) this.#at.set(name, cpuSeconds(pid));
  }
  read(): { wallS: number; cpu: Record<string, number> } {
    const cpu: Record<string, number> = {};
    for (const [name, pid] of this.#pids) cpu[name] = cpuSeconds(pid) - (this.#at.get(name) ?? 0);
    return { wallS: (performance.now() - this.#wall) / 1000, cpu };
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

/**
 * The emulators' young generation at 32 MB a half instead of 16: they stand in for mongod, whose CPU is not
 * the engine's, and sync makes them allocate a great deal of short-lived BSON (scavenges took 15-20% of each
 * process's CPU under the throughput figures, about a third less with this). The agent runs with V8's
 * defaults, as `npm run agent` does: with 32 MB it kept 100 MB more after a burst, for no throughput it
 * showed (docs/sync.md, "At rest").
 */
const NODE_FLAGS = ['--max-semi-space-size=32'];

/** An emulator in its own process; resolves with its connection string. */
export async function emulatorProcess(extra: string[] = []): Promise<Child & { uri: string }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile per emulator and agent, to see where a benchmark's time goes.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = spawn(process.execPath, [...NODE_FLAGS, ...prof, '--import', 'tsx', 'test/harness/mongo/cli.ts', '--port', '0', ...extra], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [uri] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  return { child, pid: child.pid as number, uri, stop: () => stopChild(child) };
}

let bundled: Promise<string> | undefined;

/** A headless agent in its own process, from its bundle as a till runs it; resolves once its engine has started. */
export async function agentProcess(args: string[], options: { logLevel?: string } = {}): Promise<Child & { lines: string[] }> {
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const bundle = await (bundled ??= buildAgent());
  const child = spawn(process.execPath, [...prof, bundle, '--status-every', '60', ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TILLSYNC_LOG_LEVEL: options.logLevel ?? 'warn' },
  });
  const lines: string[] = [];
  const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  rl.on('line', (line) => lines.push(line));
  // Level warn hides engine.started; give it a moment and check it is alive.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  if (child.exitCode !== null) throw new Error(`agent exited early:\n${lines.join('\n')}`);
  return { child, pid: child.pid as number, lines, stop: () => stopChild(child) };
}

/** The engine's two driver clients alone in a process (test/bench/driver-at-rest.ts): the floor of the agent's cost at rest. */
export async function driverAtRestProcess(tillUri: string, hubUri: string): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/bench/driver-at-rest.ts', tillUri, hubUri], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout as NodeJS.ReadableStream }), 'line')) as [string];
  if (line !== 'connected') throw new Error(`the driver-at-rest process said "${line}", expected "connected"`);
  return { child, pid: child.pid as number, stop: () => stopChild(child) };
}
