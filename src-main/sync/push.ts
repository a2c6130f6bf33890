/**
 * Push: drain the outbox in order, in batches. Each batch is applied on the hub
 * in one transaction, with a conditional write per document (only a newer
 * version is written), stamped with the origin device and version; then the
 * batch leaves the outbox. Replaying a batch changes nothing: its versions are
 * already there.
 *
 * A change the hub refuses (it holds a newer version) is kept in the conflict
 * log, and the hub's version is applied to the till — unless the till changed
 * the document again since, in which case that newer change is pushed next.
 */
import type { ClientSession, Document } from 'mongodb';
import { contentHash, idKey, withoutSync } from './documents.ts';
import { hubVersionOf, type Hub, type HubVersion, type Tombstone } from './hub.ts';
import { conflictRecord, type ConflictRecord, type LocalStore, type OutboxEntry } from './local-store.ts';
import type { Logger } from './log.ts';
import { APPLY_MARKER, SYNC_FIELD } from './names.ts';
import { inTransaction } from './transaction.ts';

export interface PushDeps {
  store: LocalStore;
  deviceId: string;
  log: Logger;
  batchSize: number;
  /** The hub, while sync is enabled and connected. */
  hub(): Hub | undefined;
  onPushed(accepted: OutboxEntry[]): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onError(err: unknown): void;
  onIdle(): void;
  delay(attempt: number): Promise<void>;
}

interface Rejected {
  entry: OutboxEntry;
  hubDoc: Document | null;
  hubVersion: HubVersion;
}

export class Push {
  readonly #d: PushDeps;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pending = true;

  constructor(deps: PushDeps) {
    this.#d = deps;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
  }

  /** New outbox entries (or the hub came back): push now. */
  wake(): void {
    this.#pending = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#pending) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      await this.#sleep(1000);
      this.#pending = false;
      const hub = this.#d.hub();
      if (!hub || !this.#running) continue;
      try {
        const batch = await this.#d.store.outbox.find({}).sort({ _id: 1 }).limit(this.#d.batchSize).toArray();
        if (batch.length === 0) {
          this.#d.onIdle();
          continue;
        }
        await this.#pushBatch(hub, batch);
        attempt = 0;
        this.#pending = true; // there may be more
      } catch (err) {
        if (!this.#running) break;
        this.#d.onError(err);
        this.#d.log.warn({ event: 'push.batch-failed', error: String(err), attempt }, 'push failed; will retry');
        await this.#d.delay(attempt++);
        this.#pending = true;
      }
    }
  }

  async #pushBatch(hub: Hub, batch: OutboxEntry[]): Promise<void> {
    const { deviceId } = this.#d;
    const lastSeq = Number(batch[batch.length - 1]?._id);
    // Only the newest change of each document in the batch is written.
    const latest = new Map<string, OutboxEntry>();
    for (const e of batch) latest.set(`${e.c}\u0000${idKey(e.id)}`, e);
    let accepted: OutboxEntry[] = [];
    let rejected: Rejected[] = [];
    await inTransaction(hub.client, async (session) => {
      accepted = [];
      rejected = [];
      // Written first: every till's pull recognises this transaction as this device's push.
      await hub.pushMarker.updateOne({ _id: deviceId }, { $set: { seq: lastSeq, at: new Date() } }, { upsert: true, session });
      for (const [c, entries] of groupBy([...latest.values()], (e) => e.c)) {
        const outcome = await this.#applyCollection(hub, session, c, entries);
        accepted.push(...outcome.accepted);
        rejected.push(...outcome.rejected);
      }
    });
    const conflicts = await this.#settleLocally(lastSeq, rejected);
    this.#d.onPushed(accepted);
    if (conflicts.length > 0) this.#d.onConflicts(conflicts);
    this.#d.log.debug({ event: 'push.batch-applied', entries: batch.length, accepted: accepted.length, rejected: rejected.length, lastSeq });
  }

