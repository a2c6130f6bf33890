/**
 * Logical sessions, retryable-write memory, and multi-document transactions.
 *
 * A transaction keeps its writes in an overlay that no other reader sees and
 * holds a lock on every document it writes. A second transaction writing a
 * locked document, or a document committed after the first one's snapshot,
 * gets 112 WriteConflict (first committer wins). A write outside any
 * transaction waits for the lock, as the server's internal retry does.
 */
import type { Document } from 'bson';
import type { Collection } from './catalog.ts';
import type { ClusterTime } from './cluster-time.ts';
import type { ChangeEntry } from './oplog.ts';
import type { RetryRecord } from './retry-memory.ts';

export type PendingEntry = Omit<ChangeEntry, 'ts' | 'opIndex' | 'wall'>;

export class Transaction {
  readonly txnNumber: number;
  readonly startTs: ClusterTime;
  state: 'active' | 'committed' | 'aborted' = 'active';
  /** ns -> document key -> the document as this transaction sees it (null: deleted). */
  readonly overlay = new Map<string, Map<string, Document | null>>();
  readonly entries: PendingEntry[] = [];
  readonly locks = new Set<string>();
  /** Collections created inside this transaction (by ns), not in the catalog until it commits. */
  readonly created = new Map<string, Collection>();
  readonly lsid: Document;
  readonly startedAt = Date.now();
  /** appName of the client that started it ($currentOp reports it). */
  readonly appName: string | undefined;

  constructor(txnNumber: number, startTs: ClusterTime, lsid: Document, appName?: string) {
    this.txnNumber = txnNumber;
    this.startTs = startTs;
    this.lsid = lsid;
    this.appName = appName;
  }

  view(ns: string): Map<string, Document | null> | undefined {
    return this.overlay.get(ns);
  }

  put(ns: string, docKey: string, doc: Document | null): void {
    let m = this.overlay.get(ns);
    if (!m) {
      m = new Map();
      this.overlay.set(ns, m);
    }
    m.set(docKey, doc);
  }
}

export class Session {
  readonly id: string;
  readonly lsid: Document;
  txn: Transaction | undefined;
  /** Recent retryable writes by txnNumber: a retry is answered from here, not run again. */
  readonly retryReplies = new Map<number, RetryRecord>();
  /** Highest txnNumber seen; an older one is refused with 225 TransactionTooOld. */
  highestTxnNumber = -1;
  lastUsed = Date.now();

  constructor(id: string, lsid: Document) {
    this.id = id;
    this.lsid = lsid;
  }

  rememberReply(txnNumber: number, record: RetryRecord): void {
    this.retryReplies.set(txnNumber, record);
    if (this.retryReplies.size > 32) {
      const oldest = this.retryReplies.keys().next().value as number;
      this.retryReplies.delete(oldest);
    }
  }
}

export function lockKey(ns: string, docKey: string): string {
  return `${ns}\u0000${docKey}`;
}

export class Sessions {
  readonly #sessions = new Map<string, Session>();
  /** Document lock -> the transaction holding it. */
  readonly locks = new Map<string, Transaction>();
  readonly #released = new Set<() => void>();
  #open = 0;
  /** Called when a transaction ends, with the oldest snapshot still open (undefined: none). */
  onFinish: (oldestSnapshot: ClusterTime | undefined) => void = () => {};

  /** Starts a transaction on `session`, aborting any it still had open. */
  begin(session: Session, txnNumber: number, startTs: ClusterTime, appName: string | undefined): Transaction {
    if (session.txn?.state === 'active') this.abort(session.txn);
    session.txn = new Transaction(txnNumber, startTs, session.lsid, appName);
    this.#open += 1;
    return session.txn;
  }

  /** Ends a transaction (its writes already committed, or dropped) and frees its locks. */
  finish(txn: Transaction, state: 'committed' | 'aborted'): void {
    if (txn.state !== 'active') return;
    txn.state = state;
    this.#open -= 1;
    this.release(txn);
    this.onFinish(this.#oldestSnapshot());
  }

  #oldestSnapshot(): ClusterTime | undefined {
    if (this.#open === 0) return undefined;
    let oldest: ClusterTime | undefined;
    for (const s of this.#sessions.values()) {
      if (s.txn?.state === 'active' && (oldest === undefined || s.txn.startTs < oldest)) oldest = s.txn.startTs;
    }
    return oldest;
  }

  get(lsid: Document | undefined): Session | undefined {
    if (!lsid) return undefined;
    const idValue = lsid.id as { toString(enc: string): string } | undefined;
    if (!idValue) return undefined;
    const id = idValue.toString('hex');
    let s = this.#sessions.get(id);
    if (!s) {
      s = new Session(id, lsid);
      this.#sessions.set(id, s);
    }
    s.lastUsed = Date.now();
    return s;
  }

  end(lsid: Document): void {
    const idValue = lsid.id as { toString(enc: string): string } | undefined;
    if (!idValue) return;
    const id = idValue.toString('hex');
    const s = this.#sessions.get(id);
    if (s?.txn?.state === 'active') this.abort(s.txn);
    this.#sessions.delete(id);
  }

  endAll(): void {
    for (const s of this.#sessions.values()) if (s.txn?.state === 'active') this.abort(s.txn);
    this.#sessions.clear();
  }

  /** Every session in memory ($listLocalSessions). */
  list(): Session[] {
    return [...this.#sessions.values()];
  }

  /** Open transactions, for $currentOp. */
  openTransactions(): Transaction[] {
    const out: Transaction[] = [];
    for (const s of this.#sessions.values()) if (s.txn?.state === 'active') out.push(s.txn);
    return out;
  }

  /** Aborts transactions open since before `cutoff` (transactionLifetimeLimitSeconds). */
  abortOlderThan(cutoff: number): void {
    for (const s of this.#sessions.values()) if (s.txn?.state === 'active' && s.txn.startedAt < cutoff) this.abort(s.txn);
  }

  /** Open transactions. */
  get active(): number {
    return this.#open;
  }

  get count(): number {
    return this.#sessions.size;
  }

  lock(txn: Transaction, key: string): void {
    this.locks.set(key, txn);
    txn.locks.add(key);
  }

  private release(txn: Transaction): void {
    for (const key of txn.locks) if (this.locks.get(key) === txn) this.locks.delete(key);
    txn.locks.clear();
    for (const wake of [...this.#released]) wake();
  }

  abort(txn: Transaction): void {
    this.finish(txn, 'aborted');
  }

  /** Resolves when some transaction releases its locks (or after `ms`). */
  waitForRelease(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#released.delete(done);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#released.add(done);
    });
  }
}
