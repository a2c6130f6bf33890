/** Collections, databases and indexes: create, collMod, drop, rename, list, indexes. */
import { UUID, type Document } from 'bson';
import { notACollection, validateCollectionName } from '../access.ts';
import { ID_INDEX, type Collection, type IndexSpec } from '../catalog.ts';
import { CommandError } from '../errors.ts';
import { compileFilter } from '../query.ts';
import { valueKey } from '../values.ts';
import { collectionArg, openCursor, type CommandContext, type Handler } from './context.ts';

const COLLECTION_OPTIONS = [
  'capped',
  'size',
  'max',
  'changeStreamPreAndPostImages',
  'validator',
  'validationLevel',
  'validationAction',
  'expireAfterSeconds',
  'clusteredIndex',
  'collation',
  'storageEngine',
  'indexOptionDefaults',
  'timeseries',
];
const MODIFIABLE = ['changeStreamPreAndPostImages', 'validator', 'validationLevel', 'validationAction', 'expireAfterSeconds'];

function noTransaction(ctx: CommandContext): void {
  if (ctx.access.txn) throw new CommandError(263, `Cannot run '${ctx.name}' in a multi-document transaction`);
}

function pick(body: Document, keys: string[]): Document {
  const out: Document = {};
  for (const k of keys) if (body[k] !== undefined) out[k] = body[k];
  return out;
}

function existing(ctx: CommandContext, name: string): Collection {
  const coll = ctx.state.catalog.get(ctx.db, name);
  if (!coll) throw new CommandError(26, `ns does not exist: ${ctx.db}.${name}`);
  return coll;
}

function commit<T>(ctx: CommandContext, fn: () => T): T {
  try {
    return fn();
  } finally {
    ctx.access.batch.flush();
  }
}

/** A view's definition: the collection (or view) it is on, in this database, and its pipeline. */
function viewOptions(ctx: CommandContext): Document {
  const { viewOn, pipeline } = ctx.body;
  if (typeof viewOn !== 'string' || viewOn.length === 0)
    throw new CommandError(2, `viewOn must be a collection name; got ${JSON.stringify(viewOn)}`);
  if (pipeline !== undefined && !Array.isArray(pipeline)) throw new CommandError(14, "'pipeline' of a view must be an array");
  if (ctx.access.txn) throw new CommandError(263, 'Cannot create a view in a multi-document transaction.');
  return { viewOn, pipeline: (pipeline ?? []) as Document[] };
}

const create: Handler = (ctx) => {
  const name = collectionArg(ctx);
  validateCollectionName(ctx.db, name);
  const options = ctx.body.viewOn !== undefined ? viewOptions(ctx) : pick(ctx.body, COLLECTION_OPTIONS);
  if (ctx.access.txn) {
    // Since 4.4 a transaction may create a collection; others see it once the transaction commits.
    if (ctx.access.collection(ctx.db, name)) throw new CommandError(48, `Collection ${ctx.db}.${name} already exists.`);
    ctx.access.createCollection(ctx.db, name, options);
    return { ok: 1 };
  }
  const coll = ctx.state.catalog.get(ctx.db, name);
  if (coll) {
    // MongoDB 7.0: create is idempotent when the options are the same (SERVER-60064).
    if (valueKey(coll.options) === valueKey(options)) return { ok: 1 };
    throw new CommandError(48, `namespace ${ctx.db}.${name} already exists, but with different options: ${JSON.stringify(coll.options)}`);
  }
  commit(ctx, () => ctx.access.batch.add({ op: 'create', db: ctx.db, coll: name, uuid: new UUID(), spec: options }));
  return { ok: 1 };
};

const collMod: Handler = (ctx) => {
  noTransaction(ctx);
  const name = collectionArg(ctx);
  const coll = existing(ctx, name);
  const changes = pick(ctx.body, MODIFIABLE);
  // Every collMod is a modify event (showExpandedEvents), even one that changes nothing.
  const before = { uuid: coll.uuid, ...coll.options };
  commit(ctx, () => ctx.access.batch.add({ op: 'modify', db: ctx.db, coll: name, uuid: coll.uuid, spec: { changes, before } }));
  return { ok: 1 };
};

