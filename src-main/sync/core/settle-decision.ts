/**
 * What a push leaves on its till once the hub has committed the batch (the
 * settle, one local transaction that also removes the batch from the outbox):
 *
 * - a refused change, or a field merge that differs from the till's document:
 *   the till takes the hub's result;
 * - a hub change the pull passed over while the document waited in the outbox
 *   (noted on the waiting entry): taken when it is newer than what the push
 *   leaves here — so a hub change that lands between the push and its settle
 *   is never lost.
 *
 * A target is not applied when the till changed the document again (a newer
 * outbox entry: that change is pushed next; or a local write capture has not
 * taken yet: capture pushes it next), or when the pull already applied a newer
 * hub version here.
 */
import type { Codec, Document, DocumentId, HubChangeSeen, Known, OutboxEntry } from './types.ts';

/** What one document should become on the till after the push. */
export interface SettleTarget {
  c: string;
  id: DocumentId;
  v: string;
  doc: Document | null;
  /** The version this till pushed for it (what its version record says if nothing else moved it). */
  pushedV: string;
  /** A noted hub change too large to keep: the hub's state is read again instead of applied from here. */
  recheck?: true;
}

/** An outbox entry of the batch that carries a hub change the pull passed over. */
export interface NotedEntry {
  c: string;
  id: DocumentId;
  v: string;
  hub: HubChangeSeen;
}

/**
 * The settle's targets: the push's own (refusals and merges), then every noted
 * hub change newer than what the push leaves. `accepted` are the batch's
 * changes the hub took.
 */
export function settleTargets(
  own: readonly SettleTarget[],
  noted: readonly NotedEntry[],
  accepted: ReadonlyArray<Pick<OutboxEntry, 'c' | 'id' | 'v'>>,
  codec: Codec,
): SettleTarget[] {
  const keyOf = (c: string, id: DocumentId): string => `${c}\u0000${codec.idKey(id)}`;
  const pushed = new Map(accepted.map((e) => [keyOf(e.c, e.id), e.v]));
  const targets = new Map<string, SettleTarget>();
  for (const t of own) targets.set(keyOf(t.c, t.id), t);
  for (const e of noted) {
    const key = keyOf(e.c, e.id);
    const target = targets.get(key);
    // What the push leaves here: the hub's version if refused, else this till's (also when the hub had it already).
    const leaves = target ? target.v : (pushed.get(key) ?? e.v);
    if (e.hub.v <= leaves) continue;
    targets.set(key, {
      c: e.c,
      id: e.id,
      v: e.hub.v,
      doc: e.hub.doc,
      pushedV: target?.pushedV ?? pushed.get(key) ?? e.v,
      ...(e.hub.large ? { recheck: true as const } : {}),
    });
  }
  return [...targets.values()];
}

/** What the till holds of a target's document when the settle runs. */
export interface SettleTillState {
  /** The till changed it again since the batch (a later outbox entry). */
  changedSince: boolean;
  /** Content hash of the till's document (null: none). */
  localHash: string | null;
  known: Known | null;
}

export type SettleDecision = 'apply' | 'pushed-next' | 'capture-next' | 'newer-here';

export function decideSettle(target: SettleTarget, till: SettleTillState): SettleDecision {
  if (till.changedSince) return 'pushed-next';
  const known = till.known;
  if (known && known.h !== till.localHash) return 'capture-next';
  // The pull already applied a newer hub version than this one: keep it.
  if (known && known.v !== target.pushedV && known.v > target.v) return 'newer-here';
  return 'apply';
}
