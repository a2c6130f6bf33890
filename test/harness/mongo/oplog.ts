/**
 * The oplog: every committed change in cluster-time order, bounded in length.
 * Change streams read it; when a stream's resume point has been truncated
 * away, resuming fails with 286 ChangeStreamHistoryLost.
 */
import type { Document, UUID } from 'bson';
import type { ClusterTime } from './cluster-time.ts';

export type ChangeOp =
  'insert' | 'update' | 'replace' | 'delete' | 'drop' | 'rename' | 'dropDatabase' | 'create' | 'createIndexes' | 'dropIndexes' | 'modify';

export interface ChangeEntry {
  ts: ClusterTime;
  /** Position within one transaction's commit (0 outside transactions). */
  opIndex: number;
  wall: Date;
  op: ChangeOp;
  db: string;
  coll?: string;
  uuid?: UUID;
  /** documentKey._id */
  id?: unknown;
  /** Post-image: the document after an insert, update or replace. */
  doc?: Document;
  /** Pre-image: the document before an update, replace or delete. */
  pre?: Document;
  /** Whether the collection had changeStreamPreAndPostImages enabled. */
  images?: boolean;
  updateDescription?: Document;
  to?: { db: string; coll: string };
  /** create: options; createIndexes: {indexes}; dropIndexes: {names}; modify: changed options. */
  spec?: Document;
  lsid?: Document;
  txnNumber?: number;
}

/** Position in the stream: entries strictly after (ts, opIndex) are next. */
export interface StreamPosition {
  ts: ClusterTime;
  opIndex: number;
}

export function isAfter(entry: { ts: ClusterTime; opIndex: number }, pos: StreamPosition): boolean {
  return entry.ts > pos.ts || (entry.ts === pos.ts && entry.opIndex > pos.opIndex);
}

export class Oplog {
  #entries: ChangeEntry[] = [];
  #head = 0;
  /** Newest position dropped by truncation; a resume at or before it has lost history. */
  #truncatedThrough: StreamPosition | undefined;
  readonly maxEvents: number;
  readonly #waiters = new Set<() => void>();

  constructor(maxEvents: number) {
    this.maxEvents = maxEvents;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  get truncatedThrough(): StreamPosition | undefined {
    return this.#truncatedThrough;
  }

  first(): ChangeEntry | undefined {
    return this.#entries[this.#head];
  }

  last(): ChangeEntry | undefined {
    return this.#entries[this.#entries.length - 1];
  }

  append(entries: readonly ChangeEntry[]): void {
    for (const e of entries) this.#entries.push(e);
    if (this.length > this.maxEvents) this.truncate(this.maxEvents);
    for (const wake of [...this.#waiters]) wake();
  }

  /** Keeps only the newest `keep` entries. */
  truncate(keep: number): void {
    const drop = Math.max(0, this.length - keep);
    if (drop === 0) return;
    const lastDropped = this.#entries[this.#head + drop - 1] as ChangeEntry;
    this.#truncatedThrough = { ts: lastDropped.ts, opIndex: lastDropped.opIndex };
    this.#head += drop;
    if (this.#head > 4096 && this.#head > this.#entries.length / 2) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Restores truncation state after loading from disk. */
  restoreTruncation(pos: StreamPosition | undefined): void {
    this.#truncatedThrough = pos;
  }

  /** True if entries after `pos` have been truncated away. */
  lostHistory(pos: StreamPosition): boolean {
    const t = this.#truncatedThrough;
    return t !== undefined && isAfter(t, pos);
  }

  /** Index of the first entry strictly after `pos`. */
  indexAfter(pos: StreamPosition): number {
    let lo = this.#head;
    let hi = this.#entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (isAfter(this.#entries[mid] as ChangeEntry, pos)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  at(index: number): ChangeEntry | undefined {
    return index >= this.#head ? this.#entries[index] : undefined;
  }

  get endIndex(): number {
    return this.#entries.length;
  }

  find(ts: ClusterTime, opIndex: number): ChangeEntry | undefined {
    const i = this.indexAfter({ ts, opIndex: opIndex - 1 });
    const e = this.#entries[i];
    return e && e.ts === ts && e.opIndex === opIndex ? e : undefined;
  }

  *entries(): Generator<ChangeEntry> {
    for (let i = this.#head; i < this.#entries.length; i += 1) yield this.#entries[i] as ChangeEntry;
  }

  /** Resolves when new entries arrive or after `ms`; returns false on timeout. */
  waitForMore(ms: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (more: boolean): void => {
        this.#waiters.delete(wake);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(more);
      };
      const wake = (): void => done(true);
      const onAbort = (): void => done(false);
      this.#waiters.add(wake);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
