/** The read commands — find, count, distinct — and how every command reads the documents it works on. */
import { Long, type Document } from 'bson';
import { Aggregator } from 'mingo';
import type { Collection } from '../catalog.ts';
import { collated, collationOf } from '../collation.ts';
import { CommandError } from '../errors.ts';
import { compileFilter, idEquality, runFind, type Evaluation } from '../query.ts';
import { getPath, isPlainObject, valueKey, valuesAtPath } from '../values.ts';
import { collectionArg, intArg, openCursor, type CommandContext, type Handler } from './context.ts';
import { oplogDocuments, oplogEnds, isOplogNamespace } from './oplog-view.ts';

/** `let` values are expressions, evaluated once before the command runs ({$literal: '$x'} is the string '$x'). */
function letValues(given: Document): Document {
  try {
    return (new Aggregator([{ $replaceWith: { $literal: {} } }, { $set: given }]).run([{}])[0] ?? {}) as Document;
  } catch (err) {
    throw new CommandError(2, `invalid let variables: ${(err as Error).message}`);
  }
}

/**
 * The `let` variables and collation a command (or one statement of it, with its
 * own `c` constants and collation) is evaluated with; a collection's default
 * collation when the command names none.
 */
export function evaluationOf(ctx: CommandContext, name: string, statement?: Document): Evaluation {
  const given = { ...(isPlainObject(ctx.body.let) ? ctx.body.let : {}), ...(isPlainObject(statement?.c) ? statement.c : {}) };
  const variables = Object.keys(given).length > 0 ? letValues(given) : {};
  const spec = statement ? statement.collation : ctx.body.collation;
  const collation = collationOf(spec ?? ctx.access.collection(ctx.db, name)?.options.collation);
  return { variables: Object.keys(variables).length > 0 ? variables : undefined, collation };
}

function visible(
  ctx: CommandContext,
  coll: Collection | undefined,
  db: string,
  name: string,
  filter?: Document,
  evaluation?: Evaluation,
): Document[] {
  if (!coll) return [];
  // A collation may call other _id strings equal: then every document is a candidate.
  const byId = evaluation?.collation ? undefined : idEquality(filter);
  if (byId) {
    const seen = new Set<string>();
    const docs: Document[] = [];
    for (const id of byId.ids) {
      const key = valueKey(id);
      if (seen.has(key)) continue;
      seen.add(key);
      const doc = ctx.access.byId(db, name, id, key);
      if (doc) docs.push(doc);
    }
    return docs;
  }
  return ctx.access.documents(db, name);
}

/** Matching documents, in natural order or by `sort`. */
export function matching(
  ctx: CommandContext,
  db: string,
  name: string,
  filter: Document | undefined,
  sort?: Document,
  evaluation?: Evaluation,
): Document[] {
  const coll = ctx.access.collection(db, name);
  return runFind(visible(ctx, coll, db, name, filter, evaluation), { filter, sort, preFiltered: true, evaluation });
}

/** The documents a read starts from: one by _id when the filter pins it, else all. */
export function readDocuments(ctx: CommandContext, name: string, filter: Document | undefined, evaluation?: Evaluation): Document[] {
  if (isOplogNamespace(ctx.db, name)) return oplogDocuments(ctx.state);
  const coll = ctx.access.collection(ctx.db, name);
  return visible(ctx, coll, ctx.db, name, filter, evaluation);
}

const find: Handler = (ctx) => {
  const name = collectionArg(ctx);
  const b = ctx.body;
  ctx.state.opcounters.query += 1;
  const filter = b.filter as Document | undefined;
  const limit = intArg(b, 'limit');
  const ends = isOplogNamespace(ctx.db, name) ? oplogEnds(ctx.state, b) : undefined;
  if (ends)
    return openCursor(
      ctx,
      `${ctx.db}.${name}`,
      runFind(ends, { projection: b.projection as Document | undefined }),
      intArg(b, 'batchSize'),
      true,
    );
  const evaluation = evaluationOf(ctx, name);
  const rows = runFind(readDocuments(ctx, name, filter, evaluation), {
    filter,
    preFiltered: !isOplogNamespace(ctx.db, name),
    sort: b.sort as Document | undefined,
    projection: b.projection as Document | undefined,
    skip: intArg(b, 'skip'),
    limit,
    evaluation,
  });
  const singleBatch = b.singleBatch === true || (limit !== undefined && limit < 0);
  return openCursor(ctx, `${ctx.db}.${name}`, keysOrRecordIds(ctx, name, rows), intArg(b, 'batchSize'), singleBatch);
};

/**
 * find's returnKey: each document as the key of the index the query used (the
 * hinted one, else one led by the sort's or the filter's first field, else
 * none: an empty document). showRecordId without returnKey adds $recordId.
 */
function keysOrRecordIds(ctx: CommandContext, name: string, rows: Document[]): Document[] {
  const b = ctx.body;
  if (b.returnKey === true) {
    const indexes = ctx.access.collection(ctx.db, name)?.indexes ?? [];
    const hint = b.hint as string | Document | undefined;
    const leading = [...Object.keys((b.sort ?? {}) as Document), ...Object.keys((b.filter ?? {}) as Document)][0];
    const index =
      typeof hint === 'string'
        ? indexes.find((i) => i.name === hint)
        : hint
          ? indexes.find((i) => valueKey(i.key) === valueKey(hint))
          : indexes.find((i) => Object.keys(i.key)[0] === leading);
    const fields = index ? Object.keys(index.key) : [];
    return rows.map((row) => Object.fromEntries(fields.flatMap((f) => (getPath(row, f) === undefined ? [] : [[f, getPath(row, f)]]))));
  }
  if (b.showRecordId === true) return rows.map((row, i) => ({ ...row, $recordId: Long.fromNumber(i + 1) }));
  return rows;
}

const count: Handler = (ctx) => {
  const name = collectionArg(ctx);
  const b = ctx.body;
  const query = b.query as Document | undefined;
  // No filter, skip or limit, outside a transaction: the size of the collection, as the server answers from its metadata.
  const whole = (!query || Object.keys(query).length === 0) && !intArg(b, 'skip') && !intArg(b, 'limit');
  const coll = ctx.access.collection(ctx.db, name);
  if (whole && !ctx.access.txn && !isOplogNamespace(ctx.db, name) && !coll?.view) return { n: coll?.docs.size ?? 0, ok: 1 };
  const evaluation = evaluationOf(ctx, name);
  const rows = runFind(readDocuments(ctx, name, query, evaluation), {
    filter: query,
    skip: intArg(b, 'skip'),
    limit: intArg(b, 'limit'),
    evaluation,
  });
  return { n: rows.length, ok: 1 };
};

const distinct: Handler = (ctx) => {
  const name = collectionArg(ctx);
  const key = ctx.body.key;
  if (typeof key !== 'string') throw new CommandError(14, `distinct needs "key" as a string field path; got ${JSON.stringify(key)}`);
  const evaluation = evaluationOf(ctx, name);
  const test = compileFilter(ctx.body.query as Document | undefined, evaluation);
  const seen = new Map<string, unknown>();
  for (const doc of readDocuments(ctx, name, ctx.body.query as Document | undefined, evaluation)) {
    if (!test(doc)) continue;
    for (const v of valuesAtPath(doc, key)) {
      // Values the collation calls equal are one value: the first one seen.
      const k = valueKey(evaluation.collation ? collated(v, evaluation.collation) : v);
      if (!seen.has(k)) seen.set(k, v);
    }
  }
  return { values: [...seen.values()], ok: 1 };
};

export const readCommands: Record<string, Handler> = { find, count, distinct };
