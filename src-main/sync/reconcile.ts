/**
 * Reconciliation: what the engine does when change history cannot tell it
 * what happened — first contact with a hub that already has data, a till
 * that joins late, or a stream whose history is gone (286, an expired token).
 *
 * The caller takes the stream position first; this compares both sides
 * document by document, by version and by content:
 *
 * - same content: only the version record is brought up to date;
 * - only the hub's side changed (or the till never had it): pulled;
 * - only the till's side changed, or it changed without ever being captured:
 *   pushed through the outbox with a new version, like any local write;
 * - both changed: a real conflict; the newer version wins and the conflict is
 *   recorded with both sides;
 * - a hub tombstone newer than the till's copy deletes it; a till copy newer
 *   than the tombstone is pushed.
 *
 * Nothing local is thrown away: a losing local version is in the conflict
 * log. Writes made during the scan reach the other side through the streams,
 * which resume from the position taken before the scan.
 */
import type { Document } from 'mongodb';
import type { FoundChange } from './capture.ts';
import { contentHash, idKey, readSyncMeta, withoutSync, type DocumentId } from './documents.ts';
import { decodeVersion, encodeVersion, successor, type HybridClock } from './hlc.ts';
import type { Hub } from './hub.ts';
import { conflictRecord, type ConflictRecord, type LocalStore } from './local-store.ts';
import type { Logger } from './log.ts';
import { isEngineCollection, type PolicyTable } from './policy.ts';
import type { PullOp } from './pull.ts';

export interface ReconcileDeps {
  store: LocalStore;
  hub: Hub;
  deviceId: string;
  clock: HybridClock;
  policies: PolicyTable;
  batchSize: number;
  log: Logger;
  /**
   * Applies hub versions to the till (the pull's apply path: pending local changes are left alone).
   * Called for two lanes (0 and 1) at once, never twice at once for one lane.
   */
  applyPulled(ops: PullOp[], lane: number): Promise<void>;
  /** Records version-only agreements (same content on both sides). */
  agreeVersions(records: Array<{ c: string; id: DocumentId; v: string; h: string }>): Promise<void>;
  /** Writes versions onto hub documents HQ changed without them, so every till compares with the same version. */
  stampHub(ops: PullOp[]): Promise<void>;
  /** Queues local versions for the hub (capture's outbox). */
  enqueuePush(changes: FoundChange[]): Promise<void>;
  recordConflicts(conflicts: ConflictRecord[]): Promise<void>;
  progress(compared: number, total: number): void;
}

export interface ReconcileSummary {
  compared: number;
  pulled: number;
  pushed: number;
  agreed: number;
  conflicts: number;
  /** Hub versions skipped because they are too far ahead of this till's clock. */
  aheadRefused: number;
  ms: number;
}

interface LocalInfo {
  id: DocumentId;
  h: string;
}

interface Known {
  v: string;
  h: string | null;
}

const SCAN_BATCH = 2_000;

/** A local version to push, with what the comparison saw of the document (its version record and content). */
interface Push {
  id: DocumentId;
  op: 'upsert' | 'delete';
  v: string;
  base?: string | null;
  expect: { v: string | null; h: string | null };
}

