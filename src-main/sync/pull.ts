/**
 * Pull: one database-level change stream on the hub, resumed from the pull
 * checkpoint kept on the till. Each batch is applied to the till in one local
 * transaction together with the new checkpoint.
 *
 * - Events of this till's own push transactions (PUSH_MARKER with its device
 *   id, written first) are skipped; the checkpoint still advances.
 * - A document with a pending local change is left alone: the push settles it
 *   on the hub, and takes the hub's version back if the hub's is newer.
 * - A document changed locally but not captured yet makes the batch wait for
 *   capture and try again, so a local write is never overwritten unseen.
 * - Writes made on the hub by clients that know nothing of sync get a version
 *   from their change event, and the engine stamps it on the hub document.
 * - What cannot be applied is quarantined with its reason; the engine goes on.
 */
import { calculateObjectSize } from 'bson';
import type { ClientSession, Document, ResumeToken, Timestamp } from 'mongodb';
import { contentHash, idKey, RAW_BSON, readSyncMeta, withoutSync, type DocumentId } from './documents.ts';
import { EventQueue, QueueClosed, transactionKey, type ChangeEvent } from './event-queue.ts';
import type { FoundChange } from './capture.ts';
import { isHistoryLost } from './errors.ts';
import { reconcile } from './reconcile.ts';
import { decodeVersion, encodeVersion, HybridClock, type Version } from './hlc.ts';
import type { Hub } from './hub.ts';
import { conflictRecord, LocalStore, type ConflictRecord, type QuarantineRecord } from './local-store.ts';
import type { Logger } from './log.ts';
import { APPLY_MARKER, PUSH_MARKER, SYNC_FIELD, TOMBSTONES } from './names.ts';
import { ENGINE_COLLECTION_PREFIX, type PolicyTable } from './policy.ts';
import { groupBy } from './group-by.ts';
import type { OutboxWatch } from './outbox-watch.ts';

const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const REMEMBERED_TXNS = 64;
const IDLE_CHECKPOINT_MS = 5_000;
/** How often a batch waits for capture before a never-captured local change loses to the hub. */
const CAPTURE_WAITS = 20;

export interface PullOp {
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  doc?: Document;
  v: string;
  o: string;
  h: string | null;
  /** When the change was committed on the hub. */
  wall: Date;
  /** A hub write without sync metadata: stamp its version on the hub after applying. */
  stamp: boolean;
}

export interface PullDeps {
  store: LocalStore;
  deviceId: string;
  clock: HybridClock;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Whether the outbox is surely empty, so there are no pending local changes to look up. */
  outboxWatch: OutboxWatch;
  hub(): Hub | undefined;
  /** Resolves once capture has had a chance to take the newest local changes. */
  captureSettled(): Promise<void>;
  onApplied(applied: PullOp[]): void;
  onCaughtUp(caughtUp: boolean): void;
  /** The hub answered the pull's change stream (an empty answer too). */
  onHubResponse(): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onQuarantined(records: QuarantineRecord[]): void;
  onError(err: unknown, fatal: boolean): void;
  delay(attempt: number): Promise<void>;
  /** Progress of a reconciliation (null when it ends). */
  onReconcile(progress: { compared: number; total: number } | null): void;
  /** A reconciliation finished; `aheadRefused` hub versions were still too far ahead of this till's clock. */
  onReconciled(summary: { aheadRefused: number }): void;
  /** Queues local versions found by reconciliation for the hub. */
  enqueuePush(changes: FoundChange[]): Promise<void>;
}

/** A local change not captured yet: wait for capture, then try the batch again. */
class UncapturedChange extends Error {
  constructor() {
    super('a local change has not been captured yet');
  }
}

export class Pull {
  readonly #d: PullDeps;
  #queue: EventQueue | undefined;
  #queueHub: Hub | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #lastToken: unknown;
  #startAt: Timestamp | undefined;
  #lastCheckpointAt = 0;
  /** Transaction key -> 'own' (this till's push) or 'engine' (another till's push). */
  readonly #groups = new Map<string, 'own' | 'engine'>();
  /** History cannot say what changed (first contact, lost history): compare both sides before streaming. */
  #reconcileNeeded = false;

