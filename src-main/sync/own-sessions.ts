/**
 * Sessions the engine keeps for its own writes on one server (the hub: its
 * pushes and stamps; a till: the pull's applies and the push's settles), so a
 * change stream can ask the server to leave those writes out. Every event of
 * a transaction carries its session's `lsid`; the sessions live as long as
 * the connection, so the list a stream was opened with stays true.
 *
 * Leaving them out only saves traffic and work: each stream still recognises
 * the engine's transactions by their marker document (push marker, apply
 * marker) when one slips through — a session opened after the stream because
 * all were busy, or history read again after a restart.
 */
import type { ClientSession, Document, MongoClient } from 'mongodb';
import { inTransaction } from './transaction.ts';

/**
 * Push batches on their way to the hub at once, each a transaction in a session of its own (and its
 * settle, one on the till): over a link of 80 ms a transaction takes several round trips, and at 20
 * orders a second, eight keep a new order from waiting for a slot (p99 683 -> 556 ms at 80 ms).
 */
export const PUSH_IN_FLIGHT = 8;

/** Data changes; collection-level events (`create`, …) come through from every session: capture needs `create`. */
const DATA_CHANGES = ['insert', 'update', 'replace', 'delete'];

export class OwnSessions {
  readonly #client: MongoClient;
  readonly #all: ClientSession[] = [];
  readonly #idle: ClientSession[] = [];
  /** The sessions' lsid ids, in hex. */
  readonly #ids = new Set<string>();

  /** `count` sessions open at once: as many as the engine runs such transactions at the same time. */
  constructor(client: MongoClient, count: number) {
    this.#client = client;
    for (let i = 0; i < count; i += 1) this.#idle.push(this.#open());
  }

  #open(): ClientSession {
    const session = this.#client.startSession();
    this.#all.push(session);
    const id = hex(session.id?.id);
    if (id) this.#ids.add(id);
    return session;
  }

  /**
   * Whether a change event was written in one of these sessions. What the stage lets through from them
   * (collection-level events) marks their transaction as the engine's, like its marker would: a
   * checkpoint taken at such an event must not leave the rest of that transaction to be read, after a
   * restart, as somebody else's writes.
   */
  wrote(event: Document): boolean {
    const id = hex((event.lsid as { id?: unknown } | undefined)?.id);
    return id !== undefined && this.#ids.has(id);
  }

  /**
   * Runs `fn` in a transaction in one of these sessions (another opens when all are busy). `lane`:
   * the session's number, which no transaction running at the same time has.
   */
  async transaction<T>(fn: (session: ClientSession, lane: number) => Promise<T>): Promise<T> {
    const session = this.#idle.pop() ?? this.#open();
    const lane = this.#all.indexOf(session);
    try {
      return await inTransaction(this.#client, (s) => fn(s, lane), session);
    } finally {
      this.#idle.push(session);
    }
  }

  /** A change stream stage that leaves out the data changes written in these sessions. */
  leftOut(): Document[] {
    const ids = this.#all.map((s) => s.id?.id).filter((id) => id !== undefined);
    if (ids.length === 0) return [];
    return [{ $match: { $or: [{ 'lsid.id': { $nin: ids } }, { operationType: { $nin: DATA_CHANGES } }] } }];
  }
}

function hex(id: unknown): string | undefined {
  if (id === null || typeof id !== 'object') return undefined;
  const bytes = (id as { buffer?: Uint8Array }).buffer;
  return bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex') : undefined;
}
