/**
 * A hub and several tills held in memory, whose engines run the sync flows
 * step by step: capture, push, the push's settle, pull (with stamps), and
 * reconciliation. Every decision is the real core's (`src-main/sync/core`),
 * called the way the flows call it; only the I/O is replaced by maps and
 * in-memory change logs, so the model test reaches any interleaving of the
 * steps — and restarts that lose an engine's memory, lost history, clock skew —
 * in microseconds.
 *
 * What is modelled as in the real system:
 * - each step is one transaction (atomic); a push's hub transaction and its
 *   local settle are separate steps, so anything can happen in between;
 * - change logs carry raw events as MongoDB sends them (lsid, txnNumber,
 *   wallTime, clusterTime; `updateLookup` reads the hub document at read time);
 * - the engine's own writes on a till carry the apply marker first and its
 *   own session; a restart gets new sessions, so only markers tell its old
 *   writes apart;
 * - checkpoints are written with the writes they cover; an engine-only batch
 *   moves the checkpoint only now and then (or not at all before a restart).
 */
import { decodeHubChange, decodeTillChange, type RawEvent } from '../../src-main/sync/core/change.ts';
import { engineOnly, needsCurrent, planCapture, planFound } from '../../src-main/sync/core/capture-plan.ts';
import { HybridClock, encodeVersion, decodeVersion, maxVersion } from '../../src-main/sync/core/hlc.ts';
import { withoutSync } from '../../src-main/sync/core/hub-versions.ts';
import { APPLY_MARKER, PUSH_MARKER, SYNC_FIELD, TOMBSTONES, pushMarkerId } from '../../src-main/sync/core/names.ts';
import { PolicyTable } from '../../src-main/sync/core/policy.ts';
import { planPull, type PullTxnKind } from '../../src-main/sync/core/pull-plan.ts';
import { collapseBatch, decidePush, pushMarker, takeBatch, type HubWrite } from '../../src-main/sync/core/push-decision.ts';
import { decideSettle, settleTargets, type SettleTarget } from '../../src-main/sync/core/settle-decision.ts';
import { decideTillApply, deleteStillCurrent, hubMovedOn } from '../../src-main/sync/core/till-apply.ts';
import { TxnMemory } from '../../src-main/sync/core/txn-memory.ts';
import { PUSH_IN_FLIGHT } from '../../src-main/sync/own-sessions.ts';
import type {
  Codec,
  ConflictDraft,
  Document,
  HubOp,
  HubVersion,
  Known,
  OutboxEntry,
  QuarantineDraft,
  TillWrite,
} from '../../src-main/sync/core/types.ts';
import { reconcileTill } from './reconcile-model.ts';

export const T0 = 1_700_000_000_000;
const MAX_DRIFT_MS = 5 * 60_000;
/** A push waits this many times for HQ's change to be stamped, then counts it as made now. */
const STAMP_WAITS = 3;

/** Model ids are strings; hashes are the JSON of the content (key order matters, as in BSON). */
export const codec: Codec = {
  idKey: (id) => `s${String(id)}`,
  hash: (doc) => JSON.stringify(withoutSync(doc)),
  size: (doc) => JSON.stringify(doc).length,
};

export const POLICIES = new PolicyTable({
  menu: { mode: 'both', conflict: 'document' },
  orders: { mode: 'both', conflict: 'document' },
  recipes: { mode: 'both', conflict: 'field' },
  notes: { mode: 'both', conflict: 'document' },
  prices: { mode: 'pull-only' },
  drawer: { mode: 'local-only' },
});

export const keyOf = (c: string, id: unknown): string => `${c}\u0000${String(id)}`;

function lsid(hex: string): { id: { toString(): string } } {
  return { id: { toString: () => hex } };
}

function hexOf(event: RawEvent): string | undefined {
  return (event.lsid as { id?: { toString(): string } } | undefined)?.id?.toString();
}

/** What the hub saw engines write: for the checks. */
export interface Arrival {
  device: string;
  kind: 'put' | 'tombstone' | 'stamp';
  c: string;
  id: string;
  v: string;
  doc: Document | null;
  step: number;
  /** A push: the version its till held before the write (its base), when known. */
  base?: string | null;
  /** The hub's version this push overwrote, if any, and who wrote it (`hub`: a stamp of HQ's write). */
  over?: string;
  overBy?: string;
}

