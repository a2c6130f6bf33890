/**
 * Capture: one database-level change stream on the till's POS database, so a
 * write from any local client is seen. Each batch of changes goes to the
 * outbox in the same local transaction that moves the capture checkpoint.
 *
 * Echo suppression: every pull-apply transaction writes the APPLY_MARKER
 * document first, so its events arrive first in their transaction; capture
 * remembers that transaction's key and skips the rest of it. Keys of groups
 * still open at a checkpoint are saved with it, so a restart in the middle of
 * one does not push the engine's own writes back.
 */
import type { ChangeStream, ClientSession, Document, ResumeToken, Timestamp } from 'mongodb';
import { LocalStore, type OutboxEntry } from './local-store.ts';
import { contentHash, idKey, RAW_BSON, type DocumentId } from './documents.ts';
import { EventQueue, QueueClosed, transactionKey, type ChangeEvent } from './event-queue.ts';
import { encodeVersion, HybridClock } from './hlc.ts';
import type { Logger } from './log.ts';
import { isHistoryLost } from './errors.ts';
import { APPLY_MARKER } from './names.ts';
import { inTransaction } from './transaction.ts';
import { groupBy } from './group-by.ts';
import type { ClockOffsets } from './clock-offset.ts';
import type { PolicyTable } from './policy.ts';
import type { OutboxWatch } from './outbox-watch.ts';

const REMEMBERED_TXNS = 64;
const IDLE_CHECKPOINT_MS = 5_000;
/** A change this far ahead of the expected local clock means the till's clock was moved. */
const CLOCK_JUMP_MS = 2_000;

export interface CaptureDeps {
  store: LocalStore;
  clock: HybridClock;
  /** This till's clock against the hub's: change times are stamped in hub time. */
  offsets: ClockOffsets;
  deviceId: string;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** Told before each transaction that may add outbox entries. */
  outboxWatch: OutboxWatch;
  /** After each committed batch: outbox entries written (0 for skipped-only batches). */
  onCommitted(captured: number, wallTimes: Date[]): void;
  /** A failure the loop will retry; `fatal` when the stream cannot resume from its checkpoint. */
  onError(err: unknown, fatal: boolean): void;
  /** Waits before reopening after a failure. */
  delay(attempt: number): Promise<void>;
  /**
   * The stream's history is gone (oplog rolled over while the engine was
   * down): capture restarted from now; changes in the gap must be found by
   * reconciliation.
   */
  onHistoryLost(): void;
}

/** A change found by reconciliation rather than by the stream. */
export interface FoundChange {
  c: string;
  id: DocumentId;
  op: 'upsert' | 'delete';
  doc?: Document;
  v: string;
  /** The version the till last agreed with the hub on, when known. */
  base?: string | null;
  /**
   * What reconciliation compared: the document's version record (null: none)
   * and its content hash (null: no document). The change is taken only if
   * both are still so when it is queued, with the document as it is then; if
   * anything moved the document meanwhile (a push settling a hub version
   * here, a write capture will take), that path has it and this is dropped.
   */
  expect?: { v: string | null; h: string | null };
}

export class Capture {
  readonly #d: CaptureDeps;
  #queue: EventQueue | undefined;
  #seq = 0;
  readonly #engineTxns = new Set<string>();
  #running = false;
  #loop: Promise<void> | undefined;
  #lastCheckpointAt = 0;
  #committing = false;
  #lastToken: unknown;
  #startAt: Timestamp | undefined;
  /** Capture batches and reconciliation entries take outbox sequence numbers one at a time. */
  #lock: Promise<void> = Promise.resolve();

  constructor(deps: CaptureDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const checkpoint = await this.#d.store.loadCheckpoint('capture');
    this.#seq = checkpoint?.seq ?? 0;
    for (const key of checkpoint?.engineTxns ?? []) this.#engineTxns.add(key);
    this.#lastToken = checkpoint?.token;
    this.#startAt = checkpoint?.startAt;
    if (!checkpoint) {
      // First start: fix the starting point durably before reading anything, so a crash cannot skip writes.
      this.#startAt = await LocalStore.clusterTime(this.#d.store.pos);
      await this.#d.store.saveCheckpoint({ _id: 'capture', startAt: this.#startAt, seq: 0, engineTxns: [], at: new Date() });
    }
    await this.#open(this.#lastToken);
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#queue?.close();
    await this.#loop;
    this.#loop = undefined;
  }

