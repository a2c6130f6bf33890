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
import { contentHash, idKey, withoutSync, type DocumentId } from './documents.ts';
import { stampedVersion, unstampedVersion, type Hub, type HubVersion, type Tombstone } from './hub.ts';
import { successor } from './hlc.ts';
import { conflictRecord, type ConflictRecord, type HubChangeSeen, type LocalStore, type OutboxEntry } from './local-store.ts';
import type { PolicyTable } from './policy.ts';
import {
  fieldStateVersion,
  hubState,
  mergeFieldStates,
  storedFieldVersions,
  visibleDocument,
  writeState,
  type StoredFieldVersions,
} from './resolve.ts';
import type { Logger } from './log.ts';
import { APPLY_MARKER, SYNC_FIELD } from './names.ts';
import { groupBy } from './group-by.ts';
import type { OutboxWatch } from './outbox-watch.ts';
import type { ConflictRule } from '../../src-shared/conflict-rules.ts';

export interface PushDeps {
  store: LocalStore;
  deviceId: string;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Told when a read of the outbox has been pushed away completely. */
  outboxWatch: OutboxWatch;
  /** The hub, while sync is enabled and connected. */
  hub(): Hub | undefined;
  /** A batch settled: the changes the hub took, and how many entries left the outbox. */
  onPushed(accepted: OutboxEntry[], settled: number): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onError(err: unknown): void;
  onIdle(): void;
  delay(attempt: number): Promise<void>;
}

/** A pushed change whose result on the hub is not the till's document: the hub's version won, or fields merged. */
interface Rejected {
  entry: OutboxEntry;
  /** The document now on the hub (without `_sync`), null when deleted. */
  hubDoc: Document | null;
  hubVersion: HubVersion;
  /** The conflict to record (null for a clean field merge). */
  conflict: ConflictRecord | null;
}

/** The newest outbox entry of a document in a batch, with the base and fields of all its entries. */
interface Collapsed {
  entry: OutboxEntry;
  base: string | null | undefined;
  fields: string[] | null;
}

export class Push {
  readonly #d: PushDeps;
  #running = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  #pending = true;
  /** How many times the current batch waited for a hub document HQ changed to get its version. */
  #stampWaits = 0;

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
        const mark = this.#d.outboxWatch.beforeRead();
        const batch = await this.#d.store.outbox.find({}).sort({ _id: 1 }).limit(this.#d.batchSize).toArray();
        if (batch.length === 0) {
          this.#d.outboxWatch.drained(mark);
          this.#d.onIdle();
          continue;
        }
        await this.#pushBatch(hub, batch);
        // Settled: every entry the read found is gone.
        if (batch.length < this.#d.batchSize) this.#d.outboxWatch.drained(mark);
        attempt = 0;
        this.#stampWaits = 0;
        // A full batch: there may be more. A short one took everything committed before the read; what
        // capture commits after it wakes the push itself, so no second read just to find nothing.
        if (batch.length >= this.#d.batchSize) this.#pending = true;
      } catch (err) {
        if (!this.#running) break;
        if (err instanceof AwaitingStamp) {
          // A pull (this till's or another's) stamps HQ's version within moments; compare with that.
          this.#stampWaits += 1;
          await new Promise((resolve) => setTimeout(resolve, STAMP_WAIT_MS));
          this.#pending = true;
          continue;
        }
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
    // Only the newest change of each document in the batch is written; its base is the first one's.
    const latest = new Map<string, Collapsed>();
    for (const e of batch) {
      const key = `${e.c}\u0000${idKey(e.id)}`;
      const before = latest.get(key);
      const fields = e.fields ?? null;
      latest.set(key, {
        entry: e,
        base: before ? before.base : e.base,
        fields: before ? (before.fields && fields ? [...new Set([...before.fields, ...fields])] : null) : fields,
      });
    }
    let accepted: OutboxEntry[] = [];
    let rejected: Rejected[] = [];
    let concurrent: ConflictRecord[] = [];
    await hub.own.transaction(async (session) => {
      accepted = [];
      rejected = [];
      concurrent = [];
      // Written first: every till's pull recognises this transaction as this device's push.
      await hub.pushMarker.updateOne({ _id: deviceId }, { $set: { seq: lastSeq, at: new Date() } }, { upsert: true, session });
      for (const [c, entries] of groupBy([...latest.values()], (e) => e.entry.c)) {
        const outcome = await this.#applyCollection(hub, session, c, entries);
        accepted.push(...outcome.accepted);
        rejected.push(...outcome.rejected);
        concurrent.push(...outcome.concurrent);
      }
    });
    const conflicts = await this.#settleLocally(lastSeq, accepted, rejected, concurrent);
    this.#d.onPushed(accepted, batch.length);
    if (conflicts.length > 0) this.#d.onConflicts(conflicts);
    this.#d.log.debug({
      event: 'push.batch-applied',
      entries: batch.length,
      accepted: accepted.length,
      rejected: rejected.length,
      lastSeq,
    });
  }