  constructor(deps: PullDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const checkpoint = await this.#d.store.loadCheckpoint('pull');
    this.#lastToken = checkpoint?.token;
    this.#startAt = checkpoint?.startAt;
    for (const key of checkpoint?.engineTxns ?? []) {
      const [kind, ...rest] = key.split('|');
      this.#groups.set(rest.join('|'), kind === 'own' ? 'own' : 'engine');
    }
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#queue?.close();
    await this.#loop;
    this.#queue = undefined;
    this.#queueHub = undefined;
  }

  async #open(hub: Hub): Promise<void> {
    await this.#queue?.close();
    if (!this.#lastToken && !this.#startAt) await this.#reconcile(hub); // first contact with the hub
    const stream = hub.db.watch<Document, ChangeEvent>(hub.own.leftOut(), {
      ...RAW_BSON,
      fullDocument: 'updateLookup',
      maxAwaitTimeMS: 500,
      batchSize: this.#d.batchSize,
      ...(this.#lastToken ? { startAfter: this.#lastToken } : this.#startAt ? { startAtOperationTime: this.#startAt } : {}),
    });
    this.#queue = new EventQueue(stream, () => this.#d.onHubResponse());
    this.#queueHub = hub;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      const hub = this.#d.hub();
      if (!hub) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      try {
        if (this.#reconcileNeeded) {
          await this.#queue?.close();
          this.#queue = undefined;
          await this.#reconcile(hub);
        }
        if (this.#queueHub !== hub || !this.#queue) await this.#open(hub);
        const events = await (this.#queue as EventQueue).take(this.#d.batchSize, 1000);
        if (events.length === 0) {
          this.#d.onCaughtUp(true);
          await this.#saveIdleCheckpoint();
        } else {
          this.#d.onCaughtUp(false);
          await this.#applyBatch(hub, events);
          if ((this.#queue as EventQueue).pending === 0) this.#d.onCaughtUp(true);
        }
        attempt = 0;
      } catch (err) {
        if (!this.#running) break;
        this.#queueHub = undefined;
        if (isHistoryLost(err)) {
          this.#d.log.warn(
            { event: 'pull.history-lost', error: String(err) },
            "the hub's change history no longer reaches the checkpoint; reconciling",
          );
          this.#reconcileNeeded = true;
          this.#d.onError(err, false);
          continue;
        }
        if (!(err instanceof QueueClosed)) {
          this.#d.onError(err, false);
          this.#d.log.warn({ event: 'pull.failed', error: String(err), attempt }, 'pull failed; reopening from the checkpoint');
          await this.#d.delay(attempt++);
        }
      }
    }
  }

  /** Asks for a full comparison with the hub before the stream goes on (the till's own history was lost). */
  requestReconcile(): void {
    this.#reconcileNeeded = true;
    void this.#queue?.close();
  }

  /**
   * Takes the hub's position first, compares both sides, and only then moves
   * the checkpoint to that position: a crash part-way reconciles again.
   */
  async #reconcile(hub: Hub): Promise<void> {
    const startAt = await LocalStore.clusterTime(hub.db);
    this.#d.onReconcile({ compared: 0, total: 0 });
    try {
      const summary = await reconcile({
        store: this.#d.store,
        hub,
        deviceId: this.#d.deviceId,
        clock: this.#d.clock,
        policies: this.#d.policies(),
        batchSize: this.#d.batchSize,
        log: this.#d.log,
        applyPulled: (ops, lane) => this.#applyReconciled(hub, ops, lane),
        agreeVersions: async (records) => {
          await this.#d.store.versions
            .bulkWrite(
              records.map((r) => ({
                updateOne: { filter: { _id: { c: r.c, id: r.id }, v: { $lt: r.v } }, update: { $set: { v: r.v, h: r.h } }, upsert: true },
              })) as never[],
              { ordered: false },
            )
            .catch((err: { code?: number }) => {
              if (err.code !== 11000) throw err; // a newer record is already there
            });
        },
        enqueuePush: (changes) => this.#d.enqueuePush(changes),
        stampHub: (ops) => this.#stamp(hub, ops),
        recordConflicts: async (conflicts) => {
          await this.#d.store.conflicts.insertMany(conflicts.map((c) => ({ ...c })));
          this.#d.onConflicts(conflicts);
        },
        progress: (compared, total) => this.#d.onReconcile({ compared, total }),
      });
      await this.#d.store.checkpoints.replaceOne(
        { _id: 'pull' },
        { startAt, clock: encodeVersion(this.#d.clock.last), engineTxns: [], at: new Date() },
        { upsert: true },
      );
      this.#groups.clear();
      this.#lastToken = undefined;
      this.#startAt = startAt;
      this.#lastCheckpointAt = Date.now();
      this.#reconcileNeeded = false;
      this.#queueHub = undefined;
      this.#d.onReconciled(summary);
    } finally {
      this.#d.onReconcile(null);
    }
  }

  /**
   * Hub versions chosen by reconciliation, applied like pulled changes (no checkpoint move). Two lanes
   * apply at once, each with its own apply-marker document, so they do not conflict on it.
   */
  async #applyReconciled(hub: Hub, ops: PullOp[], lane: number): Promise<void> {
    const outcome = await this.#commit(ops, [], undefined, this.#d.clock.fork(), true, `reconcile-${lane}`);
    this.#d.onApplied(outcome.applied);
    if (outcome.conflicts.length > 0) this.#d.onConflicts(outcome.conflicts);
    await this.#stamp(
      hub,
      ops.filter((op) => op.stamp),
    );
  }

  async #saveIdleCheckpoint(): Promise<void> {
    if (!this.#queue || this.#queue.pending > 0) return;
    const token = this.#queue.resumeToken;
    if (!token || JSON.stringify(token) === JSON.stringify(this.#lastToken)) return;
    await this.#checkpointNowAndThen(token);
  }

  /**
   * Moves the checkpoint past events that changed nothing here, outside any transaction and at most every
   * few seconds; a restart from an older one reads them again and skips them again.
   */
  async #checkpointNowAndThen(token: unknown): Promise<void> {
    if (Date.now() - this.#lastCheckpointAt < IDLE_CHECKPOINT_MS) return;
    await this.#d.store.saveCheckpoint({
      _id: 'pull',
      token: token as ResumeToken,
      clock: encodeVersion(this.#d.clock.last),
      engineTxns: this.#groupKeys(),
      at: new Date(),
    });
    this.#lastToken = token;
    this.#lastCheckpointAt = Date.now();
  }

  #groupKeys(): string[] {
    return [...this.#groups].map(([key, kind]) => `${kind}|${key}`);
  }

  #remember(key: string, kind: 'own' | 'engine'): void {
    this.#groups.set(key, kind);
    if (this.#groups.size > REMEMBERED_TXNS) this.#groups.delete(this.#groups.keys().next().value as string);
  }

  /** Turns events into per-document operations; quarantines what cannot be applied. */
  #plan(hub: Hub, events: ChangeEvent[], tentative: HybridClock): { ops: PullOp[]; quarantined: QuarantineRecord[]; invalidated: boolean } {
    const policies = this.#d.policies();
    const ops = new Map<string, PullOp>();
    const quarantined: QuarantineRecord[] = [];
    // A push writes a delete's tombstone after the delete itself, in one transaction: read them all first.
    const tombstones = new Map<string, { v: string; o: string }>();
    for (const ev of events) {
      if ((ev as { ns?: { coll?: string } }).ns?.coll !== TOMBSTONES) continue;
      const t = (ev as { fullDocument?: Document | null }).fullDocument;
      const target = t?._id as { c?: string; id?: unknown } | undefined;
      if (t && target?.c) tombstones.set(`${target.c}\u0000${idKey(target.id)}`, { v: String(t.v), o: String(t.o) });
    }
    let invalidated = false;
    for (const ev of events) {
      const key = transactionKey(ev);
      const coll = (ev as { ns?: { coll?: string } }).ns?.coll;
      const id = (ev as { documentKey?: { _id: DocumentId } }).documentKey?._id ?? null;
      const op = ev.operationType as string;
      if (coll === PUSH_MARKER || (key && hub.own.wrote(ev))) {
        if (key) this.#remember(key, coll !== PUSH_MARKER || id === this.#d.deviceId ? 'own' : 'engine');
        continue;
      }
      if (key && this.#groups.get(key) === 'own') continue;
      if (op === 'invalidate') {
        invalidated = true;
        break;
      }
      if (coll === TOMBSTONES) continue; // read above
      if (!coll || coll.startsWith(ENGINE_COLLECTION_PREFIX) || coll.startsWith('system.')) continue;
      if (['drop', 'rename', 'dropDatabase', 'create', 'createIndexes', 'dropIndexes', 'modify'].includes(op)) continue;
      const wall = (ev as { wallTime?: Date }).wallTime ?? new Date();
      const change = ev as unknown as Document;
      if (!['insert', 'update', 'replace', 'delete'].includes(op)) {
        quarantined.push(quarantine(coll, id, `unknown change type "${op}" (expected insert, update, replace or delete)`, change));
        continue;
      }
      if (!policies.shouldPull(coll)) continue;
      const docKey = `${coll}\u0000${idKey(id)}`;
      if (op === 'delete') {
        const tomb = tombstones.get(docKey);
        const version = tomb ? decodeOrNull(tomb.v) : derivedVersion(ev);
        if (!version) {
          quarantined.push(quarantine(coll, id, `tombstone version "${tomb?.v}" is malformed`, change));
          continue;
        }
        const accepted = this.#accept(tentative, version);
        if (accepted) {
          quarantined.push({ ...quarantine(coll, id, accepted, change), kind: 'clock-drift' });
          continue;
        }
        ops.set(docKey, { c: coll, id, op: 'delete', v: encodeVersion(version), o: tomb?.o ?? 'hub', h: null, wall, stamp: false });
        continue;
      }
      const full = (ev as { fullDocument?: Document | null }).fullDocument;
      if (!full) continue; // deleted since; its delete event follows
      const meta = readSyncMeta(full);
      if (meta && 'malformed' in meta) {
        quarantined.push(quarantine(coll, id, `sync metadata is malformed: ${meta.malformed}`, change));
        continue;
      }
      const content = withoutSync(full);
      const h = contentHash(content);
      const stamped = meta !== undefined && meta.h === h;
      const version = stamped ? decodeOrNull(meta.v) : derivedVersion(ev);
      if (!version) {
        quarantined.push(quarantine(coll, id, `version "${String(meta?.v)}" in ${SYNC_FIELD}.v is malformed`, change));
        continue;
      }
      if (calculateObjectSize(content) > MAX_DOCUMENT_BYTES) {
        quarantined.push(quarantine(coll, id, 'document is over the 16 MB limit', null));
        continue;
      }
      const refused = this.#accept(tentative, version);
      if (refused) {
        quarantined.push({ ...quarantine(coll, id, refused, change), kind: 'clock-drift' });
        continue;
      }
      ops.set(docKey, {
        c: coll,
        id,
        op: 'upsert',
        doc: content,
        v: encodeVersion(version),
        o: stamped ? meta.o : 'hub',
        h,
        wall,
        stamp: !stamped,
      });
    }
    return { ops: [...ops.values()], quarantined, invalidated };
  }

  /** Merges a pulled version into the clock; a reason when it is refused (too far in the future). */
  #accept(tentative: HybridClock, version: Version): string | undefined {
    const result = tentative.receive(version);
    if (result.ok) return undefined;
    const minutes = Math.round(result.aheadMs / 60_000);
    return `version from device "${version.device}" is ${minutes} minute(s) ahead of this till's clock; refused until the clocks agree`;
  }

  async #applyBatch(hub: Hub, events: ChangeEvent[]): Promise<void> {
    const lastToken = events[events.length - 1]?._id;
    for (let wait = 0; ; wait += 1) {
      const tentative = this.#d.clock.fork();
      const groupsBefore = new Map(this.#groups);
      const { ops, quarantined, invalidated } = this.#plan(hub, events, tentative);
      if (ops.length === 0 && quarantined.length === 0 && !invalidated) {
        // Nothing to apply (this till's own pushes, say): no transaction, so no apply marker for capture
        // to read either.
        await this.#checkpointNowAndThen(lastToken);
        return;
      }
      try {
        const outcome = await this.#commit(ops, quarantined, lastToken, tentative, wait >= CAPTURE_WAITS);
        this.#lastToken = lastToken;
        this.#lastCheckpointAt = Date.now();
        this.#d.clock.advance(tentative.last);
        this.#d.onApplied(outcome.applied);
        if (outcome.conflicts.length > 0) this.#d.onConflicts(outcome.conflicts);
        if (quarantined.length > 0) this.#d.onQuarantined(quarantined);
        // Stamped even when not applied here (a pending local change): the push then compares with HQ's real version.
        await this.#stamp(
          hub,
          ops.filter((op) => op.stamp),
        );
        if (invalidated) throw new QueueClosed();
        return;
      } catch (err) {
        this.#groups.clear();
        for (const [k, v] of groupsBefore) this.#groups.set(k, v);
        if (!(err instanceof UncapturedChange)) throw err;
        await this.#d.captureSettled();
      }
    }
  }

  async #commit(
    ops: PullOp[],
    quarantined: QuarantineRecord[],
    token: unknown,
    tentative: HybridClock,
    captureGaveUp: boolean,
    marker = 'apply',
  ): Promise<{ applied: PullOp[]; conflicts: ConflictRecord[] }> {
    const { store } = this.#d;
    const applied: PullOp[] = [];
    const conflicts: ConflictRecord[] = [];
    await store.own.transaction(async (session) => {
      applied.length = 0;
      conflicts.length = 0;
      // Written first: capture recognises this transaction as the engine's and does not push it back.
      await store.posCollection(APPLY_MARKER).updateOne({ _id: marker }, { $inc: { n: 1 } }, { upsert: true, session });
      for (const [c, group] of groupBy(ops, (op) => op.c)) {
        await this.#applyCollection(session, c, group, captureGaveUp, applied, conflicts);
      }
      if (quarantined.length > 0)
        await store.quarantine.insertMany(
          quarantined.map((q) => ({ ...q })),
          { session },
        );
      if (conflicts.length > 0)
        await store.conflicts.insertMany(
          conflicts.map((c) => ({ ...c })),
          { session },
        );
      if (token !== undefined) {
        await store.saveCheckpoint(
          { _id: 'pull', token, clock: encodeVersion(tentative.last), engineTxns: this.#groupKeys(), at: new Date() },
          session,
        );
      }
    });
    return { applied, conflicts };
  }

  async #applyCollection(
    session: ClientSession,
    c: string,
    ops: PullOp[],
    captureGaveUp: boolean,
    applied: PullOp[],
    conflicts: ConflictRecord[],
  ): Promise<void> {
    const { store } = this.#d;
    const pullOnly = this.#d.policies().policyFor(c).mode === 'pull-only';
    const ids = ops.map((op) => op.id);
    /** The newest outbox entry of each document with a change waiting to be pushed. */
    const pending = new Map<string, number>();
    // Checked after the apply marker's write has fixed this transaction's snapshot (see OutboxWatch).
    const outboxEntries = this.#d.outboxWatch.surelyEmpty
      ? []
      : await store.outbox.find({ c, id: { $in: ids } }, { session, projection: { id: 1 } }).toArray();
    for (const e of outboxEntries) {
      const key = idKey(e.id);
      pending.set(key, Math.max(pending.get(key) ?? 0, e._id));
    }
    const passedOver: Document[] = [];
    const locals = new Map<string, Document>();
    const coll = store.posCollection(c);
    for (const doc of await coll.find({ _id: { $in: ids } }, { session }).toArray()) locals.set(idKey(doc._id), doc);
    const known = new Map<string, { v: string; h: string | null }>();
    for (const r of await store.versions.find({ _id: { $in: ids.map((id) => ({ c, id })) } }, { session }).toArray())
      known.set(idKey(r._id.id), r);
    const writes: Document[] = [];
    const versionWrites: Document[] = [];
    for (const op of ops) {
      const key = idKey(op.id);
      const waiting = pending.get(key);
      if (waiting !== undefined && !pullOnly) {
        // The push settles it. The hub change goes on the waiting entry, so the settle can take it if it is
        // newer than what the push saw; writing that entry also makes this transaction and the settle's
        // (which deletes it) conflict, so one of them sees the other.
        passedOver.push({
          updateOne: {
            filter: { _id: waiting, $or: [{ 'hub.v': { $exists: false } }, { 'hub.v': { $lt: op.v } }] },
            update: { $set: { hub: { v: op.v, o: op.o, doc: op.op === 'upsert' ? (op.doc ?? null) : null } } },
          },
        });
        continue;
      }
      const local = locals.get(key);
      const localHash = local ? contentHash(local) : null;
      const record = known.get(key);
      if (record && record.v === op.v && record.h === localHash) continue; // already here
      // Already newer here: this till's own later change went up and settled before the pull reached
      // this older one (the hub kept the newer; its event is this till's own and is skipped).
      if (record && record.v > op.v && record.h === localHash) continue;
      const changedLocally = record ? record.h !== localHash : local !== undefined && localHash !== op.h;
      if (changedLocally && !pullOnly) {
        if (record && !captureGaveUp) throw new UncapturedChange();
        conflicts.push(
          conflictRecord({
            collection: c,
            documentId: op.id,
            winner: 'hub',
            rule: record ? 'uncaptured-local-change' : 'unsynced-local-copy',
            local: { version: record?.v ?? '', origin: this.#d.deviceId, document: local ?? null },
            hub: { version: op.v, origin: op.o, document: op.doc ?? null },
          }),
        );
      }
      if (op.op === 'upsert') writes.push({ replaceOne: { filter: { _id: op.id }, replacement: op.doc, upsert: true } });
      else if (local) writes.push({ deleteOne: { filter: { _id: op.id } } });
      versionWrites.push({ updateOne: { filter: { _id: { c, id: op.id } }, update: { $set: { v: op.v, h: op.h } }, upsert: true } });
      applied.push(op);
    }
    if (writes.length > 0) await coll.bulkWrite(writes as never[], { session, ordered: true });
    if (versionWrites.length > 0) await store.versions.bulkWrite(versionWrites as never[], { session, ordered: true });
    if (passedOver.length > 0) {
      this.#d.outboxWatch.notesWriting();
      await store.outbox.bulkWrite(passedOver as never[], { session, ordered: true });
    }
  }

  /**
   * Writes the version of hub-made changes onto the hub documents: one bulk
   * write per collection. No read first: the stamp carries the content hash
   * it was made for, so if HQ changed the document in between, the hash no
   * longer matches and every till treats the document as unstamped again.
   * A document whose version is already as new or newer (a push, another
   * till's stamp) is left alone, so hub versions only move forward.
   */
  async #stamp(hub: Hub, ops: PullOp[]): Promise<void> {
    if (ops.length === 0) return;
    try {
      await hub.own.transaction(async (session) => {
        await hub.pushMarker.updateOne({ _id: this.#d.deviceId }, { $set: { at: new Date() } }, { upsert: true, session });
        for (const [c, group] of groupBy(ops, (op) => op.c)) {
          const writes = group.map((op) => ({
            updateOne: {
              // Only over no version or an older one: a lagging till never stamps over a newer push or stamp.
              filter: { _id: op.id, $or: [{ [`${SYNC_FIELD}.v`]: { $exists: false } }, { [`${SYNC_FIELD}.v`]: { $lt: op.v } }] },
              update: { $set: { [SYNC_FIELD]: { v: op.v, o: 'hub', h: op.h } } },
            },
          }));
          await hub.collection(c).bulkWrite(writes as never[], { session, ordered: false });
        }
      });
    } catch (err) {
      this.#d.log.debug({ event: 'pull.stamp-skipped', error: String(err) }, 'could not stamp hub versions; will use the event time');
    }
  }
}

function decodeOrNull(v: string): Version | null {
  try {
    return decodeVersion(v);
  } catch {
    return null;
  }
}

/** The version of a hub write made without sync metadata: its commit time. */
function derivedVersion(ev: ChangeEvent): Version {
  const wall = ((ev as { wallTime?: Date }).wallTime ?? new Date()).getTime();
  const clusterTime = (ev as { clusterTime?: Timestamp }).clusterTime;
  const counter = clusterTime ? Math.min(Number(clusterTime.low >>> 0), 0xffff) : 0;
  return { wall, counter, device: 'hub' };
}

function quarantine(collection: string, documentId: DocumentId, reason: string, change: Document | null): QuarantineRecord {
  return { collection, documentId: documentId ?? null, side: 'hub', reason, change, at: new Date() };
}