export async function reconcile(d: ReconcileDeps): Promise<ReconcileSummary> {
  const started = Date.now();
  const summary: ReconcileSummary = { compared: 0, pulled: 0, pushed: 0, agreed: 0, conflicts: 0, aheadRefused: 0, ms: 0 };
  const hubNames = (await d.hub.db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  const localNames = (await d.store.pos.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
  const names = [...new Set([...hubNames, ...localNames])]
    .filter((c) => !isEngineCollection(c) && d.policies.policyFor(c).mode !== 'local-only')
    .sort();
  let total = 0;
  for (const c of names) {
    const [onHub, onTill] = await Promise.all([
      hubNames.includes(c) ? d.hub.collection(c).estimatedDocumentCount() : 0,
      localNames.includes(c) ? d.store.posCollection(c).estimatedDocumentCount() : 0,
    ]);
    total += Math.max(Number(onHub), Number(onTill));
  }
  d.progress(0, total);
  for (const c of names) {
    await reconcileCollection(d, c, summary, (n) => {
      summary.compared += n;
      total = Math.max(total, summary.compared);
      d.progress(summary.compared, total);
    });
  }
  summary.ms = Date.now() - started;
  d.log.info({ event: 'reconcile.done', ...summary }, 'reconciliation finished');
  return summary;
}

async function reconcileCollection(d: ReconcileDeps, c: string, summary: ReconcileSummary, compared: (n: number) => void): Promise<void> {
  const canPull = d.policies.shouldPull(c);
  const canPush = d.policies.shouldPush(c);
  const known = new Map<string, Known>();
  for await (const r of d.store.versions.find({ '_id.c': c })) known.set(idKey(r._id.id), { v: r.v, h: r.h });
  const locals = new Map<string, LocalInfo>();
  for await (const doc of d.store.posCollection(c).find({})) locals.set(idKey(doc._id), { id: doc._id, h: contentHash(doc) });

  const pulls: PullOp[] = [];
  const agreed: Array<{ c: string; id: DocumentId; v: string; h: string }> = [];
  const pushes: Push[] = [];
  const conflicts: ConflictRecord[] = [];
  const stamps: PullOp[] = [];
  // Batches of writes go on while the scan reads and compares the next, so this process and the
  // servers work at once: two lanes, each one batch at a time. Batches hold different documents, so
  // their order does not matter; within a batch, stamps come before pulls, pulls before pushes.
  const lanes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  let batches = 0;
  const flush = async (force: boolean): Promise<void> => {
    const take = <T>(list: T[], size: number): T[] => (list.length >= size || (force && list.length > 0) ? list.splice(0) : []);
    const batch = {
      stamps: take(stamps, SCAN_BATCH),
      pulls: take(pulls, d.batchSize),
      agreed: take(agreed, SCAN_BATCH),
      pushes: take(pushes, d.batchSize),
      conflicts: take(conflicts, force ? 1 : 100),
    };
    if (Object.values(batch).some((list) => list.length > 0)) {
      const lane = batches++ % lanes.length;
      await lanes[lane];
      const writing = (async () => {
        if (batch.stamps.length > 0) await d.stampHub(batch.stamps);
        if (batch.pulls.length > 0) await d.applyPulled(batch.pulls, lane);
        summary.pulled += batch.pulls.length;
        if (batch.agreed.length > 0) await d.agreeVersions(batch.agreed);
        summary.agreed += batch.agreed.length;
        if (batch.pushes.length > 0) await d.enqueuePush(asFoundChanges(c, batch.pushes));
        summary.pushed += batch.pushes.length;
        if (batch.conflicts.length > 0) {
          // The till's side of each conflict, read in one query (not one per conflict).
          const localDocs = new Map<string, Document>();
          const ids = batch.conflicts.map((r) => r.documentId);
          for (const doc of await d.store
            .posCollection(c)
            .find({ _id: { $in: ids } })
            .toArray())
            localDocs.set(idKey(doc._id), doc);
          for (const r of batch.conflicts) r.local.document = localDocs.get(idKey(r.documentId)) ?? null;
          await d.recordConflicts(batch.conflicts);
        }
        summary.conflicts += batch.conflicts.length;
      })();
      writing.catch(() => undefined); // awaited by a later flush; not an unhandled rejection meanwhile
      lanes[lane] = writing;
    }
    if (force) await Promise.all(lanes);
  };
  /** A new version for a local change the streams never carried. */
  const fresh = (): string => encodeVersion(d.clock.tick());
  const localVersionOf = (local: LocalInfo | undefined, record: Known | undefined): { v: string; changed: boolean } => {
    const h = local ? local.h : null;
    if (record && record.h === h) return { v: record.v, changed: false };
    return { v: fresh(), changed: true };
  };

  const scanStart = Date.now();
  let counter = 0;
  let seen = 0;
  const cursor = d.hub.collection(c).find({}).batchSize(SCAN_BATCH);
  for await (const hubDoc of cursor) {
    seen += 1;
    if (seen % SCAN_BATCH === 0) compared(SCAN_BATCH);
    const key = idKey(hubDoc._id);
    const content = withoutSync(hubDoc);
    const h = contentHash(content);
    const meta = readSyncMeta(hubDoc);
    const stamped = meta !== undefined && !('malformed' in meta) && meta.h === h;
    // The hub has it, whatever comes of the comparison: never a till-only leftover.
    const local = locals.get(key);
    locals.delete(key);
    const record = known.get(key);
    // A change HQ made without a version counts as made when the scan reads it (as push counts it), not when
    // the scan began: a version this till took from the hub after that (a push settling) is older than it.
    // Content the till already has keeps the scan's start, so no local change captured meanwhile looks older.
    const unversionedAt = local?.h === h ? scanStart : Date.now();
    const hubV = stamped ? meta.v : encodeVersion({ wall: unversionedAt, counter: Math.min(counter++, 0xffff), device: 'hub' });
    const hubO = stamped ? meta.o : 'hub';
    try {
      const received = d.clock.receive(decodeVersion(hubV));
      if (!received.ok) {
        summary.aheadRefused += 1; // too far ahead: compared again by the next reconciliation
        continue;
      }
    } catch {
      continue; // malformed: the pull stream quarantines it with its reason
    }
    const pullOp = (): PullOp => ({ c, id: hubDoc._id, op: 'upsert', doc: content, v: hubV, o: hubO, h, wall: new Date(), stamp: false });
    if (!stamped) stamps.push({ ...pullOp(), stamp: true });
    if (!local && !record) {
      if (canPull) pulls.push(pullOp());
    } else if (local && local.h === h) {
      if (record?.v !== hubV) {
        if (record && record.h === h && record.v > hubV && canPush)
          pushes.push({ id: hubDoc._id, op: 'upsert', v: record.v, expect: { v: record.v, h } });
        else agreed.push({ c, id: hubDoc._id, v: hubV, h });
      }
    } else {
      const mine = localVersionOf(local, record);
      const localWins = mine.v > hubV;
      if (localWins && mine.changed && record?.v !== hubV) {
        // Both sides changed since they last agreed: the till's version wins; keep the hub's in the log.
        // The till's document is read when the batch is written.
        conflicts.push(
          conflictRecord({
            collection: c,
            documentId: hubDoc._id,
            winner: 'local',
            rule: 'reconciled-newer-version',
            local: { version: mine.v, origin: d.deviceId, document: null },
            hub: { version: hubV, origin: hubO, document: content },
          }),
        );
      }
      // A losing local change is recorded by the apply path, with the till's document.
      if (localWins) {
        if (canPush)
          pushes.push({
            id: hubDoc._id,
            op: local ? 'upsert' : 'delete',
            v: mine.v,
            expect: { v: record?.v ?? null, h: local?.h ?? null },
          });
      } else if (canPull) pulls.push(pullOp());
    }
    await flush(false);
  }
  compared(seen % SCAN_BATCH);

  // Documents only the till has: pushed, unless the hub deleted them later.
  await flush(true); // stamps and pulls first: pushes below compare with them
  const pending = new Set<string>();
  for await (const e of d.store.outbox.find({ c }, { projection: { id: 1 } })) pending.add(idKey(e.id));
  const leftovers = [...locals.values()].filter((l) => !pending.has(idKey(l.id))); // already on their way
  for (let i = 0; i < leftovers.length; i += SCAN_BATCH) {
    const slice = leftovers.slice(i, i + SCAN_BATCH);
    const tombs = new Map<string, { v: string; o: string }>();
    for (const t of await d.hub.tombstones.find({ _id: { $in: slice.map((l) => ({ c, id: l.id })) } }).toArray()) {
      tombs.set(idKey(t._id.id), { v: t.v, o: t.o });
    }
    // The scan is not a snapshot: a document that reached the hub after the scan passed it (this
    // till's own push, say) is not missing there. The stream, resumed from before the scan, brings it.
    const arrived = new Set<string>();
    for (const doc of await d.hub
      .collection(c)
      .find({ _id: { $in: slice.map((l) => l.id) } }, { projection: { _id: 1 } })
      .toArray()) {
      arrived.add(idKey(doc._id));
    }
    for (const local of slice) {
      const key = idKey(local.id);
      if (arrived.has(key)) continue;
      const record = known.get(key);
      const mine = localVersionOf(local, record);
      const tomb = tombs.get(key);
      if (record && !mine.changed && (!tomb || tomb.v <= record.v)) {
        // Synced before (the hub had this version), unchanged here, and the hub has neither it nor a
        // tombstone as new: HQ deleted it (HQ deletes leave no tombstone; an older one may remain from an
        // earlier delete) or its tombstone expired. Deleted here too, never pushed back.
        if (canPull)
          pulls.push({ c, id: local.id, op: 'delete', v: successor(record.v, 'hub'), o: 'hub', h: null, wall: new Date(), stamp: false });
      } else if (tomb && tomb.v > mine.v) {
        // A changed local copy that loses is logged by the apply path, with the till's document.
        if (canPull) pulls.push({ c, id: local.id, op: 'delete', v: tomb.v, o: tomb.o, h: null, wall: new Date(), stamp: false });
      } else if (canPush) {
        // With a base, the push refuses it (and logs it) if the hub deleted the document meanwhile.
        pushes.push({ id: local.id, op: 'upsert', v: mine.v, base: record?.v ?? null, expect: { v: record?.v ?? null, h: local.h } });
      }
      await flush(false);
    }
  }
  await flush(true);
}

/** Pushes as found changes, each to be taken only if the document is still as it was compared. */
function asFoundChanges(c: string, batch: Push[]): FoundChange[] {
  return batch.map((b) => ({ c, id: b.id, op: b.op, v: b.v, ...(b.base === undefined ? {} : { base: b.base }), expect: b.expect }));
}