export class World {
  now = T0;
  step = 0;
  readonly hub = new MemHub(this);
  readonly tills: MemTill[];
  readonly arrivals: Arrival[] = [];
  /** Versions going backwards on the hub, found as they happen. */
  readonly regressions: string[] = [];
  #sessions = 0;

  constructor(tills: number) {
    this.tills = Array.from({ length: tills }, (_, i) => new MemTill(this, `till-${String.fromCharCode(97 + i)}`));
  }

  newSession(): string {
    this.#sessions += 1;
    return this.#sessions.toString(16).padStart(8, '0');
  }

  /** An engine wrote `v` to a hub document: it must be newer than every version engines wrote there before. */
  observe(a: Arrival, previous: string | undefined): void {
    this.arrivals.push(a);
    if (previous !== undefined && a.v <= previous)
      this.regressions.push(`${a.c} ${a.id}: ${a.device} wrote ${a.kind} ${a.v} over ${previous}`);
  }
}

interface HubEntry {
  raw: RawEvent;
  /** An update: its full document is read at read time (updateLookup). */
  lookup?: string;
}

export class MemHub {
  readonly docs = new Map<string, Document>();
  readonly tombs = new Map<string, HubVersion & { c: string; id: string }>();
  readonly log: HubEntry[] = [];
  /** Events before this index are lost (oplog rolled over). */
  firstKept = 0;
  /** The newest version engines wrote to each document (put, tombstone, stamp). */
  readonly written = new Map<string, string>();
  /** Who wrote each `written` version (a device, or `hub` for a stamp). */
  readonly writtenBy = new Map<string, string>();
  /** Each device's push marker: the last outbox sequence number it pushed. */
  readonly pushed = new Map<string, number>();
  #inc = 0;
  readonly #world: World;

  constructor(world: World) {
    this.#world = world;
  }

