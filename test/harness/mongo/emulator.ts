/**
 * The emulator's process side: a TCP server, one request at a time per
 * connection, and the controls tests use to break things (drop connections,
 * partition, truncate the oplog, stop and restart on the same port).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { adminCommands } from './commands/admin.ts';
import type { ConnectionInfo, Handler } from './commands/context.ts';
import { aggregateCommands } from './commands/aggregate.ts';
import { bulkWriteCommands } from './commands/bulk-write.ts';
import { crudCommands } from './commands/crud.ts';
import { readCommands } from './commands/reads.ts';
import { cursorCommands } from './commands/cursor-commands.ts';
import { ddlCommands } from './commands/ddl.ts';
import { CURSOR_IDLE_MS } from './cursors.ts';
import { isAwaitableHello } from './commands/hello.ts';
import { dispatch, type DispatchEnv } from './dispatch.ts';
import { CloseConnection, CommandError, ProtocolError } from './errors.ts';
import { ServerState, type Logger } from './state.ts';
import { MessageReader, encodeReply, parseMessage, type WireRequest } from './wire.ts';

export interface EmulatorOptions {
  /** TCP port; 0 or absent picks a free one (kept across restarts). */
  port?: number;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Replica set name; default rs0. */
  replSetName?: string;
  /** Keep data and oplog here: they survive stop/restart and SIGKILL. */
  dbPath?: string;
  /** Oplog bound; resuming from before it fails with 286. Default 200,000 events. */
  oplog?: { maxEvents?: number };
  /** Where log lines go; default: warnings and errors as JSON lines on stderr. */
  log?: Logger;
}

export interface Emulator {
  readonly uri: string;
  readonly host: string;
  readonly port: number;
  readonly replSetName: string;
  /** Stops listening, closes connections, flushes data. */
  stop(): Promise<void>;
  /** Stops and starts again on the same port (data kept; cursors and transactions are not). */
  restart(): Promise<void>;
  /** Closes every client connection now. */
  dropConnections(): void;
  /** While on, requests get no answer; connections that asked are closed when it ends. */
  setPartitioned(on: boolean): void;
  /** Forgets all but the newest `keep` oplog events (lost change-stream history). */
  truncateOplog(keep?: number): void;
  /** Number of open client connections. */
  readonly connectionCount: number;
  /** Number of open connections whose handshake gave this appName (a client's pool, monitor and RTT connections). */
  connectionsOf(appName: string): number;
}

const TXN_LIFETIME_MS = 60_000;
/** How long a closed connection may take to send what was written before it is destroyed. */
const CLOSE_GRACE_MS = 1_000;
/** How long stop() waits for interrupted operations to answer. */
const INTERRUPT_GRACE_MS = 1_000;
const DEFAULT_OPLOG_EVENTS = 200_000;

