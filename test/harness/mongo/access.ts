/**
 * What a command reads and writes, inside or outside a transaction.
 * Outside: writes go straight to the catalog through a WriteBatch.
 * Inside: writes go to the transaction's overlay, under document locks.
 */
import { UUID, type Document } from 'bson';
import { Collection } from './catalog.ts';
import type { ClusterTime } from './cluster-time.ts';
import { runAggregate } from './query.ts';
import { documentsAt } from './snapshot.ts';
import { checkValidator } from './validation.ts';
import { CommandError } from './errors.ts';
import type { ServerState, WriteBatch } from './state.ts';
import { lockKey, type PendingEntry, type Transaction } from './transactions.ts';
import { describeUpdate } from './update-description.ts';
import { valueKey } from './values.ts';

/** A write outside a transaction met a document a transaction holds: wait, then retry the statement. */
export class LockedError extends Error {
  constructor() {
    super('document is locked by an open transaction');
  }
}

export function writeConflict(): CommandError {
  return new CommandError(
    112,
    'WriteConflict error: this operation conflicted with another operation. Please retry your operation or multi-document transaction.',
  );
}

export class Access {
  readonly state: ServerState;
  readonly txn: Transaction | undefined;
  readonly batch: WriteBatch;
  /** Called before each write outside a transaction is applied; may throw to refuse it (fail points). */
  beforeWrite: (() => void) | undefined;
  /** The command's bypassDocumentValidation: collection validators do not apply. */
  bypassValidation = false;
  /** A snapshot read outside a transaction: reads see each collection as it was at this cluster time. */
  readonly readAt: ClusterTime | undefined;
  readonly #atSnapshot = new Map<string, Map<string, Document>>();

  constructor(state: ServerState, batch: WriteBatch, txn?: Transaction, readAt?: ClusterTime) {
    this.state = state;
    this.batch = batch;
    this.txn = txn;
    this.readAt = readAt;
  }

