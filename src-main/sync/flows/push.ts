/**
 * Push: drain the outbox in order, in batches. Each batch goes to the hub in
 * one transaction (`Hub.push`), each document decided by
 * `core/push-decision.ts`: only a newer version is written, stamped with the
 * origin device and version. Then, in one local transaction, the batch leaves
 * the outbox and the till takes what the hub kept where it differs
 * (`push-settle.ts`, deciding by `core/settle-decision.ts`). Replaying a batch changes nothing: its versions
 * are already there.
 */
import { collapseBatch, decidePush, pushMarker, takeBatch, type Collapsed, type Flight, type PushDecision } from '../core/push-decision.ts';
import type { PolicyTable } from '../core/policy.ts';
import type { SettleTarget } from '../core/settle-decision.ts';
import type { ConflictDraft, DocumentId, OutboxEntry, QuarantineDraft } from '../core/types.ts';
import { DocumentRefused } from '../refused.ts';
import { KEPT_DOCUMENT_BYTES } from './apply-hub-ops.ts';
import { settlePushed, type SettleDeps } from './push-settle.ts';
import { bsonCodec, docKey, idKey } from '../documents.ts';
import { AwaitingStamp, type Hub } from '../hub/hub.ts';
import { PUSH_IN_FLIGHT } from '../own-sessions.ts';
import type { Logger } from '../log.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';

/** How long, at most, a push waits for HQ's change to a document to be stamped with its version. */
const STAMP_WAITS = 25;
const STAMP_WAIT_MS = 200;
/**
 * The push runs when woken (capture committed changes, the hub came back, a retry is due); it also
 * looks at the outbox this often in case a wake was missed. At rest, that is all it asks of the till.
 */
const SAFETY_LOOK_MS = 30_000;

export interface PushDeps extends SettleDeps {
  deviceId: string;
  policies: () => PolicyTable;
  log: Logger;
  batchSize: number;
  /** The hub, while sync is enabled and connected. */
  hub(): Hub | undefined;
  /** A batch settled: the changes the hub took, and how many entries left the outbox. */
  onPushed(accepted: OutboxEntry[], settled: number): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  /** Changes set aside: the hub refused them for good, or they are too large to sync. */
  onQuarantined(records: QuarantineRecord[]): void;
  onError(err: unknown): void;
  onIdle(): void;
  delay(attempt: number): Promise<void>;
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

