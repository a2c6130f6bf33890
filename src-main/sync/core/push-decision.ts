/**
 * What a push does with one document: the till's newest change of it in the
 * batch against what the hub holds (the document with its `_sync`, or its
 * tombstone). Every replica that sees the same versions decides the same way.
 *
 * - The hub already has this version: a replay; nothing to do.
 * - The hub's version is newer: refused. The conflict is recorded and the
 *   till takes the hub's version.
 * - The till had a version of it, and the hub has neither the document nor
 *   its delete: it was deleted longer ago than the tombstone retention. A
 *   stale change never brings it back.
 * - Otherwise the till's version is written (a delete leaves a tombstone).
 *   A hub version the till had not seen when it wrote — neither its base nor
 *   its own — makes it a concurrent edit: the conflict is recorded whichever
 *   side wins, so a write overwritten by a newer one is always in some log.
 * - Field granularity: each top-level field is a register of its own; the
 *   result merges both sides and the till takes it back when it differs.
 */
import { successor } from './hlc.ts';
import { fieldStateVersion, hubState, mergeFieldStates, storedFieldVersions, visibleDocument, writeState } from './field-merge.ts';
import { readSyncMeta, stampedVersion, stampOver, unstampedVersion, withoutSync } from './hub-versions.ts';
import { SYNC_FIELD } from './names.ts';
import { MAX_DOCUMENT_BYTES, tooLarge } from './refusals.ts';
import type { ConflictRule, ConflictWinner } from '../../../src-shared/conflict-rules.ts';
import type { Codec, ConflictDraft, Document, DocumentId, HubVersion, OutboxEntry, QuarantineDraft, StampOver } from './types.ts';

/** The newest outbox entry of a document in a batch, with the base of its first entry and the fields all of them changed. */
export interface Collapsed {
  entry: OutboxEntry;
  base: string | null | undefined;
  fields: string[] | null;
}

/** Only the newest change of each document in a batch is pushed; its base is the first one's. */
export function collapseBatch(batch: readonly OutboxEntry[], codec: Codec): Collapsed[] {
  const latest = new Map<string, Collapsed>();
  for (const e of batch) {
    const key = `${e.c}\u0000${codec.idKey(e.id)}`;
    const before = latest.get(key);
    const fields = e.fields ?? null;
    latest.set(key, {
      entry: e,
      base: before ? before.base : e.base,
      fields: before ? (before.fields && fields ? [...new Set([...before.fields, ...fields])] : null) : fields,
    });
  }
  return [...latest.values()];
}

/** A push batch on its way to the hub: its sequence numbers, and whether the hub committed it. */
export interface Flight {
  first: number;
  last: number;
  committed: boolean;
}

/**
 * The next batch from what a read of the outbox found (in sequence order): up to the first change of
 * a document that is still on its way in an earlier batch, which waits for that batch to land. A
 * document's changes so reach the hub in the order they were made.
 */
export function takeBatch<E extends Pick<OutboxEntry, 'c' | 'id'>>(read: readonly E[], onItsWay: (e: E) => boolean): E[] {
  const take: E[] = [];
  for (const e of read) {
    if (onItsWay(e)) break;
    take.push(e);
  }
  return take;
}

/**
 * What a batch's push marker may say the hub holds: every outbox entry up to it. Batches commit in
 * any order, so only up to the first one read earlier that has not committed yet. A marker behind
 * is harmless (reconciliation leaves those documents to the push, whose replay writes nothing); one
 * ahead would let reconciliation take a change still waiting to be pushed for one already there.
 */
export function pushMarker(flights: readonly Flight[], mine: Flight): number {
  const waiting = flights.find((f) => f !== mine && f.first < mine.first && !f.committed);
  return waiting ? waiting.first - 1 : mine.last;
}

/** A write on the hub, as the push decides it. */
export type HubWrite =
  /** Replace (or insert) the document, `_sync` included; drop its tombstone if it had one. */
  | { op: 'put'; c: string; id: DocumentId; doc: Document; dropTombstone: boolean }
  /** Delete the document (if it is there) and record the delete's version in a tombstone. */
  | { op: 'delete'; c: string; id: DocumentId; docExists: boolean; tombstone: HubVersion };

