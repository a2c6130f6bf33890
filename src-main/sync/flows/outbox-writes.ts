/**
 * What capture's two outbox-writing transactions share — its stream's batches
 * (`capture.ts`) and reconciliation's found changes (`found-changes.ts`):
 *
 * - the outbox's sequence numbers, handed out one batch at a time under one
 *   lock, so a number is never handed out twice; the last one moves only
 *   after the transaction that used it committed;
 * - the read they decide against: what the till knew of the documents they
 *   touch (version records) and the documents as they are now, read inside
 *   the writing transaction.
 */
import type { ClientSession } from 'mongodb';
import type { AnyDocument, DocumentId, Known } from '../core/types.ts';
import { docKey, idKey } from '../documents.ts';
import { groupBy } from '../group-by.ts';
import type { TillStore } from '../till/store.ts';

export class OutboxSequence {
  /** Highest outbox sequence number written so far (moved only once the transaction that wrote it committed). */
  last = 0;
  /** Capture batches and reconciliation entries take outbox sequence numbers one at a time. */
  #lock: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier holder of the lock is done; the next waits for it. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const before = this.#lock;
    let release!: () => void;
    this.#lock = new Promise<void>((resolve) => (release = resolve));
    await before;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** What the till knew of a set of documents before a write, and the documents as they are now. */
export interface ReadNow {
  known(c: string, id: DocumentId): Known | null;
  current(c: string, id: DocumentId): AnyDocument | null;
}

/**
 * Reads the version records of `docs` in `session`, then the documents `which` picks given which of
 * them have a record (all of them when not given), one query of each a collection.
 */
export async function readNow(
  store: TillStore,
  docs: ReadonlyArray<{ c: string; id: DocumentId }>,
  session: ClientSession,
  which?: (hasRecord: (c: string, id: DocumentId) => boolean) => ReadonlyArray<{ c: string; id: DocumentId }>,
): Promise<ReadNow> {
  const known = new Map<string, Known>();
  const current = new Map<string, AnyDocument>();
  for (const [c, list] of groupBy(docs, (d) => d.c)) {
    const found = await store.known(
      c,
      list.map((d) => d.id),
      session,
    );
    for (const { id } of list) {
      const r = found.get(idKey(id));
      if (r) known.set(docKey(c, id), r);
    }
  }
  const read = which ? which((c, id) => known.has(docKey(c, id))) : docs;
  for (const [c, list] of groupBy(read, (d) => d.c)) {
    const found = await store.documents(
      c,
      list.map((d) => d.id),
      session,
    );
    for (const { id } of list) {
      const d = found.get(idKey(id));
      if (d) current.set(docKey(c, id), d);
    }
  }
  const wasRead = new Set(read.map((d) => docKey(d.c, d.id)));
  return {
    known: (c, id) => known.get(docKey(c, id)) ?? null,
    current: (c, id) => {
      if (!wasRead.has(docKey(c, id))) throw new Error(`readNow: ${c} ${idKey(id)} was not read; pick it in \`which\``);
      return current.get(docKey(c, id)) ?? null;
    },
  };
}
