/**
 * A simulated internet link: a userspace TCP proxy between clients (an engine,
 * an agent, a driver) and one server (the emulator or a mongod).
 *
 * Every chunk read on one side is written on the other a one-way delay later
 * (RTT / 2, give or take half the jitter), by a timer set when it arrives, so
 * many chunks are in flight at once and a large transfer takes about one RTT
 * plus its size over the bandwidth, not one RTT per chunk. A bandwidth cap
 * serialises each direction's bytes across all connections, as one line would.
 * Bytes stay in order per connection and direction (a chunk is never due before
 * the one ahead of it). A new connection's first bytes wait one extra round
 * trip, as behind a TCP handshake. The link can go down: `stall` holds every
 * byte (and new connections) until it is up again, as a pulled cable with TCP
 * retransmitting would; `reset` resets every connection and each new one.
 * Wire messages are counted per command and direction (wire-count.ts).
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ConnectionCounter, type CommandCounts } from './wire-count.ts';

export type LinkDown = 'stall' | 'reset';

export interface LinkSettings {
  /** Round-trip time added, in ms (each direction gets half). */
  rttMs: number;
  /** Each one-way delay varies uniformly by up to ± jitterMs / 2, so a round trip by up to ± jitterMs. */
  jitterMs: number;
  /** Bandwidth of each direction in kilobits per second (1,000 bits); null for no cap. */
  kbps: number | null;
}

export interface LinkOptions extends Partial<LinkSettings> {
  /** The server, `host:port`. */
  to: string;
  /** Port to listen on; 0 (default) for any free one. */
  port?: number;
  host?: string;
  /** Source of randomness for the jitter (tests pass a fixed one). */
  random?: () => number;
}

export interface LinkCounters {
  /** Connections accepted since start (or the last reset of the counters). */
  connections: number;
  /** Connections open now. */
  open: number;
  bytesToServer: number;
  bytesToClient: number;
  commands: CommandCounts;
}

export class LinkOptionError extends Error {
  override readonly name = 'LinkOptionError';
}

/** A pause per direction this deep in queued bytes, until it drains below a quarter of it: a TCP window, roughly. */
const QUEUE_HIGH_BYTES = 32 * 1024 * 1024;

export function checkSettings(s: LinkSettings): LinkSettings {
  if (!Number.isFinite(s.rttMs) || s.rttMs < 0) throw new LinkOptionError(`the round-trip time must be 0 ms or more; got ${s.rttMs}`);
  if (!Number.isFinite(s.jitterMs) || s.jitterMs < 0 || s.jitterMs > s.rttMs)
    throw new LinkOptionError(`the jitter must be from 0 ms to the round-trip time (${s.rttMs} ms); got ${s.jitterMs}`);
  if (s.kbps !== null && (!Number.isFinite(s.kbps) || s.kbps <= 0))
    throw new LinkOptionError(`the bandwidth must be above 0 kbit/s (or unlimited); got ${s.kbps}`);
  return s;
}