  async #applyCollection(
    hub: Hub,
    session: ClientSession,
    c: string,
    collapsed: Collapsed[],
  ): Promise<{ accepted: OutboxEntry[]; rejected: Rejected[]; concurrent: ConflictRecord[] }> {
    const { deviceId } = this.#d;
    const byFields = this.#d.policies().policyFor(c).conflict === 'field';
    const ids = collapsed.map((x) => x.entry.id);
    const docs = new Map<string, Document>();
    for (const doc of await hub
      .collection(c)
      .find({ _id: { $in: ids } }, { session })
      .toArray())
      docs.set(idKey(doc._id), doc);
    const tombs = new Map<string, Tombstone>();
    const missing = ids.filter((id) => !docs.has(idKey(id)));
    if (missing.length > 0) {
      for (const t of await hub.tombstones.find({ _id: { $in: missing.map((id) => ({ c, id })) } }, { session }).toArray())
        tombs.set(idKey(t._id.id), t);
    }
    const writes: Document[] = [];
    const tombWrites: Document[] = [];
    const accepted: OutboxEntry[] = [];
    const rejected: Rejected[] = [];
    const concurrent: ConflictRecord[] = [];
    for (const { entry: e, base, fields } of collapsed) {
      const key = idKey(e.id);
      const current = docs.get(key);
      const tomb = tombs.get(key);
      const stamped = current ? stampedVersion(current) : undefined;
      if (current && !stamped && this.#stampWaits < STAMP_WAITS) throw new AwaitingStamp();
      // After waiting, an HQ change still without a version counts as made now.
      const hubVersion: HubVersion | undefined = current ? (stamped ?? unstampedVersion()) : tomb ? { v: tomb.v, o: tomb.o } : undefined;
      if (hubVersion && hubVersion.v === e.v) continue; // a replay: already on the hub
      // The hub holds a version this till had not seen when it wrote: a concurrent edit.
      const isConcurrent = base !== undefined && hubVersion !== undefined && hubVersion.v !== base && hubVersion.o !== deviceId;
      const hubContent = current ? withoutSync(current) : null;
      const conflict = (winner: 'local' | 'hub', rule: ConflictRule, fields?: string[]): ConflictRecord =>
        conflictRecord({
          collection: c,
          documentId: e.id,
          winner,
          rule,
          ...(fields ? { fields } : {}),
          local: { version: e.v, origin: deviceId, document: e.doc ?? null },
          hub: { version: (hubVersion as HubVersion).v, origin: (hubVersion as HubVersion).o, document: hubContent },
        });

      if (byFields && e.op === 'upsert' && current && hubVersion) {
        // Field granularity: each top-level field is its own last-writer-wins register.
        const stored = (current[SYNC_FIELD] as { f?: StoredFieldVersions } | undefined)?.f;
        const hubFields = hubState(hubContent, hubVersion.v, Array.isArray(stored) ? stored : undefined, null);
        const mine = writeState({ op: 'upsert', v: e.v, doc: e.doc, changed: fields }, hubFields.fields.keys());
        const merged = mergeFieldStates(hubFields, mine);
        const mergedDoc = visibleDocument(merged, e.id, Object.keys(e.doc as Document)) as Document;
        const mergedVersion = fieldStateVersion(merged) as string;
        if (mergedVersion === hubVersion.v && contentHash(mergedDoc) === contentHash(hubContent as Document)) {
          rejected.push({ entry: e, hubDoc: hubContent, hubVersion, conflict: conflict('hub', 'newer-version-every-field') });
          continue;
        }
        const version = mergedVersion > hubVersion.v ? mergedVersion : successor(hubVersion.v, deviceId);
        const h = contentHash(mergedDoc);
        writes.push({
          replaceOne: {
            filter: { _id: e.id },
            replacement: { ...mergedDoc, [SYNC_FIELD]: { v: version, o: deviceId, h, f: storedFieldVersions(merged) } },
            upsert: true,
          },
        });
        accepted.push(e);
        // Fields both sides changed since this till's base: a real conflict, resolved per field.
        const overlap = isConcurrent ? [...mine.fields.keys()].filter((n) => (hubFields.fields.get(n)?.v ?? '') > (base ?? '')) : [];
        const lostFields = overlap.filter((n) => merged.fields.get(n)?.v !== e.v);
        const record = overlap.length > 0 ? conflict(lostFields.length === 0 ? 'local' : 'hub', 'newer-version-per-field', overlap) : null;
        if (h !== (e.h ?? contentHash(e.doc as Document)))
          rejected.push({ entry: e, hubDoc: mergedDoc, hubVersion: { v: version, o: deviceId }, conflict: record });
        else if (record) concurrent.push(record);
        continue;
      }

      if (!hubVersion && base && e.op === 'upsert') {
        // This till had a version of it, and the hub has neither the document nor its delete:
        // it was deleted longer ago than the tombstone retention. A stale change never brings it back.
        rejected.push({
          entry: e,
          hubDoc: null,
          hubVersion: { v: base, o: 'hub' },
          conflict: conflictRecord({
            collection: c,
            documentId: e.id,
            winner: 'hub',
            rule: 'deleted-beyond-retention',
            local: { version: e.v, origin: deviceId, document: e.doc ?? null },
            hub: { version: base, origin: 'hub', document: null },
          }),
        });
        continue;
      }
      if (hubVersion && hubVersion.v > e.v) {
        rejected.push({ entry: e, hubDoc: hubContent, hubVersion, conflict: conflict('hub', 'newer-version') });
        continue;
      }
      if (isConcurrent) concurrent.push(conflict('local', 'newer-version'));
      if (e.op === 'upsert') {
        const doc = e.doc as Document;
        const f = byFields ? storedFieldVersions(writeState({ op: 'upsert', v: e.v, doc })) : undefined;
        const replacement = { ...withoutSync(doc), [SYNC_FIELD]: { v: e.v, o: deviceId, h: e.h ?? contentHash(doc), ...(f ? { f } : {}) } };
        writes.push({ replaceOne: { filter: { _id: e.id }, replacement, upsert: true } });
        if (tomb) tombWrites.push({ deleteOne: { filter: { _id: { c, id: e.id } } } });
      } else {
        if (current) writes.push({ deleteOne: { filter: { _id: e.id } } });
        tombWrites.push({
          replaceOne: {
            filter: { _id: { c, id: e.id } },
            replacement: { _id: { c, id: e.id }, v: e.v, o: deviceId, at: new Date() },
            upsert: true,
          },
        });
      }
      accepted.push(e);
    }
    if (writes.length > 0) await hub.collection(c).bulkWrite(writes as never[], { session, ordered: true });
    if (tombWrites.length > 0) await hub.tombstones.bulkWrite(tombWrites as never[], { session, ordered: true });
    return { accepted, rejected, concurrent };
  }

  /**
   * Removes the pushed batch from the outbox and, for each refused change,
   * records the conflict and takes the hub's version — in one local transaction.
   * A hub change the pull passed over meanwhile (it left the document to this
   * push) is taken instead when it is newer than what the push leaves here.
   */
  async #settleLocally(
    lastSeq: number,
    accepted: OutboxEntry[],
    rejected: Rejected[],
    concurrent: ConflictRecord[],
  ): Promise<ConflictRecord[]> {
    const { store, outboxWatch } = this.#d;
    const conflicts: ConflictRecord[] = [];
    let readNotes = outboxWatch.notesMayExist;
    const settle = (): Promise<void> =>
      store.own.transaction(async (session) => {
        conflicts.length = 0;
        conflicts.push(...concurrent);
        /** What each document should become here: the hub's version when refused, or a newer hub change the pull saw. */
        const targets = new Map<string, { c: string; id: DocumentId; v: string; doc: Document | null; pushedV: string }>();
        const keyOf = (c: string, id: DocumentId): string => `${c}\u0000${idKey(id)}`;
        for (const r of rejected) {
          if (r.conflict) conflicts.push(r.conflict);
          targets.set(keyOf(r.entry.c, r.entry.id), { c: r.entry.c, id: r.entry.id, v: r.hubVersion.v, doc: r.hubDoc, pushedV: r.entry.v });
        }
        if (!readNotes) {
          // No hub change can be waiting on the batch's entries: remove them first, which fixes this
          // transaction's snapshot, then make sure no pull began leaving one before that.
          await store.outbox.deleteMany({ _id: { $lte: lastSeq } }, { session });
          if (outboxWatch.notesMayExist) throw new NotesAppeared();
        }
        const seen = readNotes
          ? await store.outbox
              .find({ _id: { $lte: lastSeq }, hub: { $exists: true } }, { session, projection: { c: 1, id: 1, v: 1, hub: 1 } })
              .toArray()
          : [];
        if (seen.length > 0) {
          const pushed = new Map(accepted.map((e) => [keyOf(e.c, e.id), e.v]));
          for (const e of seen) {
            const hub = e.hub as HubChangeSeen;
            const key = keyOf(e.c, e.id);
            const target = targets.get(key);
            // What the push leaves here: the hub's version if refused, else this till's (also when the hub had it already).
            const leaves = target ? target.v : (pushed.get(key) ?? e.v);
            if (hub.v <= leaves) continue;
            targets.set(key, { c: e.c, id: e.id, v: hub.v, doc: hub.doc, pushedV: target?.pushedV ?? pushed.get(key) ?? e.v });
          }
        }
        if (targets.size > 0)
          await store.posCollection(APPLY_MARKER).updateOne({ _id: 'apply' }, { $inc: { n: 1 } }, { upsert: true, session });
        for (const t of targets.values()) {
          const newer = await store.outbox.countDocuments({ c: t.c, id: t.id, _id: { $gt: lastSeq } }, { session });
          if (newer > 0) continue; // the till changed it again; that change is pushed next
          const coll = store.posCollection(t.c);
          const local = await coll.findOne({ _id: t.id }, { session });
          const known = await store.versions.findOne({ _id: { c: t.c, id: t.id } }, { session });
          const localHash = local ? contentHash(local) : null;
          if (known && known.h !== localHash) continue; // changed locally and not captured yet: capture pushes it next
          // The pull already applied a newer hub version than this one: keep it.
          if (known && known.v !== t.pushedV && known.v > t.v) continue;
          if (t.doc) await coll.replaceOne({ _id: t.id }, t.doc, { upsert: true, session });
          else await coll.deleteOne({ _id: t.id }, { session });
          await store.versions.updateOne(
            { _id: { c: t.c, id: t.id } },
            { $set: { v: t.v, h: t.doc ? contentHash(t.doc) : null } },
            { upsert: true, session },
          );
        }
        if (readNotes) await store.outbox.deleteMany({ _id: { $lte: lastSeq } }, { session });
        if (conflicts.length > 0)
          await store.conflicts.insertMany(
            conflicts.map((c) => ({ ...c })),
            { session },
          );
      });
    for (;;) {
      try {
        await settle();
        return conflicts;
      } catch (err) {
        if (!(err instanceof NotesAppeared)) throw err;
        readNotes = true;
      }
    }
  }
}

/** How long, at most, a push waits for HQ's change to a document to be stamped with its version. */
const STAMP_WAITS = 25;
const STAMP_WAIT_MS = 200;

/** The pull began leaving a hub change on outbox entries while the settle skipped reading them: settle again, reading them. */
class NotesAppeared extends Error {
  constructor() {
    super('the pull passed over a hub change while the push settled');
  }
}

/** The hub document was changed by a client that knows nothing of sync and has no version yet. */
class AwaitingStamp extends Error {
  constructor() {
    super('a hub document changed by head office is waiting for its version');
  }
}
