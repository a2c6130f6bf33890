/** The write commands: insert, update, delete, findAndModify. */
import { ObjectId, calculateObjectSize, type Document } from 'bson';
import { LockedError } from '../access.ts';
import type { Collection } from '../catalog.ts';
import { CommandError } from '../errors.ts';
import { runFind } from '../query.ts';
import { applyUpdate, type UpdateSpec } from '../update.ts';
import { bsonEqual, idFirst, valueKey } from '../values.ts';
import { MAX_BSON_BYTES } from '../wire.ts';
import { collectionArg, type CommandContext, type Handler } from './context.ts';
import { evaluationOf, matching } from './reads.ts';

export interface WriteErrorDoc {
  index: number;
  code: number;
  errmsg: string;
  [k: string]: unknown;
}

/**
 * Runs each statement of a write command. A statement that meets a document
 * held by an open transaction waits for it and runs again; other errors become
 * write errors (ordered commands stop at the first). In a transaction a
 * WriteConflict fails the whole command so the driver can retry it.
 */
export async function runStatements(ctx: CommandContext, count: number, run: (index: number) => void): Promise<WriteErrorDoc[]> {
  const ordered = ctx.body.ordered !== false;
  const errors: WriteErrorDoc[] = [];
  try {
    for (let i = ctx.firstStatement; i < count; i += 1) {
      for (;;) {
        try {
          run(i);
          break;
        } catch (err) {
          if (err instanceof LockedError) {
            ctx.access.batch.flush();
            await ctx.state.sessions.waitForRelease(50);
            continue;
          }
          if (!(err instanceof CommandError)) throw err;
          if (ctx.access.txn && err.code === 112) throw err;
          errors.push({ index: i, code: err.code, errmsg: err.message, ...err.extra });
          break;
        }
      }
      if (errors.length > 0 && (ordered || ctx.access.txn)) break;
    }
  } finally {
    ctx.access.batch.flush();
  }
  if (errors.length > 0 && ctx.access.txn) ctx.state.sessions.abort(ctx.access.txn);
  return errors;
}

function withErrors(reply: Document, errors: WriteErrorDoc[]): Document {
  if (errors.length > 0) reply.writeErrors = errors;
  reply.ok = 1;
  return reply;
}

/** A document over 16 MB (yet small enough to have been read) is refused as mongod refuses it: BadValue. */
function checkSize(ctx: CommandContext, doc: Document, what: string): void {
  if (ctx.messageBytes < MAX_BSON_BYTES) return;
  const size = calculateObjectSize(doc);
  if (size > MAX_BSON_BYTES) {
    throw new CommandError(2, `${what} too large. size in bytes: ${size}, max size: ${MAX_BSON_BYTES}`);
  }
}

/** An _id that is a document may not hold $-prefixed fields (they could not be stored). */
function checkIdForStorage(id: unknown): void {
  if (!id || typeof id !== 'object' || Array.isArray(id) || '_bsontype' in (id as object) || id instanceof Date) return;
  for (const key of Object.keys(id as Document)) {
    if (key.startsWith('$')) {
      throw new CommandError(52, `_id fields may not contain '$'-prefixed fields: ${key} is not valid for storage.`);
    }
  }
}

export function requireArray(ctx: CommandContext, field: string): Document[] {
  const value = ctx.body[field];
  if (!Array.isArray(value)) throw new CommandError(9, `${ctx.name} needs "${field}" as an array of documents`);
  return value as Document[];
}

/** Inserts one document into `name` (in ctx.db), as an insert statement does. */
export function insertStatement(ctx: CommandContext, name: string, given: Document): void {
  let doc = given;
  if (doc._id === undefined) doc = { _id: new ObjectId(), ...doc };
  else doc = idFirst(doc);
  checkIdForStorage(doc._id);
  checkSize(ctx, doc, 'object to insert');
  const coll = ctx.access.ensureCollection(ctx.db, name);
  ctx.access.insert(coll, doc);
}

/** What an update statement has done so far: counted as each document is written, so a statement that fails counts what it wrote. */
export interface UpdateTally {
  n: number;
  nModified: number;
}

/**
 * Runs one update statement (`{q, u, multi, upsert, arrayFilters, c, collation, sort}`)
 * on `name` in ctx.db. Returns the _id of the document it upserted, if any.
 */
export function updateStatement(ctx: CommandContext, name: string, s: Document, tally: UpdateTally): { _id: unknown } | undefined {
  const filter = s.q as Document | undefined;
  const u = s.u as UpdateSpec;
  if (u === undefined || u === null || typeof u !== 'object')
    throw new CommandError(9, 'update statement needs "u": a document or a pipeline');
  const evaluation = evaluationOf(ctx, name, s);
  // 8.0: an update of one document may say which one, by a sort.
  if (s.sort !== undefined && s.multi) throw new CommandError(72, 'Cannot specify sort with multi=true');
  const targets = matching(ctx, ctx.db, name, filter, s.sort as Document | undefined, evaluation);
  const chosen = s.multi ? targets : targets.slice(0, 1);
  const updateOptions = { filter, arrayFilters: s.arrayFilters as Document[] | undefined, variables: evaluation.variables };
  if (chosen.length === 0) {
    if (!s.upsert) return undefined;
    const doc = applyUpdate(undefined, u, updateOptions);
    checkSize(ctx, doc, 'object to insert');
    const coll = ctx.access.ensureCollection(ctx.db, name);
    ctx.access.insert(coll, doc);
    tally.n += 1;
    return { _id: doc._id };
  }
  const coll = ctx.access.collection(ctx.db, name) as Collection;
  const changes: Array<[Document, Document]> = [];
  for (const before of chosen) {
    const after = applyUpdate(before, u, updateOptions);
    if (calculateObjectSize(after) > MAX_BSON_BYTES) {
      throw new CommandError(17419, `Resulting document after update is larger than ${MAX_BSON_BYTES}`);
    }
    changes.push([before, after]);
  }
  // Claim every target first, so a wait leaves nothing half-applied.
  for (const [before] of changes) if (!ctx.access.txn) ctx.access.claim(coll, valueKey(before._id));
  for (const [before, after] of changes) {
    if (!bsonEqual(before, after)) {
      ctx.access.replace(coll, before, after, Array.isArray(u) || Object.keys(u).some((k) => k.startsWith('$')) ? 'update' : 'replace');
      tally.nModified += 1;
    }
    tally.n += 1;
  }
  return undefined;
}

