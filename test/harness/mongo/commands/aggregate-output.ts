/**
 * The stages that write an aggregation's results: $out (the results replace
 * the target collection, built aside as tmp.agg_out.<uuid> and renamed over
 * it, its indexes and options kept, as mongod does) and $merge (each result
 * inserted into, merged with or replacing the target's document with the same
 * `on` fields). Neither runs inside a transaction.
 */
import { ObjectId, UUID, type Document } from 'bson';
import { validateCollectionName } from '../access.ts';
import type { Collection } from '../catalog.ts';
import { CommandError } from '../errors.ts';
import { applyUpdate } from '../update.ts';
import { getPath, idFirst, isPlainObject, valueKey } from '../values.ts';
import type { CommandContext } from './context.ts';

export const OUTPUT_STAGES = new Set(['$out', '$merge']);

function target(ctx: CommandContext, spec: unknown, stage: string): { db: string; coll: string } {
  if (typeof spec === 'string') return { db: ctx.db, coll: spec };
  const into = (isPlainObject(spec) ? (stage === '$merge' ? spec.into : spec) : undefined) as unknown;
  if (typeof into === 'string') return { db: ctx.db, coll: into };
  if (isPlainObject(into) && typeof into.coll === 'string') return { db: typeof into.db === 'string' ? into.db : ctx.db, coll: into.coll };
  throw new CommandError(9, `${stage} needs a target collection; got ${JSON.stringify(spec)}`);
}

function writable(ctx: CommandContext, db: string, coll: string, stage: string): Collection | undefined {
  if (ctx.access.txn) throw new CommandError(263, `${stage} cannot be used in a transaction`);
  validateCollectionName(db, coll);
  const existing = ctx.state.catalog.get(db, coll);
  if (existing?.view) throw new CommandError(166, `Namespace ${db}.${coll} is a view, not a collection`);
  return existing;
}

function duplicateKey(ns: string, keyPattern: Document, keyValue: Document): CommandError {
  return new CommandError(
    11000,
    `E11000 duplicate key error collection: ${ns} index: ${Object.keys(keyPattern).join('_')}_1 dup key: ${JSON.stringify(keyValue)}`,
    {
      extra: { keyPattern, keyValue },
    },
  );
}

/** $out: the results become the target collection. */
export function writeOut(ctx: CommandContext, spec: unknown, rows: Document[]): void {
  const to = target(ctx, spec, '$out');
  const existing = writable(ctx, to.db, to.coll, '$out');
  const tmpName = `tmp.agg_out.${new UUID().toHexString(false)}`;
  const batch = ctx.access.batch;
  try {
    const tmp = ctx.access.createCollection(to.db, tmpName, existing?.options ?? {});
    const indexes = (existing?.indexes ?? []).filter((i) => i.name !== '_id_');
    if (indexes.length > 0) {
      for (const index of indexes) if (index.unique) tmp.buildUnique(index);
      ctx.access.addIndexes(tmp, indexes);
    }
    for (const row of rows) ctx.access.insert(tmp, idFirst(row._id === undefined ? { _id: new ObjectId(), ...row } : row));
    const dropTarget = existing ? { dropTarget: existing.uuid } : undefined;
    batch.add({ op: 'rename', db: to.db, coll: tmpName, uuid: tmp.uuid, to, spec: dropTarget });
  } catch (err) {
    // The target is untouched; the half-built copy goes.
    const tmp = ctx.state.catalog.get(to.db, tmpName);
    if (tmp) batch.add({ op: 'drop', db: to.db, coll: tmpName, uuid: tmp.uuid });
    throw err;
  } finally {
    batch.flush();
  }
}

type WhenMatched = 'merge' | 'replace' | 'keepExisting' | 'fail' | Document[];

/** $merge: each result into the target, by its `on` fields. */
export function writeMerge(ctx: CommandContext, spec: unknown, rows: Document[], variables: Document | undefined): void {
  const to = target(ctx, spec, '$merge');
  const options = (isPlainObject(spec) ? spec : {}) as Document;
  const on = options.on === undefined ? ['_id'] : Array.isArray(options.on) ? (options.on as string[]) : [String(options.on)];
  const whenMatched = (options.whenMatched ?? 'merge') as WhenMatched;
  const whenNotMatched = (options.whenNotMatched ?? 'insert') as string;
  const existing = writable(ctx, to.db, to.coll, '$merge');
  if (on.join() !== '_id') {
    const unique = existing?.indexes.some((i) => i.unique && Object.keys(i.key).sort().join() === [...on].sort().join());
    if (!unique) throw new CommandError(51183, 'Cannot find index to verify that join fields will be unique');
  }
  const letVars = { ...variables, ...(isPlainObject(options.let) ? options.let : {}) };
  try {
    for (const row of rows) {
      const doc = idFirst(row._id === undefined ? { _id: new ObjectId(), ...row } : row);
      const key: Document = {};
      for (const field of on) {
        const value = getPath(doc, field);
        if (value === undefined || value === null || Array.isArray(value)) {
          throw new CommandError(51132, "$merge write error: 'on' field cannot be missing, null, undefined or an array");
        }
        key[field] = value;
      }
      const coll = ctx.access.ensureCollection(to.db, to.coll);
      const found = ctx.access.documents(to.db, to.coll).find((d) => on.every((f) => valueKey(getPath(d, f)) === valueKey(key[f])));
      if (!found) {
        if (whenNotMatched === 'insert') ctx.access.insert(coll, doc);
        else if (whenNotMatched === 'fail') {
          throw new CommandError(
            13113,
            '$merge could not find a matching document in the target collection for at least one document in the source collection',
          );
        }
        continue;
      }
      if (whenMatched === 'keepExisting') continue;
      if (whenMatched === 'fail') throw duplicateKey(`${to.db}.${to.coll}`, Object.fromEntries(on.map((f) => [f, 1])), key);
      let after: Document;
      if (Array.isArray(whenMatched)) after = applyUpdate(found, whenMatched, { variables: { ...letVars, new: doc } });
      else if (whenMatched === 'replace') after = { ...doc, _id: found._id };
      else after = { ...found, ...doc, _id: found._id };
      if (valueKey(after) !== valueKey(found))
        ctx.access.replace(coll, found, idFirst(after), Array.isArray(whenMatched) || whenMatched === 'merge' ? 'update' : 'replace');
    }
  } finally {
    ctx.access.batch.flush();
  }
}
