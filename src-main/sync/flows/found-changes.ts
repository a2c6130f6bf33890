/**
 * Reconciliation's found changes into the outbox: local versions the hub has
 * not got, each taken only if its document is still as reconciliation
 * compared it (`core/capture-plan.ts`'s `planFound`), written with their
 * version records, the capture checkpoint's sequence and the clock in one
 * local transaction — under the same sequence lock as capture's batches.
 */
import { planFound, type CapturePlan } from '../core/capture-plan.ts';
import { encodeVersion, type HybridClock } from '../core/hlc.ts';
import type { FoundChange } from '../core/reconcile-pair.ts';
import { bsonCodec } from '../documents.ts';
import type { Logger } from '../log.ts';
import type { OutboxWatch } from '../outbox-watch.ts';
import type { TillStore } from '../till/store.ts';
import { readNow, type OutboxSequence } from './outbox-writes.ts';

export interface FoundDeps {
  store: TillStore;
  clock: HybridClock;
  /** Told before the transaction that may add outbox entries. */
  outboxWatch: OutboxWatch;
  log: Logger;
  /** After the transaction committed: outbox entries written. */
  onCommitted(captured: number, wallTimes: Date[]): void;
}

/**
 * Adds changes found by reconciliation to the outbox, with their version
 * records, in one local transaction that also keeps the sequence and clock.
 */
export async function enqueueFound(d: FoundDeps, sequence: OutboxSequence, changes: FoundChange[]): Promise<void> {
  if (changes.length === 0) return;
  const { store } = d;
  let plan: Pick<CapturePlan, 'entries' | 'known' | 'lastSeq'> = { entries: [], known: [], lastSeq: sequence.last };
  let tentative: HybridClock | undefined;
  await sequence.exclusive(async () => {
    const ended = d.outboxWatch.adding();
    await store
      .transaction(async (session) => {
        // Documents as they are now, for the changes taken only if still as reconciliation compared them.
        const read = await readNow(
          store,
          changes.filter((ch) => ch.expect),
          session,
        );
        const now = new Date();
        const clock = d.clock.fork();
        plan = planFound(changes, {
          freshVersion: () => encodeVersion(clock.tick()),
          knownNow: (c, id) => read.known(c, id)?.v ?? null,
          docNow: read.current,
          codec: bsonCodec,
          lastSeq: sequence.last,
          now,
        });
        if (plan.entries.length === 0) return;
        await store.outbox.append(plan.entries, session);
        await store.putKnown(plan.known, session);
        await store.checkpoints.save({ _id: 'capture', seq: plan.lastSeq, clock: encodeVersion(clock.last), at: now }, session);
        tentative = clock;
      })
      .finally(ended);
    sequence.last = plan.lastSeq;
    if (tentative) d.clock.advance(tentative.last);
  });
  const taken = plan.entries.length;
  if (taken < changes.length) {
    d.log.debug(
      { event: 'capture.found-changes-moved', dropped: changes.length - taken },
      'documents changed since reconciliation compared them; their own path syncs them',
    );
  }
  if (taken > 0)
    d.onCommitted(
      taken,
      plan.entries.map(() => new Date()),
    );
}