  /** Resolves on the next wake, or at once when one came since the last read of the outbox. */
  #nextWake(): Promise<void> {
    if (this.#pending) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
    });
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
      await this.#sleep(SAFETY_LOOK_MS);
      this.#pending = false;
      const hub = this.#d.hub();
      if (!hub || !this.#running) continue;
      try {
        if (!(await this.#drain(hub))) {
          // A document the hub refused for good was set aside: the rest goes at once, without it.
          this.#pending = true;
          continue;
        }
        attempt = 0;
        this.#stampWaits = 0;
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

  /**
   * Pushes what the outbox holds, up to `PUSH_IN_FLIGHT` batches on their way to the hub at once (each in
   * a transaction of its own), until a read finds no more with none on its way. A change captured while
   * batches are on their way goes at once in a batch of its own when there is room, without waiting for
   * them to land: over a slow link a push takes several round trips, and waiting for the last one to
   * land before sending the next cost a new order half a push on average. Batches are read in sequence order and a
   * document's changes are never in two batches on their way together: a batch stops before a change
   * whose document is still on its way, which waits for it to land. Returns false when a batch set a
   * document aside (its other entries are read again); throws the first failure once every batch has
   * landed.
   */
  async #drain(hub: Hub): Promise<boolean> {
    const { store, batchSize, outboxWatch } = this.#d;
    const flights = new Set<Promise<void>>();
    /** Documents with a change on its way, by `c\0idKey`. */
    const busy = new Set<string>();
    /** Batches begun, oldest first, until the hub committed them (what the push marker may claim). */
    const open: Flight[] = [];
    let failure: { err: unknown } | undefined;
    let setAside = false;
    let after = 0;
    let drainedMark: number | undefined;
    let emptied = false;
    while (!failure && !setAside && this.#running) {
      if (flights.size >= PUSH_IN_FLIGHT) {
        await Promise.race(flights);
        continue;
      }
      this.#pending = false; // a wake from now on means changes this read may not see
      const mark = outboxWatch.beforeRead();
      const read = await store.outbox.readBatch(batchSize, after);
      const take = takeBatch(read, (e) => busy.has(docKey(e.c, e.id)));
      if (take.length === 0) {
        if (read.length === 0 && flights.size === 0) {
          emptied = true;
          drainedMark = mark;
          break;
        }
        // Nothing to send now (no more yet, or the next change's document is on its way): wait for a batch
        // to land or for new changes, whichever comes first.
        await Promise.race([...flights, this.#nextWake()]);
        continue;
      }
      after = Number(take[take.length - 1]?._id);
      const flight: Flight = { first: Number(take[0]?._id), last: after, committed: false };
      open.push(flight);
      for (const e of take) busy.add(docKey(e.c, e.id));
      const landing = this.#pushBatch(
        hub,
        take,
        () => pushMarker(open, flight),
        () => (flight.committed = true),
      )
        .then(
          (ok) => {
            if (!ok) setAside = true;
          },
          (err: unknown) => {
            failure ??= { err };
          },
        )
        .finally(() => {
          flights.delete(landing);
          // Committed: no later marker waits on it any more. One that failed stays, holding later markers back.
          if (flight.committed) open.splice(open.indexOf(flight), 1);
          for (const e of take) busy.delete(docKey(e.c, e.id));
        });
      flights.add(landing);
    }
    await Promise.all(flights);
    if (failure) throw failure.err;
    if (setAside) return false;
    if (emptied) {
      // Every entry the reads found has been settled and removed.
      outboxWatch.drained(drainedMark);
      this.#d.onIdle();
    } else if (this.#running) this.#pending = true;
    return true;
  }

  /** Pushes and settles a batch; false when the hub refused one document for good (set aside, the rest not sent yet). */
  async #pushBatch(hub: Hub, batch: OutboxEntry[], marker: () => number, committed: () => void): Promise<boolean> {
    const { deviceId } = this.#d;
    const lastSeq = Number(batch[batch.length - 1]?._id);
    const policies = this.#d.policies();
    const mayAwaitStamp = this.#stampWaits < STAMP_WAITS;
    const decide = (
      change: Collapsed,
      hubDoc: Parameters<typeof decidePush>[0]['hubDoc'],
      tombstone: Parameters<typeof decidePush>[0]['tombstone'],
    ): PushDecision =>
      decidePush({
        change,
        hubDoc,
        tombstone,
        device: deviceId,
        byFields: policies.policyFor(change.entry.c).conflict === 'field',
        mayAwaitStamp,
        now: Date.now(),
        codec: bsonCodec,
      });
    let outcome: Awaited<ReturnType<Hub['push']>>;
    try {
      outcome = await hub.push(deviceId, marker, collapseBatch(batch, bsonCodec), decide);
      committed();
    } catch (err) {
      if (!(err instanceof DocumentRefused) || err.side !== 'hub') throw err;
      await this.#setAside(batch, err.c, err.id, err.reason, 'refused');
      return false;
    }
    const accepted: OutboxEntry[] = [];
    const setAside: QuarantineDraft[] = [];
    const targets: SettleTarget[] = [];
    const concurrent: ConflictDraft[] = [];
    const others: ConflictDraft[] = [];
    for (const { change, decision } of outcome) {
      const e = change.entry;
      if (decision.kind === 'write') accepted.push(e);
      if (decision.kind === 'set-aside') setAside.push(setAsideDraft(e, decision.reason, 'too-large'));
      if (decision.kind !== 'write' && decision.kind !== 'refuse') continue;
      if (decision.tillTakes) targets.push({ c: e.c, id: e.id, v: decision.tillTakes.v, doc: decision.tillTakes.doc, pushedV: e.v });
      if (decision.conflict) (decision.kind === 'write' && !decision.tillTakes ? concurrent : others).push(decision.conflict);
    }
    const seqs = batch.map((e) => Number(e._id));
    const { conflicts, quarantined } = await settlePushed(this.#d, seqs, lastSeq, accepted, targets, [...concurrent, ...others], setAside);
    this.#d.onPushed(accepted, batch.length);
    if (conflicts.length > 0) this.#d.onConflicts(conflicts);
    if (quarantined.length > 0) this.#d.onQuarantined(quarantined);
    this.#d.log.debug({ event: 'push.batch-applied', entries: batch.length, accepted: accepted.length, rejected: targets.length, lastSeq });
    return true;
  }

  /**
   * Sets one document's changes in the batch aside (the hub refused it for good): recorded with the
   * reason, and out of the outbox, in one local transaction. Its later changes are pushed as usual.
   */
  async #setAside(batch: OutboxEntry[], c: string, id: DocumentId, reason: SetAsideReason, kind: 'refused' | 'too-large'): Promise<void> {
    const key = idKey(id);
    const entries = batch.filter((e) => e.c === c && idKey(e.id) === key);
    const newest = entries[entries.length - 1];
    if (!newest) throw new Error(`the hub refused ${c} ${String(id)}, which is not in the batch`);
    const { store } = this.#d;
    const recorded = await store.transaction(async (session) => {
      await store.outbox.remove(
        entries.map((e) => Number(e._id)),
        session,
      );
      return store.quarantine.record([setAsideDraft(newest, reason, kind)], session);
    });
    this.#d.onPushed([], entries.length); // they left the outbox
    this.#d.log.warn(
      { event: 'push.set-aside', collection: c, reason: reason.reason },
      'the hub refused a change for good; it is set aside',
    );
    this.#d.onQuarantined(recorded);
  }
}

/** What is kept of a till change set aside: enough to say what it was (the document only when small). */
type SetAsideReason = Pick<QuarantineDraft, 'reason' | 'reasonCode' | 'reasonParams'>;

function setAsideDraft(e: OutboxEntry, reason: SetAsideReason, kind: 'refused' | 'too-large'): QuarantineDraft {
  const doc = e.doc && bsonCodec.size(e.doc) <= KEPT_DOCUMENT_BYTES ? e.doc : undefined;
  return {
    collection: e.c,
    documentId: e.id,
    side: 'hub',
    ...reason,
    kind,
    change: { op: e.op, v: e.v, ...(e.fields ? { fields: e.fields } : {}), ...(doc ? { doc } : {}) },
  };
}
