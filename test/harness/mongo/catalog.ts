/**
 * The data: databases, collections, documents and indexes. Changed only by
 * `applyEntry`, the one path shared by live writes and journal replay.
 */
import { UUID, type Document } from 'bson';
import type { ClusterTime } from './cluster-time.ts';
import { CommandError } from './errors.ts';
import type { ChangeEntry } from './oplog.ts';
import { Query } from 'mingo';
import { getPath, valueKey } from './values.ts';

export interface IndexSpec {
  v: number;
  key: Document;
  name: string;
  unique?: boolean;
  [option: string]: unknown;
}

const partialQueries = new WeakMap<IndexSpec, Query>();

export const ID_INDEX: IndexSpec = { v: 2, key: { _id: 1 }, name: '_id_' };

export class Collection {
  readonly db: string;
  name: string;
  readonly uuid: UUID;
  options: Document;
  /** Documents by `valueKey(_id)`, in insertion (natural) order. */
  readonly docs = new Map<string, Document>();
  indexes: IndexSpec[] = [ID_INDEX];
  /** For each unique index (other than _id): index key -> document key. */
  readonly unique = new Map<string, Map<string, string>>();
  /** While transactions are open: cluster time of each document's last committed write (write conflicts, snapshots). */
  readonly lastWrite = new Map<string, ClusterTime>();
  /** While transactions are open: each document's earlier versions, oldest first, for snapshot reads. */
  readonly history = new Map<string, Array<{ ts: ClusterTime; before: Document | undefined }>>();

  constructor(db: string, name: string, uuid: UUID, options: Document = {}) {
    this.db = db;
    this.name = name;
    this.uuid = uuid;
    this.options = options;
  }

  get ns(): string {
    return `${this.db}.${this.name}`;
  }

  /** A view's definition ({viewOn, pipeline}); undefined for a collection. */
  get view(): { viewOn: string; pipeline: Document[] } | undefined {
    const viewOn = this.options.viewOn;
    return typeof viewOn === 'string' ? { viewOn, pipeline: (this.options.pipeline ?? []) as Document[] } : undefined;
  }

  get preAndPostImages(): boolean {
    return (this.options.changeStreamPreAndPostImages as { enabled?: boolean } | undefined)?.enabled === true;
  }

  /** The document as it was at cluster time `ts` (a transaction's snapshot). */
  valueAt(docKey: string, ts: ClusterTime): Document | undefined {
    const last = this.lastWrite.get(docKey);
    if (last === undefined || last <= ts) return this.docs.get(docKey);
    for (const version of this.history.get(docKey) ?? []) if (version.ts > ts) return version.before;
    return this.docs.get(docKey);
  }

  /** Every document as of cluster time `ts`, as [key, document]. */
  *snapshot(ts: ClusterTime): Generator<[string, Document]> {
    for (const key of this.docs.keys()) {
      const doc = this.valueAt(key, ts);
      if (doc) yield [key, doc];
    }
    for (const key of this.history.keys()) {
      if (this.docs.has(key)) continue;
      const doc = this.valueAt(key, ts);
      if (doc) yield [key, doc];
    }
  }

  private remember(docKey: string, ts: ClusterTime): void {
    let versions = this.history.get(docKey);
    if (!versions) {
      versions = [];
      this.history.set(docKey, versions);
    }
    versions.push({ ts, before: this.docs.get(docKey) });
  }

  /** Records the current version before a write at `ts` (an open transaction may need it). */
  beforeWrite(docKey: string, ts: ClusterTime): void {
    this.remember(docKey, ts);
    this.lastWrite.set(docKey, ts);
  }

  /** Forgets the oldest version of `docKey` (written at `ts`), which no open transaction can read. */
  forget(docKey: string, ts: ClusterTime): void {
    const versions = this.history.get(docKey);
    if (versions?.[0]?.ts === ts) versions.shift();
    if (versions && versions.length === 0) this.history.delete(docKey);
    const last = this.lastWrite.get(docKey);
    if (last !== undefined && last <= ts) this.lastWrite.delete(docKey);
  }