export function parseTarget(to: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(to);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535)
    throw new LinkOptionError(`the server must be given as host:port, e.g. 127.0.0.1:27017; got "${to}"`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

/** What one direction of the link shares across connections: when its line is free again. */
interface Line {
  freeAt: number;
}

const END = Symbol('end');
type Item = Buffer | typeof END;

/** One direction of one connection: chunks waiting for their time. */
class Pipe {
  readonly #queue: Array<{ seq: number; item: Item }> = [];
  #seq = 0;
  #queuedBytes = 0;
  /** When the last chunk queued is due: no chunk is due before the one ahead of it. */
  lastDue = 0;
  #blockedByQueue = false;
  #blockedByDrain = false;
  /** Chunks that came while the link was stalled, queued again when it is up. */
  readonly held: Item[] = [];
  readonly #from: Socket;
  readonly #to: Socket;
  readonly #link: LinkProxy;
  readonly #line: Line;

  constructor(link: LinkProxy, line: Line, from: Socket, to: Socket) {
    this.#link = link;
    this.#line = line;
    this.#from = from;
    this.#to = to;
    to.on('drain', () => {
      this.#blockedByDrain = false;
      this.#resumeIfClear();
    });
  }

  get idle(): boolean {
    return this.#queue.length === 0 && this.held.length === 0;
  }

  /** A chunk (or the end of the stream) read from `from` now. */
  arrive(item: Item): void {
    if (this.#link.down === 'stall') {
      this.held.push(item);
      return;
    }
    const now = performance.now();
    const s = this.#link.settings;
    if (s.rttMs === 0 && s.kbps === null && this.idle && now >= this.lastDue) return this.#write(item); // nothing to simulate
    let sent = now;
    if (s.kbps !== null && item !== END) {
      // kbit/s is bits per ms: the chunk occupies the line for its bits / kbps ms, after what is ahead of it.
      this.#line.freeAt = Math.max(now, this.#line.freeAt) + (item.length * 8) / s.kbps;
      sent = this.#line.freeAt;
    }
    const jitter = s.jitterMs === 0 ? 0 : (this.#link.random() - 0.5) * s.jitterMs;
    const due = Math.max(this.lastDue, sent + Math.max(0, s.rttMs / 2 + jitter));
    this.lastDue = due;
    const seq = ++this.#seq;
    this.#queue.push({ seq, item });
    if (item !== END) {
      this.#queuedBytes += item.length;
      if (this.#queuedBytes > QUEUE_HIGH_BYTES && !this.#blockedByQueue) {
        this.#blockedByQueue = true;
        this.#from.pause();
      }
    }
    // One timer per chunk, at its own time: chunks behind it are not held up by it.
    setTimeout(() => this.#flush(seq), Math.max(0, due - now));
  }

  /** Writes chunk `seq` and any still queued ahead of it (due no later), in order. */
  #flush(seq: number): void {
    let n = 0;
    while (n < this.#queue.length && (this.#queue[n] as { seq: number }).seq <= seq) n += 1;
    for (const { item } of this.#queue.splice(0, n)) {
      if (item !== END) this.#queuedBytes -= item.length;
      this.#write(item);
    }
    if (this.#blockedByQueue && this.#queuedBytes < QUEUE_HIGH_BYTES / 4) {
      this.#blockedByQueue = false;
      this.#resumeIfClear();
    }
  }

  #write(item: Item): void {
    if (this.#to.destroyed) return;
    if (item === END) {
      this.#to.end();
      return;
    }
    if (!this.#to.write(item) && !this.#blockedByDrain) {
      this.#blockedByDrain = true;
      this.#from.pause();
    }
  }

  #resumeIfClear(): void {
    if (!this.#blockedByDrain && !this.#blockedByQueue && !this.#from.destroyed) this.#from.resume();
  }

  /** The link is up again: what was held goes on its way, delayed from now. */
  release(): void {
    for (const item of this.held.splice(0)) this.arrive(item);
  }
}

/** One client connection and its connection to the server. */
class Connection {
  readonly client: Socket;
  readonly server: Socket;
  readonly up: Pipe;
  readonly downstream: Pipe;

  constructor(link: LinkProxy, client: Socket, counter: ConnectionCounter) {
    this.client = client;
    const { host, port } = link.target;
    this.server = createConnection({ host, port, noDelay: true, allowHalfOpen: true });
    client.setNoDelay(true);
    this.up = new Pipe(link, link.lines.up, client, this.server);
    this.downstream = new Pipe(link, link.lines.down, this.server, client);
    // The handshake: the client could send only after SYN and SYN-ACK (a round trip), so its first bytes
    // reach the server 1.5 round trips after it connected.
    this.up.lastDue = performance.now() + 1.5 * link.settings.rttMs;
    client.on('data', (chunk: Buffer) => {
      link.bytesToServer += chunk.length;
      counter.fromClient(chunk);
      this.up.arrive(chunk);
    });
    this.server.on('data', (chunk: Buffer) => {
      link.bytesToClient += chunk.length;
      counter.fromServer(chunk);
      this.downstream.arrive(chunk);
    });
    client.on('end', () => this.up.arrive(END));
    this.server.on('end', () => this.downstream.arrive(END));
    // A reset or an error on either side resets the other at once (a server that cannot be reached too).
    for (const socket of [client, this.server]) {
      socket.on('error', () => this.reset());
      socket.on('close', () => {
        link.forget(this);
        const other = socket === client ? this.server : client;
        if (!other.destroyed && (socket.errored || (this.up.idle && this.downstream.idle))) other.destroy();
      });
    }
  }

  reset(): void {
    for (const socket of [this.client, this.server]) if (!socket.destroyed) socket.resetAndDestroy();
  }
}

export class LinkProxy {
  readonly target: { host: string; port: number };
  readonly lines = { up: { freeAt: 0 }, down: { freeAt: 0 } };
  readonly random: () => number;
  settings: LinkSettings;
  down: LinkDown | false = false;
  bytesToServer = 0;
  bytesToClient = 0;
  #connections = 0;
  #commands: CommandCounts = {};
  readonly #open = new Set<Connection>();
  /** Sockets accepted while stalled, connected when the link is up. */
  readonly #waiting: Socket[] = [];
  readonly #server: Server;

  private constructor(options: LinkOptions) {
    this.target = parseTarget(options.to);
    this.settings = checkSettings({ rttMs: options.rttMs ?? 0, jitterMs: options.jitterMs ?? 0, kbps: options.kbps ?? null });
    this.random = options.random ?? Math.random;
    // Half-open: an end is passed on after the bytes queued ahead of it, not when it is read.
    this.#server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => this.#accept(socket));
  }

  static async start(options: LinkOptions): Promise<LinkProxy> {
    const link = new LinkProxy(options);
    await new Promise<void>((resolve, reject) => {
      link.#server.once('error', reject);
      link.#server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    return link;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  get host(): string {
    return (this.#server.address() as AddressInfo).address;
  }

  /** A new delay applies to chunks that arrive from now on (those in flight keep theirs). */
  setDelay(delay: { rttMs: number; jitterMs?: number }): void {
    this.settings = checkSettings({ ...this.settings, rttMs: delay.rttMs, jitterMs: delay.jitterMs ?? 0 });
  }

  setBandwidth(kbps: number | null): void {
    this.settings = checkSettings({ ...this.settings, kbps });
  }

  /** `stall` or `reset` takes the link down (see the top of this file); `false` brings it up. */
  setDown(mode: LinkDown | false): void {
    this.down = mode;
    if (mode === 'reset') {
      for (const c of [...this.#open]) c.reset();
      for (const socket of this.#waiting.splice(0)) socket.resetAndDestroy();
    }
    if (mode === false) {
      for (const c of this.#open) {
        c.up.release();
        c.downstream.release();
      }
      for (const socket of this.#waiting.splice(0)) if (!socket.destroyed) this.#accept(socket);
    }
  }

  counters(): LinkCounters {
    return {
      connections: this.#connections,
      open: this.#open.size,
      bytesToServer: this.bytesToServer,
      bytesToClient: this.bytesToClient,
      commands: structuredClone(this.#commands),
    };
  }

  /** The table every connection adds its counts to. */
  get commandTable(): CommandCounts {
    return this.#commands;
  }

  resetCounters(): void {
    this.#connections = 0;
    this.bytesToServer = 0;
    this.bytesToClient = 0;
    this.#commands = {};
  }

  forget(c: Connection): void {
    this.#open.delete(c);
  }

  #accept(socket: Socket): void {
    if (this.down === 'reset') {
      socket.resetAndDestroy();
      return;
    }
    if (this.down === 'stall') {
      socket.on('error', () => undefined);
      this.#waiting.push(socket);
      return;
    }
    this.#connections += 1;
    this.#open.add(new Connection(this, socket, new ConnectionCounter(() => this.commandTable)));
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of [...this.#open]) c.reset();
    for (const socket of this.#waiting.splice(0)) socket.destroy();
    await closed;
  }
}
