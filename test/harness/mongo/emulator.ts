/**
 * The emulator's process side: a TCP server, one request at a time per
 * connection, and the controls tests use to break things (drop connections,
 * partition, truncate the oplog, stop and restart on the same port).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { adminCommands } from './commands/admin.ts';
import type { ConnectionInfo, Handler } from './commands/context.ts';
import { crudCommands } from './commands/crud.ts';
import { cursorCommands } from './commands/cursor-commands.ts';
import { ddlCommands } from './commands/ddl.ts';
import { CURSOR_IDLE_MS } from './cursors.ts';
import { CloseConnection, dispatch, type DispatchEnv } from './dispatch.ts';
import { ProtocolError } from './errors.ts';
import { ServerState, type Logger } from './state.ts';
import { encodeReply, messageLength, parseMessage } from './wire.ts';

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
}

const TXN_LIFETIME_MS = 60_000;
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
  /** Asked something during a partition: closed when it heals. */
  stale: boolean;
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
    this.#handlers = { ...crudCommands, ...cursorCommands, ...ddlCommands, ...adminCommands(() => this.#conns.size) };
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
      socket,
      controller,
      stale: false,
    };
    this.#conns.add(conn);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    let queue: Promise<void> = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      try {
        while (pending.length >= 4) {
          const length = messageLength(pending);
          if (pending.length < length) break;
          const message = pending.subarray(0, length);
          pending = pending.subarray(length);
          const request = parseMessage(message);
          queue = queue.then(() => this.#handle(conn, request, length));
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

  async #handle(conn: Conn, request: ReturnType<typeof parseMessage>, bytes: number): Promise<void> {
    if (conn.socket.destroyed) return;
    if (this.#partitioned) {
      conn.stale = true;
      return;
    }
    try {
      const reply = await dispatch(this.#env(), conn, request.body, bytes);
      // A reply the partition swallowed: the connection is closed when it heals, like one that asked during it.
      if (this.#partitioned) conn.stale = true;
      if (request.moreToCome || conn.socket.destroyed || this.#partitioned) return;
      conn.socket.write(encodeReply(request.requestId, reply, request.legacy));
    } catch (err) {
      if (err instanceof CloseConnection || err instanceof ProtocolError) {
        conn.socket.destroy();
        return;
      }
      this.#log('error', 'request failed', { conn: conn.id, error: (err as Error).stack ?? String(err) });
      conn.socket.destroy();
    }
  }

  #env(): DispatchEnv {
    return { state: this.#state, handlers: this.#handlers, host: `${this.host}:${this.#port}`, replSetName: this.replSetName };
  }

  /** Closes every client connection (the driver reconnects). */
  dropConnections(): void {
    for (const conn of this.#conns) conn.socket.destroy();
  }

  setPartitioned(on: boolean): void {
    this.#partitioned = on;
    // Reset, as stop() does: the driver's monitor can hang on a connection closed with FIN.
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
    // Like a mongod shutting down: every connection is closed. A reset (not a
    // graceful close) so clients notice at once even mid-request.
    for (const conn of this.#conns) {
      conn.controller.abort();
      reset(conn.socket);
    }
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

/**
 * Closes a connection with a TCP reset, as a server going away does: clients,
 * including the driver's monitor, notice at once (after a plain close the
 * driver's monitor was seen waiting on a dead connection). A socket the client
 * already half-closed is just destroyed: resetting it leaks its handle in Node 20.
 */
function reset(socket: Socket): void {
  if (socket.readyState === 'open' && !socket.readableEnded) socket.resetAndDestroy();
  else socket.destroy();
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const server = new EmulatorServer(options);
  await server.start(false);
  return server;
}