  /** Whether a unique index covers `doc` (sparse: has an indexed field; partial: matches the filter). */
  static covers(index: IndexSpec, doc: Document): boolean {
    if (index.sparse && !Object.keys(index.key).some((field) => getPath(doc, field) !== undefined)) return false;
    const partial = index.partialFilterExpression as Document | undefined;
    if (partial) {
      let query = partialQueries.get(index);
      if (!query) {
        query = new Query(partial);
        partialQueries.set(index, query);
      }
      if (!query.test(doc)) return false;
    }
    return true;
  }

  /** The key a unique index gives `doc`. */
  static indexKey(index: IndexSpec, doc: Document): string {
    return Object.keys(index.key)
      .map((field) => valueKey(getPath(doc, field) ?? null))
      .join('\u0001');
  }

  /** Throws 11000 if `doc` would duplicate a unique key of another document. */
  checkUnique(doc: Document, docKey: string): void {
    for (const index of this.indexes) {
      if (!index.unique || index.name === '_id_' || !Collection.covers(index, doc)) continue;
      const key = Collection.indexKey(index, doc);
      const owner = this.unique.get(index.name)?.get(key);
      if (owner !== undefined && owner !== docKey) throw duplicateKey(this, index, doc);
    }
  }

  addToIndexes(doc: Document, docKey: string): void {
    for (const index of this.indexes) {
      if (!index.unique || index.name === '_id_' || !Collection.covers(index, doc)) continue;
      this.unique.get(index.name)?.set(Collection.indexKey(index, doc), docKey);
    }
  }

  removeFromIndexes(doc: Document, docKey: string): void {
    for (const index of this.indexes) {
      if (!index.unique || index.name === '_id_' || !Collection.covers(index, doc)) continue;
      const map = this.unique.get(index.name);
      const key = Collection.indexKey(index, doc);
      if (map?.get(key) === docKey) map.delete(key);
    }
  }

  /** Builds a unique index over the current documents; 11000 on a duplicate. */
  buildUnique(index: IndexSpec): Map<string, string> {
    const map = new Map<string, string>();
    for (const [docKey, doc] of this.docs) {
      if (!Collection.covers(index, doc)) continue;
      const key = Collection.indexKey(index, doc);
      if (map.has(key)) throw duplicateKey(this, index, doc);
      map.set(key, docKey);
    }
    return map;
  }
}

export function duplicateKey(coll: Collection, index: IndexSpec, doc: Document): CommandError {
  const keyValue: Document = {};
  for (const field of Object.keys(index.key)) keyValue[field] = getPath(doc, field) ?? null;
  const shown = Object.entries(keyValue)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
    .join(', ');
  return new CommandError(11000, `E11000 duplicate key error collection: ${coll.ns} index: ${index.name} dup key: { ${shown} }`, {
    extra: { keyPattern: index.key, keyValue },
  });
}

export class Catalog {
  readonly dbs = new Map<string, Map<string, Collection>>();
  /** Whether writes must keep the versions they replace (a transaction is open). */
  keepHistory: () => boolean = () => false;
  /** Every kept version in cluster-time order, so the ones no transaction needs go first. */
  #kept: Array<{ ts: ClusterTime; coll: Collection; key: string }> = [];
  #keptHead = 0;

  /**
   * Forgets versions no open transaction can read: those written at or before
   * the oldest open transaction's snapshot (all of them when none is open).
   */
  pruneHistory(oldestSnapshot: ClusterTime | undefined): void {
    if (oldestSnapshot === undefined) {
      for (const { coll } of this.#kept.slice(this.#keptHead)) {
        coll.history.clear();
        coll.lastWrite.clear();
      }
      this.#kept = [];
      this.#keptHead = 0;
      return;
    }
    while (this.#keptHead < this.#kept.length) {
      const v = this.#kept[this.#keptHead] as { ts: ClusterTime; coll: Collection; key: string };
      if (v.ts > oldestSnapshot) break;
      v.coll.forget(v.key, v.ts);
      this.#keptHead += 1;
    }
    if (this.#keptHead > 1024 && this.#keptHead > this.#kept.length / 2) {
      this.#kept = this.#kept.slice(this.#keptHead);
      this.#keptHead = 0;
    }
  }