  emit(raw: RawEvent, lookup?: string): void {
    this.#inc += 1;
    raw._id = { pos: this.log.length };
    raw.clusterTime = { low: this.#inc };
    raw.wallTime = new Date(this.#world.now);
    this.log.push(lookup ? { raw, lookup } : { raw });
  }

  /** Events from `from`, at most `max`; 'lost' when history before `from` is gone. */
  read(from: number, max: number): RawEvent[] | 'lost' {
    if (from < this.firstKept) return 'lost';
    return this.log.slice(from, from + max).map((e) => {
      if (!e.lookup) return e.raw;
      const doc = this.docs.get(e.lookup);
      return { ...e.raw, fullDocument: doc ? structuredClone(doc) : null };
    });
  }

  collections(): string[] {
    return [...new Set([...this.docs.keys()].map((k) => k.split('\u0000')[0] as string))];
  }

  /** HQ's back-office writes (no sync metadata; an update keeps a `_sync` that no longer matches). */
  hqWrite(c: string, id: string, kind: 'put' | 'update' | 'delete', w: string): void {
    const key = keyOf(c, id);
    // HQ's write carries no version: what engines wrote before it says nothing of what comes after.
    this.written.delete(key);
    this.writtenBy.delete(key);
    const before = this.docs.get(key);
    const base = { ns: { coll: c }, documentKey: { _id: id } };
    if (kind === 'delete') {
      if (!before) return;
      this.docs.delete(key);
      this.emit({ ...base, operationType: 'delete' });
    } else if (kind === 'update' && before) {
      this.docs.set(key, { ...before, w, [fieldFor(w)]: w });
      this.emit({ ...base, operationType: 'update', updateDescription: { updatedFields: { w } } }, key);
    } else {
      const doc = { _id: id, w, [fieldFor(w)]: w };
      this.docs.set(key, doc);
      this.emit({ ...base, operationType: before ? 'replace' : 'insert', fullDocument: structuredClone(doc) });
    }
  }
}

/** Every write sets `w` (its write id) and one of a, b, c, chosen by the write's number (`writer:n`). */
export function fieldFor(w: string): string {
  return ['a', 'b', 'c'][Number(w.split(':')[1] ?? 0) % 3] as string;
}

interface CaptureCheckpoint {
  pos: number;
  seq: number;
  clock?: string;
  engineTxns: string[];
}

interface PullCheckpoint {
  pos: number;
  clock?: string;
  groups: Array<[string, PullTxnKind]>;
}

interface PendingSettle {
  lastSeq: number;
  accepted: OutboxEntry[];
  targets: SettleTarget[];
  drafts: ConflictDraft[];
}

/** A push batch read from the outbox, on its way to the hub (`settle` once the hub committed it). */
interface Flight {
  seqs: number[];
  first: number;
  last: number;
  batch: OutboxEntry[];
  settle?: PendingSettle;
}

/** An engine process on a till: everything here is lost on a restart. */
interface Process {
  sessions: Set<string>;
  /** The till session for its applies and settles; the hub sessions for its pushes and stamps. */
  tillSession: string;
  hubSession: string;
  txn: number;
  engineTxns: TxnMemory;
  groups: TxnMemory<PullTxnKind>;
  seq: number;
  clock: HybridClock;
  captureRead: number;
  pullRead: number;
  /** Push batches on their way, in the order they were read (at most PUSH_IN_FLIGHT). */
  flights: Flight[];
  /** The push's read position: entries after this sequence number are read next. */
  after: number;
  /** The push stopped reading (a batch failed, or a read found nothing) until its batches have landed. */
  stopReading: boolean;
  stampWaits: number;
  reconcileNeeded: boolean;
  /** Stamp transactions on their way to the hub (the Stamper's), landed by a later step or lost with the process. */
  stamps: HubOp[][];
}

export class MemTill {
  readonly name: string;
  readonly world: World;
  readonly docs = new Map<string, Document>();
  readonly known = new Map<string, Known>();
  readonly outbox = new Map<number, OutboxEntry>();
  readonly conflicts: ConflictDraft[] = [];
  readonly quarantine: QuarantineDraft[] = [];
  readonly log: RawEvent[] = [];
  firstKept = 0;
  captureCp: CaptureCheckpoint;
  pullCp: PullCheckpoint | null = null;
  /** This machine's clock minus true time, and what the engine believes hub time minus this clock is. */
  skew = 0;
  measured = 0;
  /** Hub versions were refused as too far ahead: the engine reconciles again until none is. */
  aheadPending = false;
  /** Ranges of the till's log capture never read: lost, then capture restarted from the end. */
  readonly skipped: Array<[number, number]> = [];
  /** Kept with the pull checkpoint: a reconciliation is owed (capture lost its history); a fresh mark each time. */
  owed: number | undefined;
  #marks = 0;
  proc: Process;

  constructor(world: World, name: string) {
    this.world = world;
    this.name = name;
    this.captureCp = { pos: 0, seq: 0, engineTxns: [] };
    this.proc = this.#newProcess();
  }

  /** Hub time as this engine knows it. */
  hubNow(): number {
    return this.world.now + this.skew + this.measured;
  }

  #newProcess(): Process {
    const clocks = [this.captureCp.clock, this.pullCp?.clock].filter((c): c is string => c !== undefined).map(decodeVersion);
    const last = clocks.reduce<ReturnType<typeof decodeVersion> | undefined>((a, b) => (a ? maxVersion(a, b) : b), undefined);
    const tillSession = this.world.newSession();
    const hubSession = this.world.newSession();
    return {
      sessions: new Set([tillSession, hubSession]),
      tillSession,
      hubSession,
      txn: 0,
      engineTxns: new TxnMemory(this.captureCp.engineTxns.map((k) => [k, 'engine'] as const)),
      groups: new TxnMemory(this.pullCp?.groups ?? []),
      seq: this.captureCp.seq,
      clock: new HybridClock(this.name, {
        now: () => this.hubNow(),
        maxDriftMs: MAX_DRIFT_MS,
        ...(last ? { last: { ...last, device: this.name } } : {}),
      }),
      captureRead: this.captureCp.pos,
      pullRead: this.pullCp?.pos ?? 0,
      flights: [],
      after: 0,
      stopReading: false,
      stampWaits: 0,
      reconcileNeeded: this.owed !== undefined,
      stamps: [],
    };
  }

  restart(): void {
    this.proc = this.#newProcess();
  }

  #emitLocal(raw: RawEvent): void {
    raw._id = { pos: this.log.length };
    raw.wallTime = new Date(this.world.now + this.skew);
    this.log.push(raw);
  }

