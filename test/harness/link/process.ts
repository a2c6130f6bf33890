/**
 * A link in its own process (cli.ts), driven over Node's IPC channel: for the
 * bench and the soak, so the link's work is not done on the event loop of the
 * process that measures, and its CPU can be read on its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { LinkRequest, LinkResponse } from './control.ts';
import type { LinkCounters, LinkDown, LinkSettings } from './proxy.ts';

const CLI = new URL('./cli.ts', import.meta.url).pathname;

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

type Op = LinkRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;

export class LinkProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The connection string through the link (a direct connection). */
  readonly uri: string;
  readonly port: number;
  #next = 1;
  readonly #waiting = new Map<number, (res: LinkResponse) => void>();

  private constructor(child: ChildProcess, uri: string) {
    this.child = child;
    this.pid = child.pid as number;
    this.uri = uri;
    this.port = Number(new URL(uri).port);
    child.on('message', (res: LinkResponse) => {
      this.#waiting.get(res.id)?.(res);
      this.#waiting.delete(res.id);
    });
  }

  /** Starts a link to `to` (host:port); `extra` arguments go to the command line (e.g. `--port`). */
  static async start(to: string, settings: Partial<LinkSettings> = {}, extra: string[] = []): Promise<LinkProcess> {
    const args = ['--to', to, '--rtt', String(settings.rttMs ?? 0), '--jitter', String(settings.jitterMs ?? 0), ...extra];
    if (settings.kbps) args.push('--kbps', String(settings.kbps));
    const child = fork(CLI, args, { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    const said: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => said.push(chunk.toString()));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((resolve, reject) => {
      lines.once('line', resolve);
      child.once('exit', (code) => reject(new Error(`the link exited with code ${String(code)} while starting: ${said.join('').trim()}`)));
    });
    return new LinkProcess(child, first);
  }

  async #ask(op: Op): Promise<LinkResponse & { ok: true }> {
    if (!this.child.connected) throw new Error(`the link (pid ${this.pid}) is not running`);
    const id = this.#next++;
    const answered = new Promise<LinkResponse>((resolve) => this.#waiting.set(id, resolve));
    this.child.send({ ...op, id } as LinkRequest);
    const res = await answered;
    if (!res.ok) throw new Error(`link: ${res.error}`);
    return res;
  }

  async setDelay(rttMs: number, jitterMs = 0): Promise<void> {
    await this.#ask({ op: 'setDelay', rttMs, jitterMs });
  }

  async setBandwidth(kbps: number | null): Promise<void> {
    await this.#ask({ op: 'setBandwidth', kbps });
  }

  async setDown(mode: LinkDown | false): Promise<void> {
    await this.#ask({ op: 'setDown', mode });
  }

  async counters(): Promise<LinkCounters> {
    return (await this.#ask({ op: 'counters' })).counters as LinkCounters;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const gone = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await gone;
  }
}