  async #applyCollection(hub: Hub, session: ClientSession, c: string, entries: OutboxEntry[]): Promise<{ accepted: OutboxEntry[]; rejected: Rejected[] }> {
    const ids = entries.map((e) => e.id);
    const docs = new Map<string, Document>();
    for (const doc of await hub.collection(c).find({ _id: { $in: ids } }, { session }).toArray()) docs.set(idKey(doc._id), doc);
    const tombs = new Map<string, Tombstone>();
    const tombIds = ids.map((id) => ({ c, id }));
    for (const t of await hub.tombstones.find({ _id: { $in: tombIds } }, { session }).toArray()) tombs.set(idKey(t._id.id), t);
    const writes: Document[] = [];
    const tombWrites: Document[] = [];
    const accepted: OutboxEntry[] = [];
    const rejected: Rejected[] = [];
    for (const e of entries) {
      const key = idKey(e.id);
      const current = docs.get(key);
      const tomb = tombs.get(key);
      const hubVersion: HubVersion | undefined = current ? hubVersionOf(current) : tomb ? { v: tomb.v, o: tomb.o } : undefined;
      if (hubVersion && hubVersion.v === e.v) continue; // a replay: already on the hub
      if (hubVersion && hubVersion.v > e.v) {
        rejected.push({ entry: e, hubDoc: current ?? null, hubVersion });
        continue;
      }
      if (e.op === 'upsert') {
        const doc = e.doc as Document;
        const replacement = { ...withoutSync(doc), [SYNC_FIELD]: { v: e.v, o: this.#d.deviceId, h: contentHash(doc) } };
        writes.push({ replaceOne: { filter: { _id: e.id }, replacement, upsert: true } });
        if (tomb) tombWrites.push({ deleteOne: { filter: { _id: { c, id: e.id } } } });
      } else {
        if (current) writes.push({ deleteOne: { filter: { _id: e.id } } });
        tombWrites.push({
          replaceOne: { filter: { _id: { c, id: e.id } }, replacement: { _id: { c, id: e.id }, v: e.v, o: this.#d.deviceId, at: new Date() }, upsert: true },
        });
      }
      accepted.push(e);
    }
    if (writes.length > 0) await hub.collection(c).bulkWrite(writes as never[], { session, ordered: true });
    if (tombWrites.length > 0) await hub.tombstones.bulkWrite(tombWrites as never[], { session, ordered: true });
    return { accepted, rejected };
  }

  /**
   * Removes the pushed batch from the outbox and, for each refused change,
   * records the conflict and takes the hub's version — in one local transaction.
   */
  async #settleLocally(lastSeq: number, rejected: Rejected[]): Promise<ConflictRecord[]> {
    const { store, deviceId } = this.#d;
    const conflicts: ConflictRecord[] = [];
    await inTransaction(store.client, async (session) => {
        conflicts.length = 0;
        if (rejected.length > 0) await store.posCollection(APPLY_MARKER).updateOne({ _id: 'apply' }, { $inc: { n: 1 } }, { upsert: true, session });
        for (const r of rejected) {
          const { entry } = r;
          const hubContent = r.hubDoc ? withoutSync(r.hubDoc) : null;
          conflicts.push(conflictRecord({
            collection: entry.c,
            documentId: entry.id,
            winner: 'hub',
            rule: 'newer version wins',
            local: { version: entry.v, origin: deviceId, document: entry.doc ?? null },
            hub: { version: r.hubVersion.v, origin: r.hubVersion.o, document: hubContent },
          }));
          const newer = await store.outbox.countDocuments({ c: entry.c, id: entry.id, _id: { $gt: lastSeq } }, { session });
          if (newer > 0) continue; // the till changed it again; that change is pushed next
          const coll = store.posCollection(entry.c);
          const local = await coll.findOne({ _id: entry.id }, { session });
          const known = await store.versions.findOne({ _id: { c: entry.c, id: entry.id } }, { session });
          const localHash = local ? contentHash(local) : null;
          if (known && known.h !== localHash) continue; // changed locally and not captured yet: capture pushes it next
          if (hubContent) await coll.replaceOne({ _id: entry.id }, hubContent, { upsert: true, session });
          else await coll.deleteOne({ _id: entry.id }, { session });
          await store.versions.updateOne(
            { _id: { c: entry.c, id: entry.id } },
            { $set: { v: r.hubVersion.v, h: hubContent ? contentHash(hubContent) : null } },
            { upsert: true, session },
          );
        }
        await store.outbox.deleteMany({ _id: { $lte: lastSeq } }, { session });
        if (conflicts.length > 0) await store.conflicts.insertMany(conflicts.map((c) => ({ ...c })), { session });
    });
    return conflicts;
  }
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