/** The version a till takes after a push: the hub's when refused, or a merged result. */
export interface TillTakes extends HubVersion {
  /** Null: deleted. */
  doc: Document | null;
}

export type PushDecision =
  /** HQ changed the document and no engine has stamped its version yet: wait a moment, then compare with it. */
  | { kind: 'await-stamp' }
  /** The hub holds this very version: a replay. */
  | { kind: 'already-there' }
  | { kind: 'write'; write: HubWrite; conflict: ConflictDraft | null; tillTakes: TillTakes | null }
  /** Too large for the hub once `_sync` is added: set aside on this till, with the reason. */
  | { kind: 'set-aside'; reason: Pick<QuarantineDraft, 'reason' | 'reasonCode' | 'reasonParams'> }
  /**
   * The hub's version is newer. `stamp`: the hub's document is a change no engine has stamped yet,
   * counted as made now: that version is stamped on it in the same transaction, so every till agrees
   * on the version this till takes.
   */
  | { kind: 'refuse'; conflict: ConflictDraft; tillTakes: TillTakes; stamp?: HubStamp };

/** A version written onto a hub document for its content (`h`), over the `_sync.v` the push read (`StampOver`). */
export interface HubStamp extends StampOver {
  v: string;
  h: string;
}

export interface PushInput {
  change: Collapsed;
  /** The hub's document, raw with `_sync`; null when it has none. */
  hubDoc: Document | null;
  /** The hub's tombstone of it, when there is one. */
  tombstone: HubVersion | null;
  device: string;
  byFields: boolean;
  /** False once the batch has waited long enough for HQ's change to be stamped. */
  mayAwaitStamp: boolean;
  now: number;
  codec: Codec;
}

export function decidePush(input: PushInput): PushDecision {
  const { change, hubDoc: current, tombstone: tomb, device, codec } = input;
  const { entry: e, base } = change;
  const stamped = current ? stampedVersion(current, codec) : undefined;
  if (current && !stamped && input.mayAwaitStamp) return { kind: 'await-stamp' };
  // After waiting, an HQ change still without a version counts as made now.
  const hubVersion: HubVersion | undefined = current ? (stamped ?? unstampedVersion(input.now)) : (tomb ?? undefined);
  if (hubVersion && hubVersion.v === e.v) return { kind: 'already-there' };
  // The hub holds a version this till had not seen when it wrote: a concurrent edit.
  const isConcurrent = base !== undefined && hubVersion !== undefined && hubVersion.v !== base && hubVersion.o !== device;
  const hubContent = current ? withoutSync(current) : null;
  const conflict = (winner: ConflictWinner, rule: ConflictRule, fields?: string[]): ConflictDraft => ({
    collection: e.c,
    documentId: e.id,
    winner,
    rule,
    ...(fields ? { fields } : {}),
    local: { version: e.v, origin: device, document: e.doc ?? null },
    hub: { version: (hubVersion as HubVersion).v, origin: (hubVersion as HubVersion).o, document: hubContent },
  });
  const unstampedStamp = (): { stamp?: HubStamp } =>
    current && !stamped && hubVersion && hubContent ? { stamp: { v: hubVersion.v, h: codec.hash(hubContent), ...stampOver(current) } } : {};

  if (input.byFields && e.op === 'upsert' && current && hubVersion)
    return decideFieldMerge(input, hubVersion, hubContent as Document, isConcurrent, conflict);

  if (!hubVersion && base && e.op === 'upsert') {
    // This till had a version of it, and the hub has neither the document nor its delete:
    // it was deleted longer ago than the tombstone retention. A stale change never brings it back.
    return {
      kind: 'refuse',
      tillTakes: { v: base, o: 'hub', doc: null },
      conflict: {
        collection: e.c,
        documentId: e.id,
        winner: 'hub',
        rule: 'deleted-beyond-retention',
        local: { version: e.v, origin: device, document: e.doc ?? null },
        hub: { version: base, origin: 'hub', document: null },
      },
    };
  }
  if (hubVersion && hubVersion.v > e.v) {
    return {
      kind: 'refuse',
      conflict: conflict('hub', 'newer-version'),
      tillTakes: { ...hubVersion, doc: hubContent },
      ...unstampedStamp(),
    };
  }
  const concurrent = isConcurrent ? conflict('local', 'newer-version') : null;
  if (e.op === 'upsert') {
    const doc = e.doc as Document;
    const f = input.byFields ? storedFieldVersions(writeState({ op: 'upsert', v: e.v, doc })) : undefined;
    const replacement = { ...withoutSync(doc), [SYNC_FIELD]: { v: e.v, o: device, h: e.h ?? codec.hash(doc), ...(f ? { f } : {}) } };
    return {
      kind: 'write',
      write: { op: 'put', c: e.c, id: e.id, doc: replacement, dropTombstone: tomb !== null },
      conflict: concurrent,
      tillTakes: null,
    };
  }
  return {
    kind: 'write',
    write: { op: 'delete', c: e.c, id: e.id, docExists: current !== null, tombstone: { v: e.v, o: device } },
    conflict: concurrent,
    tillTakes: null,
  };
}