  #beforeWrite(coll: Collection, key: string, ts: ClusterTime): void {
    if (!this.keepHistory()) return;
    coll.beforeWrite(key, ts);
    this.#kept.push({ ts, coll, key });
  }

  get(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  collections(db: string): Collection[] {
    return [...(this.dbs.get(db)?.values() ?? [])];
  }

  all(): Collection[] {
    return [...this.dbs.values()].flatMap((colls) => [...colls.values()]);
  }

  private add(coll: Collection): void {
    let db = this.dbs.get(coll.db);
    if (!db) {
      db = new Map();
      this.dbs.set(coll.db, db);
    }
    db.set(coll.name, coll);
  }

  /** Applies one committed change to the data. */
  applyEntry(entry: ChangeEntry): void {
    const coll = entry.coll === undefined ? undefined : this.get(entry.db, entry.coll);
    switch (entry.op) {
      case 'create': {
        if (!coll) this.add(new Collection(entry.db, entry.coll as string, entry.uuid as UUID, entry.spec ?? {}));
        return;
      }
      case 'insert':
      case 'update':
      case 'replace': {
        const target = coll ?? this.implicitCreate(entry);
        const doc = entry.doc as Document;
        const key = valueKey(doc._id);
        const old = target.docs.get(key);
        this.#beforeWrite(target, key, entry.ts);
        if (old) target.removeFromIndexes(old, key);
        target.docs.set(key, doc);
        target.addToIndexes(doc, key);
        return;
      }
      case 'delete': {
        if (!coll) return;
        const key = valueKey(entry.id);
        const old = coll.docs.get(key);
        this.#beforeWrite(coll, key, entry.ts);
        if (old) coll.removeFromIndexes(old, key);
        coll.docs.delete(key);
        return;
      }
      case 'drop':
        this.dbs.get(entry.db)?.delete(entry.coll as string);
        return;
      case 'dropDatabase':
        this.dbs.delete(entry.db);
        return;
      case 'rename': {
        if (!coll || !entry.to) return;
        this.dbs.get(entry.db)?.delete(coll.name);
        this.dbs.get(entry.to.db)?.delete(entry.to.coll);
        const moved = new Collection(entry.to.db, entry.to.coll, coll.uuid, coll.options);
        for (const [k, v] of coll.docs) moved.docs.set(k, v);
        moved.indexes = coll.indexes;
        for (const [k, v] of coll.unique) moved.unique.set(k, v);
        this.add(moved);
        return;
      }
      case 'createIndexes': {
        const target = coll ?? this.implicitCreate(entry);
        for (const spec of (entry.spec?.indexes ?? []) as IndexSpec[]) {
          if (target.indexes.some((i) => i.name === spec.name)) continue;
          if (spec.unique && spec.name !== '_id_') target.unique.set(spec.name, target.buildUnique(spec));
          target.indexes = [...target.indexes, spec];
        }
        return;
      }
      case 'dropIndexes': {
        if (!coll) return;
        const names = new Set((entry.spec?.names ?? []) as string[]);
        coll.indexes = coll.indexes.filter((i) => !names.has(i.name));
        for (const name of names) coll.unique.delete(name);
        return;
      }
      case 'modify': {
        // Older journals hold the changed options themselves; newer ones {changes, before}.
        const changes = (entry.spec && 'before' in entry.spec ? entry.spec.changes : entry.spec) as Document | undefined;
        if (coll && changes) coll.options = { ...coll.options, ...changes };
        return;
      }
    }
  }

  private implicitCreate(entry: ChangeEntry): Collection {
    const coll = new Collection(entry.db, entry.coll as string, entry.uuid ?? new UUID());
    this.add(coll);
    return coll;
  }
}
