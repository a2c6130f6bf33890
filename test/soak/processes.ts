/**
 * The soak's child processes: MongoDB servers (the emulator's CLI with its
 * control channel, or a real mongod when MONGOMS_SYSTEM_BINARY is set) and the
 * headless agents. Each keeps its port and data directory across restarts and
 * appends its output to a log file in the run directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { MongoClient } from 'mongodb';
import { AGENT_BUNDLE } from '../../scripts/build-agent.mjs';

export type ServerKind = 'emulator' | 'mongod';

export function serverKind(): ServerKind {
  return process.env.MONGOMS_SYSTEM_BINARY ? 'mongod' : 'emulator';
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released). */
/** Ports handed out by this process: each server keeps its ports across restarts. */
const handedOut = new Set<number>();

/**
 * A free port below Linux's ephemeral range (32768-60999). A port the system picked (`listen(0)`) comes
 * from that range, where an outgoing connection can take it between a server's restarts: a soak once
 * failed to start its hub because another connection held the control port it had been given.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) continue;
    server.close();
    await once(server, 'close');
    handedOut.add(port);
    return port;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Every child this process started and that still runs: killed if the soak itself exits early. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (!exited(child)) child.kill('SIGKILL');
});

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Signals a process and waits for it to go; one that ignores SIGTERM for 10 s is killed. */
async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (exited(child)) return;
  const gone = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await gone;
  clearTimeout(timer);
}

/** One MongoDB server: started, killed and started again on the same port and data. */
export class ServerProcess {
  readonly name: string;
  readonly kind: ServerKind;
  readonly port: number;
  readonly controlPort: number;
  readonly dbPath: string;
  readonly #log: WriteStream;
  #child: ChildProcess | undefined;
  /** The wall-clock offset it runs with; kept across restarts. */
  clockOffsetMs = 0;
  #initiated = false;

  private constructor(name: string, kind: ServerKind, port: number, controlPort: number, dir: string) {
    this.name = name;
    this.kind = kind;
    this.port = port;
    this.controlPort = controlPort;
    this.dbPath = join(dir, 'data', name);
    mkdirSync(this.dbPath, { recursive: true });
    this.#log = createWriteStream(join(dir, 'logs', `${name}-server.log`), { flags: 'a' });
  }

  static async create(name: string, dir: string): Promise<ServerProcess> {
    const server = new ServerProcess(name, serverKind(), await freePort(), await freePort(), dir);
    await server.start();
    return server;
  }

  get uri(): string {
    return `mongodb://127.0.0.1:${this.port}/?replicaSet=rs0`;
  }

  get running(): boolean {
    return this.#child !== undefined && !exited(this.#child);
  }

  /** Whether faults other than kill/restart can be injected (the emulator's control channel). */
  get controllable(): boolean {
    return this.kind === 'emulator';
  }

