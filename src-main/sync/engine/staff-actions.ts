/**
 * What staff can do from the dashboard: apply a conflict's losing version
 * again, and, with a change set aside (quarantined), once they have looked at
 * its reason:
 * - try it again, once the cause is fixed: a change of this till's the hub
 *   refused (or one too large to send) is sent again as the document is now,
 *   with a new version; a hub change this till could not take is taken again
 *   as the hub holds it now;
 * - discard it: for a change of this till's the hub refused, this till takes
 *   the hub's version of the document (so the two agree again); a hub change
 *   this till could not take is dropped, and this till keeps what it has.
 * If the cause is still there, the change is set aside again, with its reason.
 *
 * `StaffActions` is how the engine offers them, with the conflict log's
 * queries: on the running parts, logged, and the status refreshed after.
 */
import { idKey } from '../documents.ts';
import { SyncError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { ConflictPage, ConflictQuery, ConflictRecord, QuarantineRecord } from '../till/records.ts';
import type { Parts } from './parts.ts';

/** `later` runs after the hub's state was taken (when the hub answers); the record goes then. */
type Later = (work: Promise<unknown>, record: QuarantineRecord) => void;

async function setAsideRecord(parts: Parts, id: string): Promise<QuarantineRecord> {
  const record = await parts.store.quarantine.get(id);
  if (!record) throw new SyncError('not-found', `no change set aside with id "${id}"`);
  return record;
}

async function retrySetAside(parts: Parts, record: QuarantineRecord, later: Later): Promise<void> {
  const { store, capture, pull } = parts;
  await store.quarantine.handling(record._id, 'retry');
  if (record.side === 'local') {
    later(pull.recheck([{ c: record.collection, id: record.documentId }]), record);
    return;
  }
  const key = idKey(record.documentId);
  const doc = (await store.documents(record.collection, [record.documentId])).get(key);
  const known = (await store.known(record.collection, [record.documentId])).get(key);
  await capture.enqueue([
    {
      c: record.collection,
      id: record.documentId,
      ...(doc ? { op: 'upsert' as const, doc } : { op: 'delete' as const }),
      v: '',
      fresh: true,
      base: known?.v ?? null,
    },
  ]);
  await store.quarantine.remove(record._id);
}

async function discardSetAside(parts: Parts, record: QuarantineRecord, later: Later): Promise<void> {
  const { store, pull } = parts;
  if (record.side === 'local') {
    await store.quarantine.remove(record._id);
    return;
  }
  await store.quarantine.handling(record._id, 'discard');
  later(pull.recheck([{ c: record.collection, id: record.documentId }]), record);
}

/**
 * Applies a conflict's losing version as a new write on this till: capture
 * gives it a new version, so it wins everywhere once pushed. A losing delete
 * deletes the document. Returns the updated record.
 */
async function reapplyConflictLoser(parts: Parts, id: string, log: Logger): Promise<ConflictRecord> {
  const { store } = parts;
  const conflict = await store.conflicts.get(id);
  if (!conflict) throw new SyncError('not-found', `no conflict with id "${id}"`);
  const loser = conflict.winner === 'hub' ? conflict.local : conflict.hub;
  await store.writeAsLocal([{ c: conflict.collection, id: conflict.documentId, doc: loser.document }]);
  const reappliedAt = new Date();
  await store.conflicts.markReapplied(conflict._id, reappliedAt);
  log.info({ event: 'engine.conflict-reapplied', collection: conflict.collection }, 'losing version applied again');
  return { ...conflict, reappliedAt };
}

/** What staff can do with a change set aside, and what the log says of it. */
const SET_ASIDE_HANDLING = {
  retry: { act: retrySetAside, event: 'engine.set-aside-retried', words: 'a change set aside is tried again' },
  discard: { act: discardSetAside, event: 'engine.set-aside-discarded', words: 'a change set aside is discarded' },
} as const;

export interface StaffDeps {
  /** The running parts; while they are being rebuilt, once they are up again (throws when the engine is not started). */
  running(): Promise<Parts>;
  /** The parts now, if any (for work that finishes after the call). */
  parts(): Parts | undefined;
  log: Logger;
  /** Corrects the counts from the database and reports the status, at once. */
  refresh(): Promise<void>;
}

export class StaffActions {
  readonly #d: StaffDeps;

  constructor(deps: StaffDeps) {
    this.#d = deps;
  }

  async listConflicts(query: ConflictQuery = {}): Promise<ConflictPage> {
    return (await this.#d.running()).store.conflicts.list(query);
  }

  /** One conflict by its id (the hex string of its `_id`); null when there is none. */
  async getConflict(id: string): Promise<ConflictRecord | null> {
    return (await this.#d.running()).store.conflicts.get(id);
  }

  async reapplyConflictLoser(id: string): Promise<ConflictRecord> {
    return reapplyConflictLoser(await this.#d.running(), id, this.#d.log);
  }

  /** Tries a change set aside again, or discards it, by its id. */
  async handleSetAside(id: string, how: 'retry' | 'discard'): Promise<void> {
    const parts = await this.#d.running();
    const record = await setAsideRecord(parts, id);
    const { act, event, words } = SET_ASIDE_HANDLING[how];
    await act(parts, record, this.#later);
    this.#d.log.info({ event, collection: record.collection }, words);
    await this.#d.refresh();
  }

  /** Forgets a set-aside record once the work done for it (which needs the hub) is done. */
  readonly #later: Later = (work, record) => {
    void work
      .then(() => this.#d.parts()?.store.quarantine.remove(record._id))
      .then(() => this.#d.refresh())
      .catch((err: unknown) =>
        this.#d.log.warn({ event: 'engine.set-aside-handling-failed', error: String(err) }, 'could not finish with a change set aside'),
      );
  };
}