/** Runs one delete statement (`{q, limit, collation}`) on `name` in ctx.db; returns how many documents it deleted. */
export function deleteStatement(ctx: CommandContext, name: string, s: Document): number {
  const coll = ctx.access.collection(ctx.db, name);
  if (!coll) return 0;
  const targets = matching(ctx, ctx.db, name, s.q as Document | undefined, undefined, evaluationOf(ctx, name, s));
  const chosen = Number(s.limit) === 1 ? targets.slice(0, 1) : targets;
  for (const doc of chosen) if (!ctx.access.txn) ctx.access.claim(coll, valueKey(doc._id));
  let n = 0;
  for (const doc of chosen) {
    ctx.access.remove(coll, doc);
    n += 1;
  }
  return n;
}

const insert: Handler = async (ctx) => {
  const name = collectionArg(ctx);
  const docs = requireArray(ctx, 'documents');
  ctx.state.opcounters.insert += docs.length;
  let n = 0;
  const errors = await runStatements(ctx, docs.length, (i) => {
    insertStatement(ctx, name, docs[i] as Document);
    n += 1;
  });
  return withErrors({ n }, errors);
};

const update: Handler = async (ctx) => {
  const name = collectionArg(ctx);
  const statements = requireArray(ctx, 'updates');
  ctx.state.opcounters.update += statements.length;
  const tally: UpdateTally = { n: 0, nModified: 0 };
  const upserted: Document[] = [];
  const errors = await runStatements(ctx, statements.length, (i) => {
    const id = updateStatement(ctx, name, statements[i] as Document, tally);
    if (id) upserted.push({ index: i, _id: id._id });
  });
  const reply: Document = { n: tally.n, nModified: tally.nModified };
  if (upserted.length > 0) reply.upserted = upserted;
  return withErrors(reply, errors);
};

const remove: Handler = async (ctx) => {
  const name = collectionArg(ctx);
  const statements = requireArray(ctx, 'deletes');
  ctx.state.opcounters.delete += statements.length;
  let n = 0;
  const errors = await runStatements(ctx, statements.length, (i) => {
    n += deleteStatement(ctx, name, statements[i] as Document);
  });
  return withErrors({ n }, errors);
};

const findAndModify: Handler = async (ctx) => {
  const name = collectionArg(ctx);
  const b = ctx.body;
  const filter = b.query as Document | undefined;
  const fields = b.fields as Document | undefined;
  const project = (doc: Document | null): Document | null => (doc && fields ? (runFind([doc], { projection: fields })[0] ?? null) : doc);
  if (b.remove && b.update !== undefined) throw new CommandError(9, 'findAndModify takes either "remove" or "update", not both');
  if (!b.remove && b.update === undefined) throw new CommandError(9, 'findAndModify needs "remove: true" or an "update"');
  let result: Document = {};
  const evaluation = evaluationOf(ctx, name);
  const errors = await runStatements(ctx, 1, () => {
    const target = matching(ctx, ctx.db, name, filter, b.sort as Document | undefined, evaluation)[0];
    if (b.remove) {
      ctx.state.opcounters.delete += 1;
      if (!target) {
        result = { lastErrorObject: { n: 0 }, value: null };
        return;
      }
      const coll = ctx.access.collection(ctx.db, name) as Collection;
      ctx.access.remove(coll, target);
      result = { lastErrorObject: { n: 1 }, value: project(target) };
      return;
    }
    ctx.state.opcounters.update += 1;
    const u = b.update as UpdateSpec;
    const arrayFilters = b.arrayFilters as Document[] | undefined;
    if (!target) {
      if (!b.upsert) {
        result = { lastErrorObject: { n: 0, updatedExisting: false }, value: null };
        return;
      }
      const doc = applyUpdate(undefined, u, { filter, arrayFilters, variables: evaluation.variables });
      const coll = ctx.access.ensureCollection(ctx.db, name);
      ctx.access.insert(coll, doc);
      result = { lastErrorObject: { n: 1, updatedExisting: false, upserted: doc._id }, value: b.new ? project(doc) : null };
      return;
    }
    const after = applyUpdate(target, u, { filter, arrayFilters, variables: evaluation.variables });
    const coll = ctx.access.collection(ctx.db, name) as Collection;
    if (valueKey(after) !== valueKey(target)) {
      ctx.access.replace(coll, target, after, Array.isArray(u) || Object.keys(u).some((k) => k.startsWith('$')) ? 'update' : 'replace');
    }
    result = { lastErrorObject: { n: 1, updatedExisting: true }, value: project(b.new ? after : target) };
  });
  const first = errors[0];
  if (first) {
    const { index: _index, code, errmsg, ...extra } = first;
    throw new CommandError(code, errmsg, { extra });
  }
  return { ...result, ok: 1 };
};

export const crudCommands: Record<string, Handler> = {
  insert,
  update,
  delete: remove,
  findAndModify,
  findandmodify: findAndModify,
};