  /** The POS software writes (in a transaction of its own when `txn`). */
  posWrite(c: string, id: string, kind: 'put' | 'update' | 'delete', w: string, txn: boolean): void {
    const key = keyOf(c, id);
    const before = this.docs.get(key);
    const base = { ns: { coll: c }, documentKey: { _id: id }, ...(txn ? { lsid: lsid(this.world.newSession()), txnNumber: 1 } : {}) };
    if (kind === 'delete') {
      if (!before) return;
      this.docs.delete(key);
      this.#emitLocal({ ...base, operationType: 'delete' });
    } else if (kind === 'update' && before) {
      const field = fieldFor(w);
      const doc = { ...before, w, [field]: w };
      this.docs.set(key, doc);
      this.#emitLocal({
        ...base,
        operationType: 'update',
        fullDocument: structuredClone(doc),
        updateDescription: { updatedFields: { w, [field]: w } },
      });
    } else {
      const doc = { _id: id, w, [fieldFor(w)]: w };
      this.docs.set(key, doc);
      this.#emitLocal({ ...base, operationType: before ? 'replace' : 'insert', fullDocument: structuredClone(doc) });
    }
  }

  /** An engine transaction on the till: marker first, then the documents, all in the engine's session. */
  #engineApply(marker: string, writes: readonly TillWrite[], always: boolean): void {
    if (writes.length === 0 && !always) return;
    const p = this.proc;
    p.txn += 1;
    const txn = { lsid: lsid(p.tillSession), txnNumber: p.txn };
    this.#emitLocal({ ...txn, operationType: 'update', ns: { coll: APPLY_MARKER }, documentKey: { _id: marker } });
    for (const w of writes) {
      const key = keyOf(w.c, w.id);
      const base = { ...txn, ns: { coll: w.c }, documentKey: { _id: w.id } };
      if (w.doc) {
        this.#emitLocal({ ...base, operationType: this.docs.has(key) ? 'replace' : 'insert', fullDocument: structuredClone(w.doc) });
        this.docs.set(key, structuredClone(w.doc));
      } else if (this.docs.delete(key)) this.#emitLocal({ ...base, operationType: 'delete' });
      this.known.set(key, w.known);
    }
  }

  /** Capture: up to `max` events into the outbox. */
  capture(max: number, checkpointIdle: boolean): void {
    const p = this.proc;
    if (p.captureRead < this.firstKept) {
      // History lost: capture from now; reconciliation finds what the gap held (owed first, so a restart keeps it).
      this.skipped.push([p.captureRead, this.log.length]);
      this.owed = this.#marks += 1;
      this.captureCp = {
        pos: this.log.length,
        seq: p.seq,
        clock: encodeVersion(p.clock.last),
        engineTxns: p.engineTxns.entries().map(([k]) => k),
      };
      p.captureRead = this.log.length;
      p.reconcileNeeded = true;
      return;
    }
    const events = this.log.slice(p.captureRead, p.captureRead + max);
    if (events.length === 0) return;
    const changes = events.map((ev) => decodeTillChange(ev, (e) => p.sessions.has(hexOf(e) ?? '')));
    const pos = p.captureRead + events.length;
    if (engineOnly(changes, p.engineTxns)) {
      p.captureRead = pos;
      if (checkpointIdle) this.captureCp = { ...this.captureCp, pos, engineTxns: p.engineTxns.entries().map(([k]) => k) };
      return;
    }
    const tentative = p.clock.fork();
    const txns = p.engineTxns.copy();
    const latest = this.hubNow() + 2_000;
    // As the engine reads them: the documents now only where capture compares them.
    const read = new Set(needsCurrent(changes, (c, id) => this.known.has(keyOf(c, id)), codec).map((d) => keyOf(d.c, d.id)));
    const plan = planCapture(changes, {
      engineTxns: txns,
      known: (c, id) => this.known.get(keyOf(c, id)) ?? null,
      current: (c, id) => {
        if (!read.has(keyOf(c, id))) throw new Error(`capture compared ${c} ${String(id)}, which needsCurrent did not pick`);
        return this.docs.get(keyOf(c, id)) ?? null;
      },
      clock: tentative,
      policies: POLICIES,
      hubTime: (wall) => new Date(Math.min((wall ?? new Date(this.world.now + this.skew)).getTime() + this.measured, latest)),
      codec,
      lastSeq: p.seq,
      now: new Date(this.world.now),
      device: this.name,
    });
    for (const e of plan.entries) this.outbox.set(e._id, structuredClone(e));
    for (const r of plan.known) this.known.set(keyOf(r.c, r.id), r.known);
    this.conflicts.push(...plan.conflicts);
    this.quarantine.push(...plan.setAside);
    this.captureCp = { pos, seq: plan.lastSeq, clock: encodeVersion(tentative.last), engineTxns: txns.entries().map(([k]) => k) };
    p.seq = plan.lastSeq;
    p.engineTxns.adopt(txns);
    p.captureRead = pos;
    p.clock.advance(tentative.last);
  }

  /**
   * The push reads its next batch (up to `max` entries after the last it read), as `flows/push.ts`
   * does: at most PUSH_IN_FLIGHT batches on their way, and a batch stops before a change whose
   * document is still on its way. The hub transaction (`commit`) and the settle are steps of their own.
   */
  push(max: number): void {
    const p = this.proc;
    if (p.stopReading && p.flights.length === 0) {
      p.stopReading = false;
      p.after = 0;
    }
    if (p.stopReading || p.flights.length >= PUSH_IN_FLIGHT) return;
    const busy = new Set(p.flights.flatMap((f) => f.batch.map((e) => keyOf(e.c, e.id))));
    const read = [...this.outbox.values()]
      .filter((e) => e._id > p.after)
      .sort((a, b) => a._id - b._id)
      .slice(0, max);
    const take = takeBatch(read, (e) => busy.has(keyOf(e.c, e.id))).map((e) => structuredClone(e));
    if (take.length === 0) {
      if (read.length === 0) p.stopReading = true;
      return;
    }
    p.after = take[take.length - 1]!._id;
    p.flights.push({ seqs: take.map((e) => e._id), first: take[0]!._id, last: p.after, batch: take });
  }

  /** The hub transaction of one batch on its way (`pick` chooses among those not committed yet). */
  commit(pick: number): void {
    const p = this.proc;
    const open = p.flights.filter((f) => !f.settle);
    const flight = open[pick % Math.max(1, open.length)];
    if (!flight) return;
    const hub = this.world.hub;
    const lastSeq = flight.last;
    const mayAwaitStamp = p.stampWaits < STAMP_WAITS;
    const outcome = collapseBatch(flight.batch, codec).map((change) => {
      const key = keyOf(change.entry.c, change.entry.id);
      const decision = decidePush({
        change,
        hubDoc: structuredClone(hub.docs.get(key) ?? null),
        tombstone: hub.docs.has(key) ? null : (hub.tombs.get(key) ?? null),
        device: this.name,
        byFields: POLICIES.policyFor(change.entry.c).conflict === 'field',
        mayAwaitStamp,
        now: this.hubNow(),
        codec,
      });
      return { change, decision };
    });
    if (outcome.some((o) => o.decision.kind === 'await-stamp')) {
      // The batch fails: the push reads nothing more until the others have landed, then starts over.
      p.stampWaits += 1;
      p.flights = p.flights.filter((f) => f !== flight);
      p.stopReading = true;
      return;
    }
    p.stampWaits = 0;
    p.txn += 1;
    const txn = { lsid: lsid(p.hubSession), txnNumber: p.txn };
    hub.emit({ ...txn, operationType: 'update', ns: { coll: PUSH_MARKER }, documentKey: { _id: pushMarkerId(this.name, p.txn % 3) } });
    hub.pushed.set(
      this.name,
      pushMarker(
        p.flights.map((f) => ({ first: f.first, last: f.last, committed: f.settle !== undefined })),
        { first: flight.first, last: flight.last, committed: false },
      ),
    );
    const pending: PendingSettle = { lastSeq, accepted: [], targets: [], drafts: [] };
    const others: ConflictDraft[] = [];
    for (const { change, decision } of outcome) {
      const e = change.entry;
      if (decision.kind === 'write') {
        this.#hubWrite(decision.write, txn, change.base);
        pending.accepted.push(e);
      }
      if (decision.kind === 'refuse' && decision.stamp) this.#stampOne(e.c, String(e.id), decision.stamp, txn);
      if (decision.kind !== 'write' && decision.kind !== 'refuse') continue;
      if (decision.tillTakes)
        pending.targets.push({ c: e.c, id: e.id, v: decision.tillTakes.v, doc: decision.tillTakes.doc, pushedV: e.v });
      if (decision.conflict) (decision.kind === 'write' && !decision.tillTakes ? pending.drafts : others).push(decision.conflict);
    }
    pending.drafts.push(...others);
    flight.settle = pending;
  }

  /** Reads, commits and settles every batch there is (used while healing). */
  pushAll(max: number): void {
    for (let i = 0; i < 100 && (this.outbox.size > 0 || this.proc.flights.length > 0); i += 1) {
      this.push(max);
      while (this.proc.flights.some((f) => !f.settle)) {
        const before = this.proc.flights.length;
        this.commit(0);
        if (this.proc.flights.length < before) break; // waiting for a stamp
      }
      while (this.proc.flights.some((f) => f.settle)) this.settle(0);
    }
  }

  #hubWrite(w: HubWrite, txn: RawEvent, pushedFrom: string | null | undefined): void {
    const hub = this.world.hub;
    const key = keyOf(w.c, w.id);
    const base = { ...txn, ns: { coll: w.c }, documentKey: { _id: w.id } };
    const tombBase = { ...txn, ns: { coll: TOMBSTONES }, documentKey: { _id: { c: w.c, id: w.id } } };
    const step = this.world.step;
    if (w.op === 'put') {
      const doc = structuredClone(w.doc);
      hub.emit({ ...base, operationType: hub.docs.has(key) ? 'replace' : 'insert', fullDocument: structuredClone(doc) });
      hub.docs.set(key, doc);
      const v = (doc[SYNC_FIELD] as { v: string }).v;
      this.world.observe(
        {
          device: this.name,
          kind: 'put',
          c: w.c,
          id: String(w.id),
          v,
          doc: withoutSync(doc),
          step,
          base: pushedFrom,
          over: hub.written.get(key),
          overBy: hub.writtenBy.get(key),
        },
        hub.written.get(key),
      );
      hub.written.set(key, v);
      hub.writtenBy.set(key, this.name);
      if (w.dropTombstone && hub.tombs.delete(key)) hub.emit({ ...tombBase, operationType: 'delete' });
    } else {
      if (hub.docs.delete(key)) hub.emit({ ...base, operationType: 'delete' });
      const tomb = { c: w.c, id: String(w.id), ...w.tombstone };
      hub.emit({
        ...tombBase,
        operationType: hub.tombs.has(key) ? 'replace' : 'insert',
        fullDocument: { _id: { c: w.c, id: w.id }, ...w.tombstone },
      });
      hub.tombs.set(key, tomb);
      this.world.observe(
        {
          device: this.name,
          kind: 'tombstone',
          c: w.c,
          id: String(w.id),
          v: w.tombstone.v,
          doc: null,
          step,
          base: pushedFrom,
          over: hub.written.get(key),
          overBy: hub.writtenBy.get(key),
        },
        hub.written.get(key),
      );
      hub.written.set(key, w.tombstone.v);
      hub.writtenBy.set(key, this.name);
    }
  }

  /** A push's local settle (`pick` chooses among the committed batches): the batch leaves the outbox; the till takes what the hub kept where it differs. */
  settle(pick = 0): void {
    const p = this.proc;
    const committed = p.flights.filter((f) => f.settle);
    const flight = committed[pick % Math.max(1, committed.length)];
    if (!flight) return;
    const s = flight.settle as PendingSettle;
    p.flights = p.flights.filter((f) => f !== flight);
    const seqs = new Set(flight.seqs);
    const noted = [...this.outbox.values()].filter((e) => seqs.has(e._id) && e.hub).map((e) => ({ c: e.c, id: e.id, v: e.v, hub: e.hub! }));
    const writes: TillWrite[] = [];
    for (const t of settleTargets(s.targets, noted, s.accepted, codec)) {
      const key = keyOf(t.c, t.id);
      const changedSince = [...this.outbox.values()].some((e) => e._id > s.lastSeq && keyOf(e.c, e.id) === key);
      const local = this.docs.get(key);
      const decision = decideSettle(t, { changedSince, localHash: local ? codec.hash(local) : null, known: this.known.get(key) ?? null });
      if (decision === 'apply') writes.push({ c: t.c, id: t.id, doc: t.doc, known: { v: t.v, h: t.doc ? codec.hash(t.doc) : null } });
    }
    this.#engineApply('apply', writes, false);
    for (const seq of seqs) this.outbox.delete(seq);
    this.conflicts.push(...s.drafts);
  }

  /** Hub changes to the till; what cannot wait for capture is left for a later step. */
  applyHubOps(ops: readonly HubOp[], captureGaveUp: boolean, marker: string): { applied: HubOp[]; newerHere: HubOp[]; blocked: boolean } {
    const writes: TillWrite[] = [];
    const applied: HubOp[] = [];
    const newerHere: HubOp[] = [];
    const notes: Array<{ seq: number; hub: OutboxEntry['hub'] }> = [];
    const drafts: ConflictDraft[] = [];
    for (const op of ops) {
      const key = keyOf(op.c, op.id);
      const waiting = [...this.outbox.values()]
        .filter((e) => keyOf(e.c, e.id) === key)
        .reduce<number | undefined>((m, e) => Math.max(m ?? 0, e._id), undefined);
      const decision = decideTillApply(
        op,
        { waiting, local: this.docs.get(key) ?? null, known: this.known.get(key) ?? null },
        { pullOnly: POLICIES.policyFor(op.c).mode === 'pull-only', captureGaveUp, device: this.name, codec },
      );
      if (decision.kind === 'wait-for-capture') return { applied: [], newerHere: [], blocked: true };
      if (decision.kind === 'leave-to-push') notes.push({ seq: decision.seq, hub: decision.note });
      if (decision.kind === 'newer-here') newerHere.push(op);
      if (decision.kind !== 'apply') continue;
      writes.push(decision.write);
      applied.push(op);
      if (decision.conflict) drafts.push(decision.conflict);
    }
    this.#engineApply(marker, writes, true);
    for (const n of notes) {
      const e = this.outbox.get(n.seq);
      if (e && (!e.hub || e.hub.v < n.hub!.v)) e.hub = structuredClone(n.hub);
    }
    this.conflicts.push(...drafts);
    return { applied, newerHere, blocked: false };
  }

  /** Pull: up to `max` hub events applied, then HQ's unversioned changes stamped (unless the stamp fails). */
  pull(max: number, stampFails: boolean, captureStalled = false): void {
    const p = this.proc;
    if (!this.pullCp || p.reconcileNeeded) {
      reconcileTill(this);
      return;
    }
    const events = this.world.hub.read(p.pullRead, max);
    if (events === 'lost') {
      p.reconcileNeeded = true;
      return;
    }
    if (events.length === 0) return;
    const changes = events.map((ev) => decodeHubChange(ev, (e) => p.sessions.has(hexOf(e) ?? '')));
    const pos = p.pullRead + events.length;
    const tentative = p.clock.fork();
    const groups = p.groups.copy();
    const plan = planPull(changes, {
      groups,
      device: this.name,
      policies: POLICIES,
      clock: tentative,
      codec,
      now: new Date(this.world.now),
    });
    if (plan.ops.length === 0 && plan.quarantined.length === 0) {
      p.groups.adopt(groups);
      p.pullRead = pos;
      return;
    }
    const ops = plan.ops.map((op) =>
      op.unrecorded
        ? deleteStillCurrent(op, { doc: structuredClone(this.world.hub.docs.get(keyOf(op.c, op.id)) ?? null) }, this.hubNow(), codec)
        : op,
    );
    const outcome = this.applyHubOps(ops, captureStalled, 'apply');
    if (outcome.blocked) return;
    this.quarantine.push(...plan.quarantined);
    if (plan.quarantined.some((q) => q.kind === 'clock-drift')) this.aheadPending = true;
    this.pullCp = { pos, clock: encodeVersion(tentative.last), groups: groups.entries() };
    p.groups.adopt(groups);
    p.pullRead = pos;
    p.clock.advance(tentative.last);
    if (!stampFails) this.stamp(ops.filter((op) => op.stamp && !outcome.newerHere.includes(op)));
    this.#checkWithHub(outcome.newerHere);
  }

  /** As the pull flow does: a till version the hub no longer holds gives way to what the hub holds (`hubMovedOn`). */
  #checkWithHub(ops: readonly HubOp[]): void {
    const hub = this.world.hub;
    const repairs: HubOp[] = [];
    for (const op of ops) {
      const key = keyOf(op.c, op.id);
      const known = this.known.get(key);
      if (!known) continue;
      const hubSide = {
        doc: structuredClone(hub.docs.get(key) ?? null),
        tombstone: hub.docs.has(key) ? null : (hub.tombs.get(key) ?? null),
      };
      const repair = hubMovedOn(op.c, op.id, hubSide, { local: this.docs.get(key) ?? null, known }, this.hubNow(), codec);
      if (repair) repairs.push(repair);
    }
    if (repairs.length === 0 || this.applyHubOps(repairs, false, 'apply').blocked) return;
    this.stamp(repairs.filter((op) => op.stamp));
  }

  /** Sends HQ's changes' versions to the hub, as the Stamper does: they land at a later step (`landStamps`), or never. */
  stamp(ops: readonly HubOp[]): void {
    if (ops.length > 0) this.proc.stamps.push([...ops]);
  }

  /** One stamp transaction on its way (`pick`, of those there are) lands on the hub. */
  landStamps(pick: number): void {
    const p = this.proc;
    if (p.stamps.length === 0) return;
    const [ops] = p.stamps.splice(pick % p.stamps.length, 1) as [HubOp[]];
    const hub = this.world.hub;
    p.txn += 1;
    const txn = { lsid: lsid(p.hubSession), txnNumber: p.txn };
    hub.emit({ ...txn, operationType: 'update', ns: { coll: PUSH_MARKER }, documentKey: { _id: pushMarkerId(this.name, p.txn % 3) } });
    for (const op of ops) if (op.stamp) this.#stampOne(op.c, String(op.id), { v: op.v, h: op.h as string, over: op.stamp.over }, txn);
  }

  /**
   * One stamp, as the hub's conditional update writes it: only over the version it was read with, or an
   * older one for the same content. A stamp that would overwrite a version written for the document's content (a push,
   * or a stamp) with one made for other content is a violation: that version is lost.
   */
  #stampOne(c: string, id: string, stamp: { v: string; h: string; over: string | null }, txn: RawEvent): void {
    const { v, h } = stamp;
    const hub = this.world.hub;
    const key = keyOf(c, id);
    const doc = hub.docs.get(key);
    const meta = doc?.[SYNC_FIELD] as { v?: string; h?: string } | undefined;
    const current = meta?.v;
    const lands = current === undefined ? stamp.over === null : current < v && (current === stamp.over || meta?.h === h);
    if (!doc || !lands) return;
    const content = codec.hash(withoutSync(doc));
    if (meta?.h === content && h !== content)
      this.world.regressions.push(`${c} ${id}: ${this.name} stamped ${v} for other content over ${current}, written for this content`);
    hub.docs.set(key, { ...doc, [SYNC_FIELD]: { v, o: 'hub', h } });
    hub.emit({ ...txn, operationType: 'update', ns: { coll: c }, documentKey: { _id: id } }, key);
    if (h !== content) {
      // Made for content HQ has changed since (harmless): every engine reads the document as unstamped.
      hub.written.delete(key);
      hub.writtenBy.delete(key);
      return;
    }
    // A stamp is a version written by an engine too: it must move forward like any other.
    this.world.observe({ device: this.name, kind: 'stamp', c, id, v, doc: null, step: this.world.step }, hub.written.get(key));
    hub.written.set(key, v);
    hub.writtenBy.set(key, 'hub');
  }

  /** Reconciliation's found changes, queued like captured ones (in one transaction with the sequence). */
  enqueue(found: Parameters<typeof planFound>[0]): void {
    const p = this.proc;
    const plan = planFound(found, {
      freshVersion: () => encodeVersion(p.clock.tick()),
      knownNow: (c, id) => this.known.get(keyOf(c, id))?.v ?? null,
      docNow: (c, id) => this.docs.get(keyOf(c, id)) ?? null,
      codec,
      lastSeq: p.seq,
      now: new Date(this.world.now),
    });
    for (const e of plan.entries) this.outbox.set(e._id, structuredClone(e));
    for (const r of plan.known) this.known.set(keyOf(r.c, r.id), r.known);
    this.captureCp = { ...this.captureCp, seq: plan.lastSeq, clock: encodeVersion(p.clock.last) };
    p.seq = plan.lastSeq;
  }

  /** After reconciling: the pull starts from the position taken before the scan. */
  reconciled(startAt: number, aheadRefused: number, owed: number | undefined): void {
    const p = this.proc;
    if (this.owed === owed) this.owed = undefined;
    this.pullCp = { pos: startAt, clock: encodeVersion(p.clock.last), groups: [] };
    p.groups.clear();
    p.pullRead = startAt;
    p.reconcileNeeded = false;
    if (aheadRefused === 0) this.aheadPending = false;
  }
}