const drop: Handler = (ctx) => {
  noTransaction(ctx);
  const name = collectionArg(ctx);
  const coll = existing(ctx, name);
  commit(ctx, () => ctx.access.batch.add({ op: 'drop', db: ctx.db, coll: name, uuid: coll.uuid }));
  return { nIndexesWas: coll.indexes.length, ns: coll.ns, ok: 1 };
};

const dropDatabase: Handler = (ctx) => {
  noTransaction(ctx);
  const colls = ctx.state.catalog.collections(ctx.db);
  if (colls.length === 0 && !ctx.state.catalog.dbs.has(ctx.db)) return { ok: 1 };
  commit(ctx, () => {
    for (const coll of colls) ctx.access.batch.add({ op: 'drop', db: ctx.db, coll: coll.name, uuid: coll.uuid });
    ctx.access.batch.add({ op: 'dropDatabase', db: ctx.db });
  });
  return { dropped: ctx.db, ok: 1 };
};

function splitNs(ns: unknown, field: string): { db: string; coll: string } {
  if (typeof ns !== 'string' || !ns.includes('.')) {
    throw new CommandError(73, `${field} needs a full namespace "db.collection"; got ${JSON.stringify(ns)}`);
  }
  const dot = ns.indexOf('.');
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

const renameCollection: Handler = (ctx) => {
  noTransaction(ctx);
  const from = splitNs(ctx.body.renameCollection, 'renameCollection');
  const to = splitNs(ctx.body.to, 'to');
  validateCollectionName(to.db, to.coll);
  const source = ctx.state.catalog.get(from.db, from.coll);
  if (!source) throw new CommandError(26, `Source collection ${from.db}.${from.coll} does not exist`);
  const target = ctx.state.catalog.get(to.db, to.coll);
  if (target && !ctx.body.dropTarget) throw new CommandError(48, `target namespace exists: ${to.db}.${to.coll}`);
  // One oplog entry, as mongod writes it: the rename, naming the collection it dropped at the target.
  const spec = target ? { dropTarget: target.uuid } : undefined;
  commit(ctx, () => ctx.access.batch.add({ op: 'rename', db: from.db, coll: from.coll, uuid: source.uuid, to, spec }));
  return { ok: 1 };
};

function describeCollection(coll: Collection): Document {
  if (coll.view) return { name: coll.name, type: 'view', options: coll.view, info: { readOnly: true } };
  return {
    name: coll.name,
    type: 'collection',
    options: coll.options,
    info: { readOnly: false, uuid: coll.uuid },
    idIndex: { v: 2, key: { _id: 1 }, name: '_id_' },
  };
}

const listCollections: Handler = (ctx) => {
  const test = compileFilter(ctx.body.filter as Document | undefined);
  let rows = ctx.state.catalog.collections(ctx.db).map(describeCollection).filter(test);
  if (ctx.body.nameOnly) rows = rows.map((r) => ({ name: r.name, type: r.type }));
  const batchSize = (ctx.body.cursor as Document | undefined)?.batchSize as number | undefined;
  return openCursor(ctx, `${ctx.db}.$cmd.listCollections`, rows, batchSize ?? Number.MAX_SAFE_INTEGER);
};

const listDatabases: Handler = (ctx) => {
  const test = compileFilter(ctx.body.filter as Document | undefined);
  const names = new Set(['admin', 'config', 'local']);
  for (const name of ctx.state.catalog.dbs.keys()) if (ctx.state.catalog.collections(name).length > 0) names.add(name);
  const rows = [...names]
    .sort()
    .map((name) => {
      const docs = ctx.state.catalog.collections(name).reduce((n, c) => n + c.docs.size, 0);
      return { name, sizeOnDisk: docs * 256 + 4096, empty: docs === 0 };
    })
    .filter(test);
  const totalSize = rows.reduce((n, r) => n + r.sizeOnDisk, 0);
  if (ctx.body.nameOnly) return { databases: rows.map((r) => ({ name: r.name })), ok: 1 };
  return { databases: rows, totalSize, totalSizeMb: Math.round(totalSize / 1048576), ok: 1 };
};

const listIndexes: Handler = (ctx) => {
  const name = collectionArg(ctx);
  const coll = existing(ctx, name);
  const batchSize = (ctx.body.cursor as Document | undefined)?.batchSize as number | undefined;
  return openCursor(ctx, `${ctx.db}.${name}`, coll.indexes, batchSize ?? Number.MAX_SAFE_INTEGER);
};

function indexName(key: Document): string {
  return Object.entries(key)
    .map(([k, v]) => `${k}_${String(v)}`)
    .join('_');
}

const createIndexes: Handler = (ctx) => {
  const name = collectionArg(ctx);
  const specs = ctx.body.indexes;
  if (!Array.isArray(specs) || specs.length === 0)
    throw new CommandError(2, 'createIndexes needs "indexes": a non-empty array of index specs');
  const onView = ctx.state.catalog.get(ctx.db, name);
  if (onView?.view) throw notACollection(onView);
  // In a transaction: only on a collection that does not exist yet or that the transaction created.
  if (ctx.access.txn && ctx.state.catalog.get(ctx.db, name)) {
    throw new CommandError(263, `Cannot create new indexes on existing collection ${ctx.db}.${name} in a multi-document transaction.`);
  }
  const before = ctx.access.collection(ctx.db, name);
  const numIndexesBefore = before?.indexes.length ?? 1;
  const toCreate: IndexSpec[] = [];
  for (const raw of specs as Document[]) {
    const key = raw.key as Document | undefined;
    if (!key || typeof key !== 'object' || Object.keys(key).length === 0) {
      throw new CommandError(2, `index spec needs "key": a non-empty document; got ${JSON.stringify(raw)}`);
    }
    const spec: IndexSpec = { ...raw, v: 2, key, name: (raw.name as string | undefined) ?? indexName(key) };
    const all = [...(before?.indexes ?? [ID_INDEX]), ...toCreate];
    const sameName = all.find((i) => i.name === spec.name);
    const sameKey = all.find((i) => valueKey(i.key) === valueKey(key));
    if (sameName && valueKey(sameName.key) !== valueKey(key)) {
      throw new CommandError(
        86,
        `An existing index has the same name as the requested index. Requested index: ${JSON.stringify(spec)}, existing index: ${JSON.stringify(sameName)}`,
      );
    }
    if (sameKey && sameKey.name !== spec.name) {
      throw new CommandError(85, `Index already exists with a different name: ${sameKey.name}`);
    }
    if (!sameName) toCreate.push(spec);
  }
  if (toCreate.length === 0) {
    return { numIndexesBefore, numIndexesAfter: numIndexesBefore, note: 'all indexes already exist', ok: 1 };
  }
  const coll = commit(ctx, () => ctx.access.ensureCollection(ctx.db, name));
  if (!ctx.access.txn) for (const spec of toCreate) if (spec.unique) coll.buildUnique(spec);
  commit(ctx, () => ctx.access.addIndexes(coll, toCreate));
  return {
    numIndexesBefore,
    numIndexesAfter: numIndexesBefore + toCreate.length,
    createdCollectionAutomatically: before === undefined,
    ok: 1,
  };
};

const dropIndexes: Handler = (ctx) => {
  noTransaction(ctx);
  const name = collectionArg(ctx);
  const coll = existing(ctx, name);
  const which = ctx.body.index;
  let names: string[];
  if (which === '*') names = coll.indexes.filter((i) => i.name !== '_id_').map((i) => i.name);
  else if (typeof which === 'string') names = [which];
  else if (Array.isArray(which)) names = which as string[];
  else if (which && typeof which === 'object') {
    const found = coll.indexes.find((i) => valueKey(i.key) === valueKey(which));
    if (!found) throw new CommandError(27, `can't find index with key: ${JSON.stringify(which)}`);
    names = [found.name];
  } else throw new CommandError(2, 'dropIndexes needs "index": a name, a key pattern, an array of names or "*"');
  for (const n of names) {
    if (n === '_id_') throw new CommandError(72, 'cannot drop _id index');
    if (!coll.indexes.some((i) => i.name === n)) throw new CommandError(27, `index not found with name [${n}]`);
  }
  const nIndexesWas = coll.indexes.length;
  if (names.length > 0)
    commit(ctx, () => ctx.access.batch.add({ op: 'dropIndexes', db: ctx.db, coll: name, uuid: coll.uuid, spec: { names } }));
  return { nIndexesWas, ok: 1 };
};

export const ddlCommands: Record<string, Handler> = {
  create,
  collMod,
  drop,
  dropDatabase,
  renameCollection,
  listCollections,
  listDatabases,
  listIndexes,
  createIndexes,
  dropIndexes,
};
