/**
 * Everything a running emulator holds: data, oplog, clock, sessions, cursors,
 * fail points — and the one commit path that makes writes durable and visible.
 */
import { randomInt } from 'node:crypto';
import type { Document } from 'bson';
import { Catalog } from './catalog.ts';
import { ClusterClock, type ClusterTime } from './cluster-time.ts';
import { FailPoints } from './failpoints.ts';
import { Journal } from './journal.ts';
import { Oplog, type ChangeEntry } from './oplog.ts';
import { Topology } from './topology.ts';
import { Sessions, type PendingEntry } from './transactions.ts';
import { wallNow } from './wall-clock.ts';
import type { Cursor } from './cursors.ts';

export interface Logger {
  (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

export class ServerState {
  readonly catalog = new Catalog();
  readonly oplog: Oplog;
  readonly clock: ClusterClock;
  readonly journal: Journal | undefined;
  readonly sessions = new Sessions();
  readonly cursors = new Map<number, Cursor>();
  readonly failPoints = new FailPoints();
  readonly topology = new Topology();
  readonly startedAt = Date.now();
  readonly opcounters = { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 };
  readonly log: Logger;

  constructor(options: { oplogMaxEvents: number; dbPath?: string; log: Logger }) {
    this.log = options.log;
    this.oplog = new Oplog(options.oplogMaxEvents);
    let last: ClusterTime = 0n;
    if (options.dbPath) {
      last = Journal.load(options.dbPath, this.catalog, this.oplog).clock;
      this.journal = new Journal(options.dbPath);
    }
    this.clock = new ClusterClock(last);
    this.catalog.keepHistory = () => this.sessions.active > 0;
    this.sessions.onFinish = (oldest) => this.catalog.pruneHistory(oldest);
  }

  /** What a restart forgets even when the data is kept: cursors, sessions, fail points; and it is a new process. */
  resetVolatile(): void {
    this.topology.newProcess();
    this.cursors.clear();
    this.sessions.endAll();
    this.failPoints.clear();
  }

  /**
   * A new cursor id: random, as mongod's are, so an id a client kept from before
   * a restart is not found (and the driver resumes) instead of naming another
   * client's cursor. Below 2^53 so it stays an exact JS number.
   */
  nextCursorId(): number {
    for (;;) {
      const id = randomInt(1, 2 ** 47) * 64 + randomInt(0, 64);
      if (!this.cursors.has(id)) return id;
    }
  }

  /** Makes already-applied entries durable, then visible to change streams. */
  publish(entries: ChangeEntry[]): void {
    if (entries.length === 0) return;
    this.journal?.append(entries);
    this.oplog.append(entries);
    if (this.journal?.needsCompaction) this.journal.compact(this.catalog, this.oplog, this.clock.last);
  }

  /** Stamps, applies and publishes the entries of one transaction under a single cluster time. */
  commitTransaction(pending: readonly PendingEntry[], lsid: Document, txnNumber: number): void {
    if (pending.length === 0) return;
    const ts = this.clock.tick();
    const wall = new Date(wallNow());
    const entries: ChangeEntry[] = [];
    let opIndex = 0;
    for (const p of pending) {
      const existing = p.coll === undefined ? undefined : this.catalog.get(p.db, p.coll);
      if (p.op === 'create' && existing) continue;
      // Object.assign, not a spread followed by more fields: V8 builds those slowly (~6 µs an entry).
      const e: ChangeEntry = Object.assign({}, p, { uuid: existing?.uuid ?? p.uuid, ts, opIndex, wall, lsid, txnNumber });
      opIndex += 1;
      this.catalog.applyEntry(e);
      entries.push(e);
    }
    this.publish(entries);
  }
}

/**
 * The writes of one command outside a transaction: each is applied at once
 * (later statements see it) with its own cluster time; `flush` makes the
 * batch durable and visible before the reply.
 */
export class WriteBatch {
  readonly #state: ServerState;
  #pending: ChangeEntry[] = [];
  #size = 0;

  constructor(state: ServerState) {
    this.#state = state;
  }

  /** How many writes this batch has applied (flushed or not). */
  get size(): number {
    return this.#size;
  }

  add(p: PendingEntry): ChangeEntry {
    this.#size += 1;
    const e: ChangeEntry = Object.assign({}, p, { ts: this.#state.clock.tick(), opIndex: 0, wall: new Date(wallNow()) });
    this.#state.catalog.applyEntry(e);
    this.#pending.push(e);
    return e;
  }

  flush(): void {
    const entries = this.#pending;
    this.#pending = [];
    this.#state.publish(entries);
  }
}
