/**
 * Runs `npm run demo` as a real child process (its own process group, so
 * stopping it stops everything it started) and reads what it prints: the
 * dashboard URL of each till and the connection strings of the hub and the
 * tills' databases.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface DemoEndpoints {
  tillA: { dashboard: string; database: string | null };
  tillB: { dashboard: string; database: string | null };
  hub: { database: string | null };
}

export interface RunningDemo extends DemoEndpoints {
  /** Everything the demo printed so far (stdout and stderr). */
  output(): string;
  /** True once the process has exited. */
  exited(): boolean;
  stop(): Promise<void>;
}

/** A port nobody is listening on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** A dashboard URL carries the bridge's access token (`/?token=...`). */
const URL_LINE = /(Till [AB])\b[^\n]*?(https?:\/\/127\.0\.0\.1:\d+\/?(?:\?token=[\w-]+)?)/g;
const DB_LINE = /^[^\n]*?\b(hub|till[ -]?a|till[ -]?b)\b[^\n]*?(mongodb(?:\+srv)?:\/\/[^\s]+)/gim;

/** Reads dashboard URLs and database connection strings from the demo's output. */
export function parseDemoOutput(
  text: string,
): Partial<DemoEndpoints> & { urls: Record<string, string>; databases: Record<string, string> } {
  const urls: Record<string, string> = {};
  for (const match of text.matchAll(URL_LINE)) urls[match[1]!] = match[2]!;
  const databases: Record<string, string> = {};
  for (const match of text.matchAll(DB_LINE)) {
    const label = match[1]!.toLowerCase().replace(/[ -]/g, '');
    const key = label === 'hub' ? 'hub' : label === 'tilla' ? 'Till A' : 'Till B';
    databases[key] ??= match[2]!.replace(/[),.;]+$/, '');
  }
  return { urls, databases };
}

/**
 * Starts `npm run demo -- ARGS` (or `$E2E_DEMO_COMMAND ARGS`, a shell command line,
 * to try the tests against another build of the demo).
 */
export async function startDemo(args: string[], timeoutMs = 180_000): Promise<RunningDemo> {
  const override = process.env.E2E_DEMO_COMMAND;
  const [command, commandArgs] = override
    ? ['sh', ['-c', `exec ${override} "$@"`, 'demo', ...args]]
    : ['npm', ['run', '--silent', 'demo', '--', ...args]];
  const child: ChildProcess = spawn(command, commandArgs, {
    cwd: process.cwd(),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  let text = '';
  let exitedWith: string | null = null;
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  const exited = new Promise<void>((resolve) =>
    child.on('exit', (code, signal) => {
      exitedWith = signal ?? String(code);
      resolve();
    }),
  );

  const stop = async (): Promise<void> => {
    if (exitedWith !== null || child.pid === undefined) return;
    process.kill(-child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (exitedWith === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const parsed = parseDemoOutput(text);
    if (parsed.urls['Till A'] && parsed.urls['Till B'] && /Ctrl-C/i.test(text)) {
      return {
        tillA: { dashboard: parsed.urls['Till A'], database: parsed.databases['Till A'] ?? null },
        tillB: { dashboard: parsed.urls['Till B'], database: parsed.databases['Till B'] ?? null },
        hub: { database: parsed.databases.hub ?? null },
        output: () => text,
        exited: () => exitedWith !== null,
        stop,
      };
    }
    if (exitedWith !== null) throw new Error(`npm run demo exited (${exitedWith}) before printing its dashboard URLs:\n${text}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm run demo printed no dashboard URLs within ${timeoutMs / 1000} s:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
