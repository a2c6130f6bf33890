/**
 * The headless agent as a real child process, for the agent tests: started
 * with arguments and an environment, its output collected, stopped with a
 * signal the way a service manager stops it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../integration/topology.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  stderr(): string;
  /** Resolves once a log line has this `event`. */
  waitForEvent(event: string, timeoutMs?: number): Promise<void>;
  /** Sends `signal` (once) and resolves with how the process ended; SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
  readonly exited: Promise<Exit>;
}

export interface StartOptions {
  /** Added to (or, with `undefined`, removed from) the test's environment. */
  env?: Record<string, string | undefined>;
  /** The program and its first arguments; default: this Node.js with tsx and src-main/agent.ts. */
  command?: readonly string[];
  cwd?: string;
}

/** A clean environment for the agent: no hub URI inherited from whoever runs the tests. */
function agentEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TILLSYNC_LOG_LEVEL: 'info' };
  delete env.TILLSYNC_HUB_URI;
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export function startAgent(args: readonly string[], options: StartOptions = {}): AgentProcess {
  const [program, ...first] = options.command ?? [process.execPath, '--import', 'tsx', 'src-main/agent.ts'];
  const child: ChildProcess = spawn(program!, [...first, ...args], {
    cwd: options.cwd ?? REPO,
    env: agentEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  return {
    output: () => out + err,
    stderr: () => err,
    exited,
    async waitForEvent(event, timeoutMs = 30_000) {
      await waitFor(
        `the agent to log ${event}`,
        () => {
          if (done && !out.includes(`"event":"${event}"`)) throw new Error(`the agent exited first:\n${out}${err}`);
          return out.includes(`"event":"${event}"`);
        },
        timeoutMs,
      );
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      if (!done) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Runs the agent until it exits by itself (a refused start); SIGKILL after `timeoutMs`. */
export async function runAgentToExit(args: readonly string[], options: StartOptions = {}, timeoutMs = 30_000) {
  const agent = startAgent(args, options);
  const timer = setTimeout(() => void agent.stop('SIGKILL'), timeoutMs);
  const exit = await agent.exited;
  clearTimeout(timer);
  return { ...exit, output: agent.output(), stderr: agent.stderr() };
}

/** Writes a hub file with these permissions (chmod after writing, so the umask does not interfere). */
export async function writeHubFile(path: string, text: string, mode: number): Promise<string> {
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}
