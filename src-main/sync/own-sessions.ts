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

/** Data changes; collection-level events (`create`, …) come through from every session: capture needs `create`. */
const DATA_CHANGES = ['insert', 'update', 'replace', 'delete'];

export class OwnSessions {
  readonly #client: MongoClient;
  readonly #all: ClientSession[] = [];
  readonly #idle: ClientSession[] = [];

  /** `count` sessions open at once: as many as the engine runs such transactions at the same time. */
  constructor(client: MongoClient, count: number) {
    this.#client = client;
    for (let i = 0; i < count; i += 1) this.#idle.push(this.#open());
  }

  #open(): ClientSession {
    const session = this.#client.startSession();
    this.#all.push(session);
    return session;
  }

  /** Runs `fn` in a transaction in one of these sessions (another opens when all are busy). */
  async transaction<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    const session = this.#idle.pop() ?? this.#open();
    try {
      return await inTransaction(this.#client, fn, session);
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
