/**
 * Reconciliation in the model, as `src-main/sync/flows/reconcile.ts` runs it:
 * the hub's position first, then every synced collection compared pair by
 * pair by the core (`decideHubDocument`, `decideTillOnly`); stamps before
 * pulls, pulls before pushes; documents only the till has are looked at after
 * the hub's scan. Atomic here (one step), where the real scan runs beside the
 * other flows.
 */
import { encodeVersion, MAX_COUNTER } from '../../src-main/sync/core/hlc.ts';
import { isEngineCollection } from '../../src-main/sync/core/policy.ts';
import { decideHubDocument, decideTillOnly, type FoundChange, type UnversionedClock } from '../../src-main/sync/core/reconcile-pair.ts';
import type { ConflictDraft, HubOp } from '../../src-main/sync/core/types.ts';
import { codec, keyOf, POLICIES, type MemTill } from './world.ts';

export function reconcileTill(till: MemTill): void {
  const hub = till.world.hub;
  const startAt = hub.log.length;
  const owed = till.owed;
  const pushedSeq = hub.pushed.get(till.name) ?? 0;
  // A collection the till wrote to exists there even when empty now (as on a real server).
  const tillCollections = [...till.docs.keys(), ...till.known.keys()].map((k) => k.split('\u0000')[0] as string);
  const names = [...new Set([...hub.collections(), ...tillCollections])]
    .filter((c) => !isEngineCollection(c) && POLICIES.policyFor(c).mode !== 'local-only')
    .sort();
  let aheadRefused = 0;
  for (const c of names) {
    const ctx = {
      c,
      device: till.name,
      canPull: POLICIES.shouldPull(c),
      canPush: POLICIES.shouldPush(c),
      clock: till.proc.clock,
      codec,
      now: new Date(till.world.now),
    };
    const locals = new Map<string, { id: string; h: string }>();
    for (const [key, doc] of till.docs) if (key.startsWith(`${c}\u0000`)) locals.set(key, { id: String(doc._id), h: codec.hash(doc) });
    const stamps: HubOp[] = [];
    const pulls: HubOp[] = [];
    const pushes: FoundChange[] = [];
    const conflicts: ConflictDraft[] = [];
    const agreed: Array<{ key: string; v: string; h: string }> = [];
    const scanStart = till.hubNow();
    let counter = 0;
    const unversioned: UnversionedClock = {
      next: (sameAsTill) =>
        encodeVersion({ wall: sameAsTill ? scanStart : till.hubNow(), counter: Math.min(counter++, MAX_COUNTER), device: 'hub' }),
    };
    const inFlight = (key: string): boolean => [...till.outbox.values()].some((e) => e._id > pushedSeq && keyOf(e.c, e.id) === key);
    const onHub = new Set<string>();
    for (const [key, hubDoc] of [...hub.docs].filter(([k]) => k.startsWith(`${c}\u0000`))) {
      const local = locals.get(key);
      locals.delete(key);
      onHub.add(key);
      const outcome = decideHubDocument(structuredClone(hubDoc), local, till.known.get(key), inFlight(key), unversioned, ctx);
      if (outcome === 'ahead') {
        aheadRefused += 1;
        continue;
      }
      if (outcome === 'malformed') continue;
      if (outcome.stamp) stamps.push(outcome.stamp);
      if (outcome.pull) pulls.push(outcome.pull);
      if (outcome.agree) agreed.push({ key, v: outcome.agree.v, h: outcome.agree.h });
      if (outcome.push) pushes.push(outcome.push);
      if (outcome.conflict) conflicts.push(outcome.conflict);
    }
    const flush = (): void => {
      till.stamp(stamps.splice(0));
      till.applyHubOps(pulls.splice(0), true, 'reconcile-0');
      for (const a of agreed.splice(0)) {
        const known = till.known.get(a.key);
        if (!known || known.v < a.v) till.known.set(a.key, { v: a.v, h: a.h });
      }
      till.enqueue(pushes.splice(0));
      const found = conflicts.splice(0);
      for (const r of found) r.local.document = structuredClone(till.docs.get(keyOf(c, r.documentId)) ?? null);
      till.conflicts.push(...found);
    };
    flush();
    const leftovers: Array<[string, { id: string; h: string } | undefined]> = [...locals];
    for (const [key, k] of till.known) {
      if (key.startsWith(`${c}\u0000`) && k.h !== null && !onHub.has(key) && !locals.has(key)) leftovers.push([key, undefined]);
    }
    for (const [key, local] of leftovers) {
      if (hub.docs.has(key)) continue;
      const outcome = decideTillOnly(key.split('\u0000')[1] as string, local, till.known.get(key), hub.tombs.get(key), inFlight(key), ctx);
      if (outcome.pull) pulls.push(outcome.pull);
      if (outcome.push) pushes.push(outcome.push);
    }
    flush();
  }
  till.reconciled(startAt, aheadRefused, owed);
}