  /** The collection at the snapshot time (read once per command). */
  #snapshot(db: string, name: string, at: ClusterTime): Map<string, Document> {
    const ns = `${db}.${name}`;
    let docs = this.#atSnapshot.get(ns);
    if (!docs) {
      docs = documentsAt(this.state, db, name, at);
      this.#atSnapshot.set(ns, docs);
    }
    return docs;
  }

  collection(db: string, name: string): Collection | undefined {
    return this.state.catalog.get(db, name) ?? this.txn?.created.get(`${db}.${name}`);
  }

  /** The collection, created implicitly (with its `create` event) if missing. */
  ensureCollection(db: string, name: string): Collection {
    return this.collection(db, name) ?? this.createCollection(db, name, {});
  }

  /** Creates a collection; inside a transaction it exists for that transaction alone until it commits. */
  createCollection(db: string, name: string, options: Document): Collection {
    validateCollectionName(db, name);
    const uuid = new UUID();
    const create: PendingEntry = { op: 'create', db, coll: name, uuid, spec: options };
    if (this.txn) {
      const coll = new Collection(db, name, uuid, options);
      this.txn.created.set(`${db}.${name}`, coll);
      this.txn.entries.push(create);
      return coll;
    }
    this.batch.add(create);
    return this.state.catalog.get(db, name) as Collection;
  }

  /** Adds indexes; inside a transaction only to a collection it created, and only when it commits. */
  addIndexes(coll: Collection, indexes: Document[]): void {
    const entry: PendingEntry = { op: 'createIndexes', db: coll.db, coll: coll.name, uuid: coll.uuid, spec: { indexes } };
    if (this.txn) {
      coll.indexes = [...coll.indexes, ...(indexes as Collection['indexes'])];
      this.txn.entries.push(entry);
      return;
    }
    this.batch.add(entry);
  }

  /** Every document this reader sees, in natural order (a view's: its pipeline over what it is on). */
  documents(db: string, name: string, depth = 0): Document[] {
    const coll = this.collection(db, name);
    const view = coll?.view;
    if (view) {
      if (depth >= MAX_VIEW_DEPTH)
        throw new CommandError(165, `View depth too deep or view cycle detected; maximum depth is ${MAX_VIEW_DEPTH}`);
      return runAggregate(this.documents(db, view.viewOn, depth + 1), view.pipeline, (other) => this.documents(db, other));
    }
    if (this.readAt !== undefined) return [...this.#snapshot(db, name, this.readAt).values()];
    const overlay = this.txn?.view(`${db}.${name}`);
    const out: Document[] = [];
    if (coll) {
      const committed = this.txn ? coll.snapshot(this.txn.startTs) : coll.docs.entries();
      for (const [key, doc] of committed) {
        if (overlay?.has(key)) {
          const mine = overlay.get(key);
          if (mine) out.push(mine);
        } else out.push(doc);
      }
    }
    if (overlay) {
      for (const [key, doc] of overlay) if (doc && !(this.txn && coll?.valueAt(key, this.txn.startTs))) out.push(doc);
    }
    return out;
  }

  /** The document with this `_id` as this reader sees it; `key` is `valueKey(id)` when the caller has it already. */
  byId(db: string, name: string, id: unknown, key = valueKey(id)): Document | undefined {
    if (this.collection(db, name)?.view) return this.documents(db, name).find((d) => valueKey(d._id) === key);
    if (this.readAt !== undefined) return this.#snapshot(db, name, this.readAt).get(key);
    const overlay = this.txn?.view(`${db}.${name}`);
    if (overlay?.has(key)) return overlay.get(key) ?? undefined;
    const coll = this.collection(db, name);
    return this.txn ? coll?.valueAt(key, this.txn.startTs) : coll?.docs.get(key);
  }

  /** Refuses (or, outside a transaction, defers) writing a document another transaction holds. */
  claim(coll: Collection, docKey: string): void {
    const key = lockKey(coll.ns, docKey);
    const holder = this.state.sessions.locks.get(key);
    if (!this.txn) {
      if (holder) throw new LockedError();
      return;
    }
    if (holder && holder !== this.txn) throw writeConflict();
    const lastWrite = coll.lastWrite.get(docKey);
    if (lastWrite !== undefined && lastWrite > this.txn.startTs) throw writeConflict();
    this.state.sessions.lock(this.txn, key);
  }

  private checkUnique(coll: Collection, doc: Document, docKey: string): void {
    coll.checkUnique(doc, docKey);
    const overlay = this.txn?.view(coll.ns);
    if (!overlay) return;
    for (const index of coll.indexes) {
      if (!index.unique || index.name === '_id_' || !Collection.covers(index, doc)) continue;
      const key = Collection.indexKey(index, doc);
      for (const [otherKey, other] of overlay) {
        if (other && otherKey !== docKey && Collection.covers(index, other) && Collection.indexKey(index, other) === key) {
          throw new CommandError(11000, `E11000 duplicate key error collection: ${coll.ns} index: ${index.name}`, {
            extra: { keyPattern: index.key },
          });
        }
      }
    }
  }

  private record(coll: Collection, docKey: string, entry: PendingEntry, after: Document | null): void {
    if (coll.view) throw notACollection(coll);
    if (this.txn) {
      this.txn.put(coll.ns, docKey, after);
      this.txn.entries.push(entry);
    } else {
      this.beforeWrite?.();
      this.batch.add(entry);
    }
  }

  insert(coll: Collection, doc: Document): void {
    const docKey = valueKey(doc._id);
    if (this.byId(coll.db, coll.name, doc._id, docKey) !== undefined) {
      throw new CommandError(
        11000,
        `E11000 duplicate key error collection: ${coll.ns} index: _id_ dup key: { _id: ${JSON.stringify(doc._id)} }`,
        { extra: { keyPattern: { _id: 1 }, keyValue: { _id: doc._id } } },
      );
    }
    this.claim(coll, docKey);
    this.checkUnique(coll, doc, docKey);
    if (!this.bypassValidation) checkValidator(coll, doc, undefined, this.state.log);
    this.record(coll, docKey, { op: 'insert', db: coll.db, coll: coll.name, uuid: coll.uuid, id: doc._id, doc }, doc);
  }

  /** Replaces `before` with `after` as an `update` (operators) or `replace` event. */
  replace(coll: Collection, before: Document, after: Document, op: 'update' | 'replace'): void {
    const docKey = valueKey(before._id);
    this.claim(coll, docKey);
    this.checkUnique(coll, after, docKey);
    if (!this.bypassValidation) checkValidator(coll, after, before, this.state.log);
    const entry: PendingEntry = {
      op,
      db: coll.db,
      coll: coll.name,
      uuid: coll.uuid,
      id: before._id,
      doc: after,
      pre: before,
      images: coll.preAndPostImages,
      updateDescription: op === 'update' ? (describeUpdate(before, after) as unknown as Document) : undefined,
    };
    this.record(coll, docKey, entry, after);
  }

  remove(coll: Collection, before: Document): void {
    const docKey = valueKey(before._id);
    this.claim(coll, docKey);
    this.record(
      coll,
      docKey,
      { op: 'delete', db: coll.db, coll: coll.name, uuid: coll.uuid, id: before._id, pre: before, images: coll.preAndPostImages },
      null,
    );
  }
}

/** How many views deep a view may rest on other views. */
const MAX_VIEW_DEPTH = 20;

export function notACollection(coll: Collection): CommandError {
  return new CommandError(166, `Namespace ${coll.ns} is a view, not a collection`);
}

export function validateCollectionName(db: string, name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.includes('$') || name.includes('\u0000') || name.startsWith('.')) {
    throw new CommandError(73, `Invalid collection name: '${db}.${String(name)}'`);
  }
  if (typeof db !== 'string' || db.length === 0 || /[/\\. "$]/.test(db)) {
    throw new CommandError(73, `Invalid database name: '${String(db)}'`);
  }
}