function defaultLogger(): Logger {
  const verbose = process.env.EMULATOR_LOG === 'debug';
  return (level, msg, fields) => {
    if (!verbose && (level === 'debug' || level === 'info')) return;
    process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), level, component: 'mongo-emulator', msg, ...fields })}\n`);
  };
}

interface Conn extends ConnectionInfo {
  socket: Socket;
  controller: AbortController;
  interruption: CommandError | undefined;
  /** Asked something during a partition: closed when it heals. */
  stale: boolean;
  /** Being closed: nothing more is answered. */
  closing: boolean;
  /** This connection's requests, answered one after another. */
  queue: Promise<void>;
}

class EmulatorServer implements Emulator {
  readonly host: string;
  readonly replSetName: string;
  #port: number;
  readonly #options: EmulatorOptions;
  readonly #log: Logger;
  #state!: ServerState;
  #server: Server | undefined;
  readonly #conns = new Set<Conn>();
  #nextConnId = 1;
  #partitioned = false;
  #sweeper: NodeJS.Timeout | undefined;
  #handlers: Record<string, Handler>;

  constructor(options: EmulatorOptions) {
    this.#options = options;
    this.host = options.host ?? '127.0.0.1';
    this.replSetName = options.replSetName ?? 'rs0';
    this.#port = options.port ?? 0;
    this.#log = options.log ?? defaultLogger();
    this.#handlers = {
      ...crudCommands,
      ...bulkWriteCommands,
      ...readCommands,
      ...aggregateCommands,
      ...cursorCommands,
      ...ddlCommands,
      ...adminCommands(() => this.#conns.size),
    };
  }

  get port(): number {
    return this.#port;
  }

  get uri(): string {
    return `mongodb://${this.host}:${this.#port}/?replicaSet=${this.replSetName}`;
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  connectionsOf(appName: string): number {
    let n = 0;
    for (const conn of this.#conns) if (conn.appName === appName) n += 1;
    return n;
  }

  async start(keepState: boolean): Promise<void> {
    if (!keepState || !this.#state) {
      this.#state = new ServerState({
        oplogMaxEvents: this.#options.oplog?.maxEvents ?? DEFAULT_OPLOG_EVENTS,
        dbPath: this.#options.dbPath,
        log: this.#log,
      });
    }
    const server: Server = createServer((socket) => {
      // A connection that arrives while this server is stopping is refused, as a stopped mongod's would be.
      if (this.#server !== server) socket.destroy();
      else this.#accept(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address && typeof address === 'object') this.#port = address.port;
    this.#server = server;
    this.#sweeper = setInterval(() => this.#sweep(), 1000);
    this.#sweeper.unref();
    this.#log('info', 'listening', { uri: this.uri, dbPath: this.#options.dbPath !== undefined });
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, cursor] of this.#state.cursors) if (now - cursor.lastUsed > CURSOR_IDLE_MS) this.#state.cursors.delete(id);
    this.#state.sessions.abortOlderThan(now - TXN_LIFETIME_MS);
  }

  #accept(socket: Socket): void {
    const controller = new AbortController();
    const conn: Conn = {
      id: this.#nextConnId++,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      appName: undefined,
      signal: controller.signal,
      interruption: undefined,
      hasWritten: false,
      socket,
      controller,
      stale: false,
      closing: false,
      queue: Promise.resolve(),
    };
    this.#conns.add(conn);
    socket.setNoDelay(true);
    const reader = new MessageReader();
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const message of reader.push(chunk)) {
          const request = parseMessage(message);
          conn.queue = conn.queue.then(() => this.#handle(conn, request, message.length));
        }
      } catch (err) {
        this.#log('warn', 'closing connection after a malformed message', {
          conn: conn.id,
          remote: conn.remote,
          reason: (err as Error).message,
        });
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      controller.abort();
      this.#conns.delete(conn);
    });
  }

  /**
   * Answers one request. An awaitable hello sent with exhaustAllowed is answered
   * again each time the topology changes or its maxAwaitTimeMS passes, every
   * reply flagged moreToCome and addressed to the one before it, until the
   * connection closes (the streaming monitor protocol).
   */
  async #handle(conn: Conn, request: WireRequest, bytes: number): Promise<void> {
    if (conn.closing || conn.socket.destroyed) return;
    if (this.#partitioned) {
      conn.stale = true;
      return;
    }
    let responseTo = request.requestId;
    try {
      for (;;) {
        const reply = await dispatch(this.#env(), conn, request.body, bytes, request.oversized);
        // A reply the partition swallowed: the connection is closed when it heals, like one that asked during it.
        if (this.#partitioned) conn.stale = true;
        if (request.moreToCome || conn.closing || conn.socket.destroyed || this.#partitioned) return;
        const streams = request.exhaustAllowed && reply.ok === 1 && isAwaitableHello(request.body);
        const message = encodeReply(responseTo, reply, request.legacy, streams);
        conn.socket.write(message);
        if (!streams) return;
        responseTo = requestIdOf(message);
      }
    } catch (err) {
      if (!(err instanceof CloseConnection || err instanceof ProtocolError)) {
        this.#log('error', 'request failed', { conn: conn.id, error: (err as Error).stack ?? String(err) });
      }
      conn.socket.destroy();
    }
  }

  /**
   * Closes a connection as mongod does when it ends a client's session: what
   * was already written goes out whole (never half a reply), then FIN. Waiting
   * operations stop waiting; nothing more is answered.
   */
  #close(conn: Conn): void {
    if (conn.closing) return;
    conn.closing = true;
    conn.controller.abort();
    const { socket } = conn;
    if (socket.destroyed) return;
    socket.end();
    setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #env(): DispatchEnv {
    return { state: this.#state, handlers: this.#handlers, host: `${this.host}:${this.#port}`, replSetName: this.replSetName };
  }

  /** Closes every client connection (the driver reconnects). */
  dropConnections(): void {
    for (const conn of this.#conns) this.#close(conn);
  }

  setPartitioned(on: boolean): void {
    this.#partitioned = on;
    // A reset: the client learns at once that what it asked during the partition will never be answered.
    if (!on) for (const conn of this.#conns) if (conn.stale) conn.socket.resetAndDestroy();
    this.#log('info', on ? 'partition on: requests get no answer' : 'partition healed', {});
  }

  truncateOplog(keep = 0): void {
    this.#state.oplog.truncate(keep);
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    const server = this.#server;
    this.#server = undefined;
    if (this.#sweeper) clearInterval(this.#sweeper);
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Like a mongod shutting down: operations in progress are interrupted and
    // answered with InterruptedAtShutdown, then every connection is closed.
    const interruption = new CommandError(11600, 'interrupted at shutdown');
    const conns = [...this.#conns];
    for (const conn of conns) {
      conn.interruption = interruption;
      conn.controller.abort();
    }
    await Promise.race([Promise.all(conns.map((c) => c.queue)), sleep(INTERRUPT_GRACE_MS)]);
    for (const conn of this.#conns) this.#close(conn);
    await closed;
    this.#state.journal?.close();
    this.#log('info', 'stopped', { port: this.#port });
  }

  async restart(): Promise<void> {
    await this.stop();
    this.#partitioned = false;
    // With a dbPath the state is read back from disk; without one the memory is the disk.
    const persistent = this.#options.dbPath !== undefined;
    if (!persistent) this.#state.resetVolatile();
    await this.start(!persistent);
  }
}

function requestIdOf(message: Buffer): number {
  return message.readInt32LE(4);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const server = new EmulatorServer(options);
  await server.start(false);
  return server;
}