/** A document the hub cannot hold once its sync data is added. */
function sizeRefusal(doc: Document, codec: Codec): PushDecision | undefined {
  const bytes = codec.size(doc);
  return bytes > MAX_DOCUMENT_BYTES ? { kind: 'set-aside', reason: tooLarge(bytes, MAX_DOCUMENT_BYTES) } : undefined;
}

/** Field granularity: each top-level field is its own last-writer-wins register. */
function decideFieldMerge(
  input: PushInput,
  hubVersion: HubVersion,
  hubContent: Document,
  isConcurrent: boolean,
  conflict: (winner: ConflictWinner, rule: ConflictRule, fields?: string[]) => ConflictDraft,
): PushDecision {
  const { change, device, codec } = input;
  const { entry: e, base, fields } = change;
  const meta = readSyncMeta(input.hubDoc as Document);
  const stored = meta && !('malformed' in meta) ? meta.f : undefined;
  const hubFields = hubState(hubContent, hubVersion.v, stored, null);
  const mine = writeState({ op: 'upsert', v: e.v, doc: e.doc, changed: fields }, hubFields.fields.keys());
  const merged = mergeFieldStates(hubFields, mine);
  const mergedDoc = visibleDocument(merged, e.id, Object.keys(e.doc as Document)) as Document;
  const mergedVersion = fieldStateVersion(merged) as string;
  if (mergedVersion === hubVersion.v && codec.hash(mergedDoc) === codec.hash(hubContent)) {
    return {
      kind: 'refuse',
      conflict: conflict('hub', 'newer-version-every-field'),
      tillTakes: { ...hubVersion, doc: hubContent },
      ...(stampedVersion(input.hubDoc as Document, codec)
        ? {}
        : { stamp: { v: hubVersion.v, h: codec.hash(hubContent), ...stampOver(input.hubDoc as Document) } }),
    };
  }
  const version = mergedVersion > hubVersion.v ? mergedVersion : successor(hubVersion.v, device);
  const h = codec.hash(mergedDoc);
  const write: HubWrite = {
    op: 'put',
    c: e.c,
    id: e.id,
    doc: { ...mergedDoc, [SYNC_FIELD]: { v: version, o: device, h, f: storedFieldVersions(merged) } },
    dropTombstone: false,
  };
  const tooLarge = sizeRefusal(write.doc, codec);
  if (tooLarge) return tooLarge;
  // Fields both sides changed since this till's base: a real conflict, resolved per field.
  const overlap = isConcurrent ? [...mine.fields.keys()].filter((n) => (hubFields.fields.get(n)?.v ?? '') > (base ?? '')) : [];
  const lostFields = overlap.filter((n) => merged.fields.get(n)?.v !== e.v);
  const record = overlap.length > 0 ? conflict(lostFields.length === 0 ? 'local' : 'hub', 'newer-version-per-field', overlap) : null;
  // The merge differs from the till's document: the till takes it back.
  const differs = h !== (e.h ?? codec.hash(e.doc as Document));
  return { kind: 'write', write, conflict: record, tillTakes: differs ? { v: version, o: device, doc: mergedDoc } : null };
}