  /** Changes are waiting to be captured, or a batch is being written. */
  get busy(): boolean {
    return this.#committing || (this.#queue?.pending ?? 0) > 0;
  }

  /** Highest outbox sequence number written so far. */
  get lastSeq(): number {
    return this.#seq;
  }

  async #open(token: unknown): Promise<void> {
    const stream: ChangeStream<Document, ChangeEvent> = this.#d.store.pos.watch<Document, ChangeEvent>(this.#d.store.own.leftOut(), {
      ...RAW_BSON,
      fullDocument: 'whenAvailable',
      showExpandedEvents: true,
      maxAwaitTimeMS: 500,
      batchSize: this.#d.batchSize,
      ...(token ? { startAfter: token } : this.#startAt ? { startAtOperationTime: this.#startAt } : {}),
    });
    this.#queue = new EventQueue(stream);
  }

  async #run(): Promise<void> {
    let attempt = 0;
    while (this.#running) {
      try {
        const events = await (this.#queue as EventQueue).take(this.#d.batchSize, 1000);
        if (events.length === 0) await this.#saveIdleCheckpoint();
        else {
          this.#committing = true;
          try {
            await this.#exclusive(() => this.#commit(events));
          } finally {
            this.#committing = false;
          }
        }
        attempt = 0;
      } catch (err) {
        if (!this.#running) break;
        const invalidated = err instanceof Invalidated;
        if (isHistoryLost(err)) {
          try {
            await this.#restartFromNow();
            this.#d.onHistoryLost();
            attempt = 0;
            continue;
          } catch (restartErr) {
            this.#d.onError(restartErr, true);
            await this.#d.delay(attempt++);
            continue;
          }
        }
        if (!invalidated && !(err instanceof QueueClosed)) {
          this.#d.onError(err, false);
          this.#d.log.warn({ event: 'capture.stream-failed', error: String(err) }, 'capture stream failed; reopening from the checkpoint');
          await this.#d.delay(attempt++);
        }
        await this.#queue?.close();
        if (!this.#running) break;
        try {
          await this.#open(this.#lastToken);
        } catch (openErr) {
          this.#d.onError(openErr, true);
          this.#d.log.error({ event: 'capture.reopen-failed', error: String(openErr) }, 'capture cannot resume from its checkpoint');
          await this.#d.delay(attempt++);
        }
      }
    }
  }

  /**
   * When idle, moves the checkpoint to the stream's post-batch token so a
   * restart rescans little. The token is read while nothing is queued: every
   * change it covers has been committed.
   */
  async #saveIdleCheckpoint(): Promise<void> {
    if (!this.#queue || this.#queue.pending > 0) return;
    const token = this.#queue.resumeToken;
    if (!token || JSON.stringify(token) === JSON.stringify(this.#lastToken)) return;
    await this.#checkpointNowAndThen(token);
  }

  /**
   * Moves the checkpoint past events that wrote nothing, outside any transaction and at most every
   * few seconds; a restart from an older one reads them again and finds nothing again.
   */
  async #checkpointNowAndThen(token: unknown): Promise<void> {
    if (Date.now() - this.#lastCheckpointAt < IDLE_CHECKPOINT_MS) return;
    await this.#d.store.saveCheckpoint({
      _id: 'capture',
      token: token as ResumeToken,
      seq: this.#seq,
      clock: encodeVersion(this.#d.clock.last),
      engineTxns: [...this.#engineTxns],
      at: new Date(),
    });
    this.#lastToken = token;
    this.#lastCheckpointAt = Date.now();
  }

  async #exclusive<T>(fn: () => Promise<T>): Promise<T> {
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

  /** History lost: a new starting point, saved before anything is read from it. */
  async #restartFromNow(): Promise<void> {
    await this.#queue?.close();
    const startAt = await LocalStore.clusterTime(this.#d.store.pos);
    await this.#exclusive(async () => {
      await this.#d.store.checkpoints.replaceOne(
        { _id: 'capture' },
        { seq: this.#seq, startAt, clock: encodeVersion(this.#d.clock.last), engineTxns: [...this.#engineTxns], at: new Date() },
        { upsert: true },
      );
      this.#lastToken = undefined;
      this.#startAt = startAt;
    });
    this.#d.log.warn({ event: 'capture.history-lost' }, "this till's change history was lost; capturing from now and reconciling the gap");
    await this.#open(undefined);
  }

  /**
   * Adds changes found by reconciliation to the outbox, with their version
   * records, in one local transaction that also keeps the sequence and clock.
   */
  async enqueue(changes: FoundChange[]): Promise<void> {
    if (changes.length === 0) return;
    const { store } = this.#d;
    let taken: FoundChange[] = [];
    await this.#exclusive(async () => {
      let seq = this.#seq;
      const ended = this.#d.outboxWatch.adding();
      await inTransaction(store.client, async (session) => {
        seq = this.#seq;
        taken = await this.#stillAsCompared(changes, session);
        if (taken.length === 0) return;
        const now = new Date();
        const entries: OutboxEntry[] = taken.map((ch) => {
          seq += 1;
          return {
            _id: seq,
            c: ch.c,
            id: ch.id,
            op: ch.op,
            ...(ch.doc ? { doc: ch.doc, h: contentHash(ch.doc) } : {}),
            v: ch.v,
            at: now,
            wall: now,
            ...(ch.base === undefined ? {} : { base: ch.base }),
          };
        });
        await store.outbox.insertMany(entries, { session });
        await store.versions.bulkWrite(
          entries.map((e) => ({
            updateOne: { filter: { _id: { c: e.c, id: e.id } }, update: { $set: { v: e.v, h: e.h ?? null } }, upsert: true },
          })) as never[],
          { session, ordered: true },
        );
        await store.saveCheckpoint({ _id: 'capture', seq, clock: encodeVersion(this.#d.clock.last), at: now }, session);
      }).finally(ended);
      this.#seq = seq;
    });
    if (taken.length < changes.length) {
      this.#d.log.debug(
        { event: 'capture.found-changes-moved', dropped: changes.length - taken.length },
        'documents changed since reconciliation compared them; their own path syncs them',
      );
    }
    if (taken.length > 0)
      this.#d.onCommitted(
        taken.length,
        taken.map(() => new Date()),
      );
  }

  /** The changes whose documents are as reconciliation compared them, each with the document as it is now. */
  async #stillAsCompared(changes: FoundChange[], session: ClientSession): Promise<FoundChange[]> {
    const checked = changes.filter((ch) => ch.expect);
    if (checked.length === 0) return changes;
    const records = new Map<string, string>();
    const docs = new Map<string, Document>();
    for (const [c, list] of groupBy(checked, (ch) => ch.c)) {
      const ids = list.map((ch) => ch.id);
      for (const r of await this.#d.store.versions
        .find({ _id: { $in: ids.map((id) => ({ c, id })) } }, { session, projection: { v: 1 } })
        .toArray()) {
        records.set(`${c}\u0000${idKey(r._id.id)}`, r.v);
      }
      for (const doc of await this.#d.store
        .posCollection(c)
        .find({ _id: { $in: ids } }, { session })
        .toArray())
        docs.set(`${c}\u0000${idKey(doc._id)}`, doc);
    }
    const out: FoundChange[] = [];
    for (const ch of changes) {
      if (!ch.expect) {
        out.push(ch);
        continue;
      }
      const key = `${ch.c}\u0000${idKey(ch.id)}`;
      const doc = docs.get(key);
      if ((records.get(key) ?? null) !== ch.expect.v || (doc ? contentHash(doc) : null) !== ch.expect.h) continue;
      const { expect: _compared, doc: _then, ...rest } = ch;
      out.push(doc ? { ...rest, op: 'upsert', doc } : { ...rest, op: 'delete' });
    }
    return out;
  }

  /** The version each document of the batch had on this till before it (its base), by collection and id. */
  async #knownVersions(events: ChangeEvent[], session: ClientSession): Promise<Map<string, string | null>> {
    const ids = new Map<string, DocumentId[]>();
    for (const ev of events) {
      const coll = (ev as { ns?: { coll?: string } }).ns?.coll;
      const key = (ev as { documentKey?: { _id: DocumentId } }).documentKey;
      if (!coll || !key || coll === APPLY_MARKER) continue;
      const list = ids.get(coll);
      if (list) list.push(key._id);
      else ids.set(coll, [key._id]);
    }
    const known = new Map<string, string | null>();
    for (const [c, list] of ids) {
      const records = await this.#d.store.versions
        .find({ _id: { $in: list.map((id) => ({ c, id })) } }, { session, projection: { v: 1 } })
        .toArray();
      for (const r of records) known.set(`${c}\u0000${idKey(r._id.id)}`, r.v);
    }
    return known;
  }

  #rememberEngineTxn(key: string): void {
    this.#engineTxns.add(key);
    if (this.#engineTxns.size > REMEMBERED_TXNS) this.#engineTxns.delete(this.#engineTxns.values().next().value as string);
  }

  /**
   * A batch made only of the engine's own transactions (the pull's applies, each opened by its marker) has
   * nothing to capture: no transaction, and the checkpoint moves at most every few seconds. A restart
   * from an older checkpoint reads them again and skips them again (the markers come first).
   */
  async #skipEngineOnly(events: ChangeEvent[]): Promise<boolean> {
    const markers: string[] = [];
    for (const ev of events) {
      const key = transactionKey(ev);
      if (((ev as { ns?: { coll?: string } }).ns?.coll === APPLY_MARKER || this.#d.store.own.wrote(ev)) && key) markers.push(key);
      else if (!key || !(this.#engineTxns.has(key) || markers.includes(key))) return false;
    }
    for (const key of markers) this.#rememberEngineTxn(key);
    // A collection the pull created here (its first document came from the hub) gets post-images too.
    for (const ev of events) {
      const coll = (ev as { ns?: { coll?: string } }).ns?.coll;
      if (ev.operationType === 'create' && coll) await this.#d.store.enableImages(coll);
    }
    await this.#checkpointNowAndThen(events[events.length - 1]?._id);
    return true;
  }

  async #commit(events: ChangeEvent[]): Promise<void> {
    if (await this.#skipEngineOnly(events)) return;
    const { store, offsets } = this.#d;
    const policies = this.#d.policies();
    // A change timed well ahead of where this till's server clock should be: the clock was moved. Measure it again first.
    const newest = Math.max(...events.map((ev) => (ev as { wallTime?: Date }).wallTime?.getTime() ?? 0));
    if (newest - offsets.expectedLocalNow() > CLOCK_JUMP_MS) {
      await offsets
        .localMoved(store.client)
        .catch((err: unknown) =>
          this.#d.log.warn({ event: 'capture.clock-check-failed', error: String(err) }, "could not read this till's clock"),
        );
    }
    const shift = offsets.localMs;
    // No change is stamped later than head office's time now: one version from the future would
    // carry this till's clock along with it, and every later change would wait at the other tills.
    const latest = offsets.hubNow() + CLOCK_JUMP_MS;
    const tentative = this.#d.clock.fork();
    const newCollections: string[] = [];
    let invalidated = false;
    let written: OutboxEntry[] = [];
    let seq = this.#seq;
    const lastToken = events[events.length - 1]?._id;
    const ended = this.#d.outboxWatch.adding();
    await inTransaction(store.client, async (session) => {
      seq = this.#seq;
      const entries: OutboxEntry[] = [];
      const versionOps: Document[] = [];
      const now = new Date();
      const known = await this.#knownVersions(events, session);
      for (const ev of events) {
        const key = transactionKey(ev);
        const coll = (ev as { ns?: { coll?: string } }).ns?.coll;
        if (coll === APPLY_MARKER || store.own.wrote(ev)) {
          if (key) this.#rememberEngineTxn(key);
          if (ev.operationType === 'create' && coll) newCollections.push(coll);
          continue;
        }
        if (key && this.#engineTxns.has(key)) continue;
        const op = ev.operationType;
        if (op === 'invalidate') {
          invalidated = true;
          break;
        }
        if (op === 'create' && coll) {
          newCollections.push(coll);
          continue;
        }
        if (op === 'drop' || op === 'rename' || op === 'dropDatabase') {
          this.#d.log.warn({ event: 'capture.ddl-not-synced', operation: op, collection: coll }, 'collection-level change is not synced');
          continue;
        }
        if (!coll || !policies.shouldPush(coll)) continue;
        const id = (ev as { documentKey?: { _id: DocumentId } }).documentKey?._id ?? null;
        // In hub time (see clock-offset.ts).
        const wall = new Date(Math.min(((ev as { wallTime?: Date }).wallTime ?? now).getTime() + shift, latest));
        if (op === 'insert' || op === 'replace' || op === 'update') {
          let doc = (ev as { fullDocument?: Document | null }).fullDocument ?? null;
          // No post-image (images were off): the current document is the best there is.
          if (!doc) doc = await store.posCollection(coll).findOne({ _id: id }, { session });
          if (!doc) continue; // deleted since; its delete event follows
          const v = encodeVersion(tentative.tick(wall.getTime()));
          seq += 1;
          const key = `${coll}\u0000${idKey(id)}`;
          const h = contentHash(doc);
          entries.push({
            _id: seq,
            c: coll,
            id,
            op: 'upsert',
            doc,
            h,
            v,
            at: now,
            wall,
            base: known.get(key) ?? null,
            fields: op === 'update' ? changedFields(ev) : null,
          });
          known.set(key, v);
          versionOps.push({ updateOne: { filter: { _id: { c: coll, id } }, update: { $set: { v, h } }, upsert: true } });
        } else if (op === 'delete') {
          const v = encodeVersion(tentative.tick(wall.getTime()));
          seq += 1;
          const key = `${coll}\u0000${idKey(id)}`;
          entries.push({ _id: seq, c: coll, id, op: 'delete', v, at: now, wall, base: known.get(key) ?? null });
          known.set(key, v);
          versionOps.push({ updateOne: { filter: { _id: { c: coll, id } }, update: { $set: { v, h: null } }, upsert: true } });
        }
      }
      if (entries.length > 0) await store.outbox.insertMany(entries, { session });
      if (versionOps.length > 0) await store.versions.bulkWrite(versionOps as never[], { session, ordered: true });
      await store.saveCheckpoint(
        { _id: 'capture', token: lastToken, seq, clock: encodeVersion(tentative.last), engineTxns: [...this.#engineTxns], at: now },
        session,
      );
      written = entries;
    }).finally(ended);
    // Invariant: in-memory state moves only after the transaction committed.
    this.#seq = seq;
    this.#lastToken = lastToken;
    this.#lastCheckpointAt = Date.now();
    this.#d.clock.advance(tentative.last);
    for (const coll of newCollections) await store.enableImages(coll);
    this.#d.onCommitted(
      written.length,
      written.map((e) => e.wall),
    );
    if (invalidated) throw new Invalidated();
  }
}

/** The top-level fields an update event changed (set, removed or truncated). */
function changedFields(ev: ChangeEvent): string[] | null {
  const desc = (
    ev as { updateDescription?: { updatedFields?: Document; removedFields?: string[]; truncatedArrays?: Array<{ field: string }> } }
  ).updateDescription;
  if (!desc) return null;
  const names = new Set<string>();
  for (const path of Object.keys(desc.updatedFields ?? {})) names.add(path.split('.')[0] as string);
  for (const path of desc.removedFields ?? []) names.add(path.split('.')[0] as string);
  for (const t of desc.truncatedArrays ?? []) names.add(t.field.split('.')[0] as string);
  return [...names];
}

/** The POS database was dropped: the stream ends and reopens after the invalidate. */
class Invalidated extends Error {
  constructor() {
    super('capture stream invalidated');
  }
}