  async start(): Promise<void> {
    if (this.running) return;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await (this.kind === 'emulator' ? this.#startEmulator() : this.#startMongod());
        return;
      } catch (err) {
        // The port of a just-killed process can take a moment to free.
        if (attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  async #startEmulator(): Promise<void> {
    const args = [
      '--import',
      'tsx',
      'test/harness/mongo/cli.ts',
      '--port',
      String(this.port),
      '--repl-set',
      'rs0',
      '--dbpath',
      this.dbPath,
    ];
    args.push('--control-port', String(this.controlPort), '--clock-offset-ms', String(this.clockOffsetMs));
    const child = track(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stderr?.pipe(this.#log, { end: false });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`${this.name} server exited with code ${String(code)} while starting`)));
    });
    if (!first.startsWith('mongodb://')) {
      await terminate(child, 'SIGKILL');
      throw new Error(`${this.name} server printed "${first}" instead of its address`);
    }
    lines.on('line', (line) => this.#log.write(`${line}\n`));
    this.#child = child;
  }

  async #startMongod(): Promise<void> {
    const binary = process.env.MONGOMS_SYSTEM_BINARY as string;
    const args = [
      '--replSet',
      'rs0',
      '--port',
      String(this.port),
      '--bind_ip',
      '127.0.0.1',
      '--dbpath',
      this.dbPath,
      '--setParameter',
      'enableTestCommands=1',
    ];
    const child = track(spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    child.stdout?.pipe(this.#log, { end: false });
    child.stderr?.pipe(this.#log, { end: false });
    this.#child = child;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (!this.running) throw new Error(`${this.name} mongod exited while starting`);
      const client = new MongoClient(`mongodb://127.0.0.1:${this.port}/?directConnection=true`, { serverSelectionTimeoutMS: 1_000 });
      try {
        await client.connect();
        if (!this.#initiated) {
          await client
            .db('admin')
            .command({ replSetInitiate: { _id: 'rs0', members: [{ _id: 0, host: `127.0.0.1:${this.port}` }] } })
            .catch((err: { code?: number }) => {
              if (err.code !== 23) throw err; // already initialized
            });
          this.#initiated = true;
        }
        const hello = await client.db('admin').command({ hello: 1 });
        if (hello.isWritablePrimary) return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      } finally {
        await client.close();
      }
      await sleep(250);
    }
  }

  /** Stops the process: SIGKILL (a crash) or SIGTERM (a clean shutdown). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child) await terminate(child, signal);
  }

  /** Sends a control request (emulator only); throws on failure. */
  async control(path: string): Promise<void> {
    if (!this.controllable) throw new Error(`${this.name}: ${this.kind} has no control channel`);
    const res = await fetch(`http://127.0.0.1:${this.controlPort}${path}`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { ok: boolean; error?: string };
    if (!body.ok) throw new Error(`${this.name} control ${path}: ${body.error}`);
  }

  async setClockOffset(ms: number): Promise<void> {
    this.clockOffsetMs = ms;
    // A server starting right now takes the offset from its command line.
    for (let attempt = 0; this.running; attempt += 1) {
      try {
        return await this.control(`/clock-offset?ms=${ms}`);
      } catch (err) {
        if (attempt >= 10) throw err;
        await sleep(300);
      }
    }
  }

  async close(): Promise<void> {
    await this.stop('SIGTERM');
    this.#log.end();
  }
}

/** What an agent last said about itself. */
export interface AgentView {
  state: string;
  outbox: number | null;
  lastError: string | null;
}

/** A headless agent for one till, restarted by the soak when it dies (as a service manager would). */
export class AgentProcess {
  readonly device: string;
  readonly #args: string[];
  readonly #log: WriteStream;
  #child: ChildProcess | undefined;
  #wanted = false;
  #restartTimer: NodeJS.Timeout | undefined;
  view: AgentView = { state: 'down', outbox: null, lastError: null };
  /** Exits the soak did not cause (each is restarted a second later). */
  unexpectedExits = 0;
  readonly errors = new Map<string, number>();
  startedAt = 0;

  constructor(device: string, localUri: string, hubUri: string, configFile: string, dir: string) {
    this.device = device;
    this.#args = [
      '--local',
      localUri,
      '--hub',
      hubUri,
      '--db',
      'pos',
      '--device-id',
      device,
      '--config',
      configFile,
      '--status-every',
      '1',
    ];
    this.#log = createWriteStream(join(dir, 'logs', `${device}-agent.log`), { flags: 'a' });
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  start(): void {
    this.#wanted = true;
    if (this.#child) return;
    clearTimeout(this.#restartTimer);
    const child = track(
      spawn(process.execPath, [AGENT_BUNDLE, ...this.#args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TILLSYNC_LOG_LEVEL: 'info' },
      }),
    );
    this.#child = child;
    this.startedAt = Date.now();
    this.view = { state: 'starting', outbox: null, lastError: null };
    this.#log.write(`--- soak: agent started (pid ${child.pid}) at ${new Date().toISOString()}\n`);
    child.stderr?.pipe(this.#log, { end: false });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      this.#log.write(`${line}\n`);
      this.#read(line);
    });
    child.once('exit', (code, signal) => {
      if (this.#child === child) this.#child = undefined;
      this.view = { ...this.view, state: 'down' };
      this.#log.write(`--- soak: agent exited (code ${code}, signal ${signal}) at ${new Date().toISOString()}\n`);
      if (this.#wanted && this.#child === undefined) {
        this.unexpectedExits += 1;
        this.#restartTimer = setTimeout(() => {
          if (this.#wanted) this.start();
        }, 1_000);
      }
    });
  }

  #read(line: string): void {
    let entry: { event?: string; state?: string; to?: string; outbox?: number; reason?: string; error?: string; msg?: string };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if (entry.event === 'agent.status' && entry.state) this.view = { ...this.view, state: entry.state, outbox: entry.outbox ?? null };
    if (entry.event === 'engine.state' && entry.to) this.view = { ...this.view, state: entry.to };
    if (entry.event === 'engine.error') {
      const reason = entry.reason ?? 'unknown';
      this.errors.set(reason, (this.errors.get(reason) ?? 0) + 1);
      this.view = { ...this.view, lastError: entry.msg ?? reason };
    }
  }

  /** Stops it; `SIGKILL` is a crash, which the soak does not restart by itself. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.#wanted = false;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    this.#child = undefined;
    if (child) await terminate(child, signal);
  }

  async close(): Promise<void> {
    await this.stop('SIGTERM');
    this.#log.end();
  }
}
