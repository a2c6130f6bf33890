/**
 * Query, projection, sort and aggregation semantics, from mingo
 * (a maintained implementation of MongoDB's query language) rather than our own.
 */
import type { Document } from 'bson';
import { Aggregator, Context, ProcessingMode, Query } from 'mingo';
import * as queryOperators from 'mingo/operators/query';
import { Query as PlainQuery } from 'mingo/query';
import { collated, type Collation } from './collation.ts';
import { sortDocuments } from './compare.ts';
import { CommandError } from './errors.ts';
import { jsonSchemaValidator } from './json-schema.ts';
import { isPlainObject, valueKey } from './values.ts';

/** Runs mingo, turning its errors into the server's BadValue with the reason. */
export function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof CommandError) throw err;
    throw new CommandError(2, `${what}: ${(err as Error).message}`);
  }
}

/**
 * Query operators only: mingo copies its context into every Query, and the full
 * one (every expression and stage operator too) costs more than the match when
 * a bulk write compiles one filter per statement.
 */
const QUERY_CONTEXT = Context.init({ query: queryOperators });
const NEEDS_FULL_CONTEXT = new Set(['$expr', '$where', '$jsonSchema', '$function']);

function needsFullContext(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(needsFullContext);
  if (!isPlainObject(value)) return false;
  for (const [key, inner] of Object.entries(value)) {
    if (NEEDS_FULL_CONTEXT.has(key) || needsFullContext(inner)) return true;
  }
  return false;
}

/** What a command adds to how its filter, sort and pipelines are evaluated: `let` variables and a collation. */
export interface Evaluation {
  variables?: Document;
  collation?: Collation;
}

export function compileFilter(filter: Document | undefined, evaluation?: Evaluation): (doc: Document) => boolean {
  if (!filter || Object.keys(filter).length === 0) return () => true;
  const collation = evaluation?.collation;
  if (collation) {
    // Both sides by their collation keys: strings that the collation calls equal compare equal.
    const keyed = compileFilter(collated(filter, collation) as Document, { variables: evaluation.variables });
    return (doc) => keyed(collated(doc, collation) as Document);
  }
  const variables = evaluation?.variables;
  const compile = (): { test(doc: Document): boolean } =>
    guarded('invalid query filter', () =>
      variables || needsFullContext(filter)
        ? new Query(filter, { jsonSchemaValidator, ...(variables ? { variables } : {}) })
        : new PlainQuery(filter, { context: QUERY_CONTEXT }),
    );
  const simple = simpleFilter(filter);
  if (!simple) {
    const q = compile();
    return (doc) => evaluated(() => q.test(doc));
  }
  // mingo only for a document the simple matcher cannot decide (an array on a path, a value of another BSON type).
  let q: { test(doc: Document): boolean } | undefined;
  return (doc) => simple(doc) ?? evaluated(() => (q ??= compile()).test(doc));
}

/**
 * A filter's expressions fail as they meet a document ($expr naming a variable
 * nobody defined): with the server's code for that, else BadValue.
 */
function evaluated(test: () => boolean): boolean {
  try {
    return test();
  } catch (err) {
    if (err instanceof CommandError) throw err;
    const message = (err as Error).message;
    const undefinedVariable = /^Use of undefined variable: (.*)$/.exec(message);
    if (undefinedVariable) throw new CommandError(17276, `Use of undefined variable: ${undefinedVariable[1]}`);
    throw new CommandError(2, `invalid query filter: ${message}`);
  }
}

/** true or false, or undefined when the simple matcher cannot decide and mingo must. */
type Decide = (doc: Document) => boolean | undefined;

const COMPARISONS = new Set(['$eq', '$ne', '$lt', '$lte', '$gt', '$gte']);

/**
 * The filters sync sends with every statement of a bulk write, and its change
 * streams' `$match` — `_id` equality, `$exists`, a comparison with a string,
 * number or date, `$in`/`$nin` of plain values, `$or`/`$and` of those —
 * matched without mingo, which deep-copies and compiles each filter (most of
 * the hub's time under a bulk write of 500 conditional updates). Anything else
 * is left to mingo: undefined here.
 */
function simpleFilter(filter: Document): Decide | undefined {
  const parts: Decide[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if (key === '$or' || key === '$and') {
      if (!Array.isArray(value) || value.length === 0) return undefined;
      const branches: Decide[] = [];
      for (const branch of value) {
        const inner = isPlainObject(branch) && Object.keys(branch).length > 0 ? simpleFilter(branch) : undefined;
        if (!inner) return undefined;
        branches.push(inner);
      }
      parts.push(combine(branches, key === '$or'));
      continue;
    }
    if (key.startsWith('$') || key === '' || key.split('.').some((p) => p === '' || /^\d+$/.test(p) || p.startsWith('$'))) return undefined;
    const condition = simpleCondition(key, value);
    if (!condition) return undefined;
    parts.push(condition);
  }
  return combine(parts, false);
}

/** `$and` (any false decides) or `$or` (any true decides); undefined when nothing decided and a part was unsure. */
function combine<T>(parts: Array<(x: T) => boolean | undefined>, decisive: boolean): (x: T) => boolean | undefined {
  return (x) => {
    let unsure = false;
    for (const part of parts) {
      const r = part(x);
      if (r === decisive) return decisive;
      if (r === undefined) unsure = true;
    }
    return unsure ? undefined : !decisive;
  };
}

/** A string, finite number or valid date: values whose order JavaScript gives as MongoDB does. */
function plainScalar(v: unknown): v is string | number | Date {
  if (typeof v === 'string') return !/[\ud800-\uffff]/.test(v); // UTF-16 order differs from the server's UTF-8 order here
  if (typeof v === 'number') return Number.isFinite(v);
  return v instanceof Date && !Number.isNaN(v.getTime());
}

/** The value at a path through plain sub-documents; `unsure` when an array or BSON value is on the way. */
const UNSURE = Symbol('unsure');
function plainPath(doc: Document, path: string[]): unknown {
  let cur: unknown = doc;
  for (const part of path) {
    if (cur === undefined || cur === null) return undefined;
    if (!isPlainObject(cur)) return typeof cur === 'object' ? UNSURE : undefined;
    cur = cur[part];
  }
  if (Array.isArray(cur)) return UNSURE;
  return cur;
}

function simpleCondition(key: string, value: unknown): Decide | undefined {
  const path = key.split('.');
  if (isPlainObject(value)) {
    const ops = Object.entries(value);
    if (ops.length === 0 || ops.some(([op]) => !op.startsWith('$'))) return undefined; // an embedded document to equal
    const tests: Array<(v: unknown) => boolean | undefined> = [];
    for (const [op, operand] of ops) {
      if (op === '$exists') {
        if (typeof operand !== 'boolean') return undefined;
        tests.push((v) => (v !== undefined) === operand);
      } else if (COMPARISONS.has(op) && plainScalar(operand)) {
        tests.push(comparison(op, operand));
      } else if ((op === '$in' || op === '$nin') && Array.isArray(operand) && operand.every(memberOperand)) {
        tests.push(membership(op, operand));
      } else return undefined;
    }
    const all = combine(tests, false);
    return (doc) => {
      const v = plainPath(doc, path);
      return v === UNSURE ? undefined : all(v);
    };
  }
  if (plainScalar(value) || isObjectId(value)) {
    const test = comparison('$eq', value);
    return (doc) => {
      const v = plainPath(doc, path);
      return v === UNSURE ? undefined : test(v);
    };
  }
  return undefined;
}

/** An `$in`/`$nin` list entry the simple matcher takes: a string, number, boolean, date, ObjectId or binary (a change event's lsid.id). */
function memberOperand(v: unknown): boolean {
  if (typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (v instanceof Date) return !Number.isNaN(v.getTime());
  const tag = typeof v === 'object' && v !== null ? (v as { _bsontype?: string })._bsontype : undefined;
  return tag === 'ObjectId' || tag === 'Binary';
}

/** `$in` or `$nin` by value key; a stored value that is not a plain scalar, ObjectId or binary is for mingo to decide. */
function membership(op: string, operands: unknown[]): (v: unknown) => boolean | undefined {
  const keys = new Set(operands.map((o) => valueKey(o)));
  const among = op === '$in';
  return (v) => {
    if (v === undefined || v === null) return !among; // no operand is null
    if (typeof v === 'object' && !(v instanceof Date) && !memberOperand(v)) return undefined;
    if (typeof v === 'number' && !Number.isFinite(v)) return undefined;
    return keys.has(valueKey(v)) === among;
  };
}

function isObjectId(v: unknown): boolean {
  return typeof v === 'object' && v !== null && (v as { _bsontype?: string })._bsontype === 'ObjectId';
}

/** A comparison with a plain scalar or ObjectId operand; undefined for a stored value of another kind that is not missing. */
function comparison(op: string, operand: unknown): (v: unknown) => boolean | undefined {
  const kind = operand instanceof Date ? 'date' : isObjectId(operand) ? 'oid' : typeof operand;
  const key = (x: unknown): string | number => (x instanceof Date ? x.getTime() : kind === 'oid' ? valueKey(x) : (x as string | number));
  const b = key(operand);
  return (v) => {
    if (v === undefined) return op === '$ne'; // missing: only $ne matches (the operand is never null here)
    const vKind = v instanceof Date ? 'date' : isObjectId(v) ? 'oid' : typeof v;
    if (vKind !== kind) {
      // null, booleans, strings, numbers and dates each sort in a bracket of their own: no match (every one
      // for $ne). Other BSON types (a Long compares with numbers) are for mingo to decide.
      const bracketApart = v === null || typeof v === 'boolean' || typeof v === 'string' || typeof v === 'number' || v instanceof Date;
      return bracketApart ? op === '$ne' : undefined;
    }
    if (kind !== 'oid' && !plainScalar(v)) return undefined;
    const a = key(v);
    switch (op) {
      case '$eq':
        return a === b;
      case '$ne':
        return a !== b;
      case '$lt':
        return a < b;
      case '$lte':
        return a <= b;
      case '$gt':
        return a > b;
      default:
        return a >= b;
    }
  };
}

/** The `_id` values a filter pins by equality or `$in` (other fields may still filter), else undefined. */
export function idEquality(filter: Document | undefined): { ids: unknown[] } | undefined {
  if (!filter || !('_id' in filter)) return undefined;
  const id = filter._id;
  if (isPlainObject(id)) {
    const keys = Object.keys(id);
    if (keys.length === 1 && keys[0] === '$eq') return { ids: [id.$eq] };
    if (keys.length === 1 && keys[0] === '$in' && Array.isArray(id.$in) && !id.$in.some((v) => v instanceof RegExp)) return { ids: id.$in };
    if (keys.some((k) => k.startsWith('$'))) return undefined;
  }
  if (id instanceof RegExp || Array.isArray(id)) return undefined;
  return { ids: [id] };
}

export interface FindOptions {
  filter?: Document;
  sort?: Document;
  projection?: Document;
  skip?: number;
  limit?: number;
  /** `docs` already holds only the documents an `{_id: value}` or `{_id: {$in}}` filter pins. */
  preFiltered?: boolean;
  evaluation?: Evaluation;
}

/** Filter, sort, skip, limit and project `docs`. Stored documents are never mutated. */
export function runFind(docs: Document[], opts: FindOptions): Document[] {
  let rows = docs;
  const sort = opts.sort && Object.keys(opts.sort).length > 0 ? { ...opts.sort } : undefined;
  if (sort && '$natural' in sort) {
    if (sort.$natural === -1) rows = [...rows].reverse();
    delete sort.$natural;
  }
  const filter = opts.filter;
  // `docs` came from the _id lookups of an `{_id: v}` or `{_id: {$in: [...]}}` filter: matching them again
  // would cost mingo a hash of the whole $in list per document.
  if (
    filter &&
    Object.keys(filter).length > 0 &&
    !(opts.preFiltered && Object.keys(filter).length === 1 && idEquality(filter) !== undefined && !opts.evaluation?.collation)
  ) {
    rows = rows.filter(compileFilter(filter, opts.evaluation));
  }
  if (sort && Object.keys(sort).length > 0) rows = sortDocuments(rows, sort, opts.evaluation?.collation);
  const skip = opts.skip ?? 0;
  const limit = opts.limit ? Math.abs(opts.limit) : 0;
  if (skip || limit) rows = rows.slice(skip, limit ? skip + limit : undefined);
  if (opts.projection && Object.keys(opts.projection).length > 0) {
    const projection = opts.projection;
    const variables = opts.evaluation?.variables;
    rows = guarded(
      'invalid projection',
      () => new Aggregator([{ $project: projection }], variables ? { variables } : undefined).run(rows) as Document[],
    );
  }
  return rows;
}

/** `$count` as `$group` + `$project`, which gives no document (not a zero count) for no input, as the server does. */
function rewriteCount(pipeline: Document[]): Document[] {
  return pipeline.flatMap((stage) => {
    if (!('$count' in stage)) return [stage];
    const name = String(stage.$count);
    return [{ $group: { _id: null, [name]: { $sum: 1 } } }, { $project: { _id: 0 } }];
  });
}

export function runAggregate(
  docs: Document[],
  pipeline: Document[],
  resolve: (name: string) => Document[],
  evaluation?: Evaluation,
): Document[] {
  // Leading $match stages only read, so they run on the stored documents and
  // only what they keep is copied (a count over a big collection copies nothing).
  let rows = docs;
  let rest = pipeline;
  while (rest.length > 0 && isPlainObject(rest[0]) && Object.keys(rest[0] as Document).length === 1 && '$match' in (rest[0] as Document)) {
    const match = (rest[0] as Document).$match as Document;
    if (!isPlainObject(match)) break;
    rows = rows.filter(compileFilter(match, evaluation));
    rest = rest.slice(1);
  }
  const counted = countOnly(rest, rows.length);
  if (counted) return counted;
  return guarded(
    'aggregation failed',
    () =>
      new Aggregator(rewriteCount(rest), {
        processingMode: ProcessingMode.CLONE_INPUT,
        collectionResolver: resolve,
        ...(evaluation?.variables ? { variables: evaluation.variables } : {}),
      }).run(rows) as Document[],
  );
}

/**
 * The driver's countDocuments shape, `{$group: {_id: <constant>, n: {$sum: 1}}}`
 * (or `$count`), answered without copying documents; undefined for anything else.
 */
function countOnly(pipeline: Document[], count: number): Document[] | undefined {
  if (pipeline.length !== 1 || !isPlainObject(pipeline[0])) return undefined;
  const stage = pipeline[0] as Document;
  const keys = Object.keys(stage);
  if (keys.length !== 1) return undefined;
  if (
    keys[0] === '$count' &&
    typeof stage.$count === 'string' &&
    stage.$count.length > 0 &&
    !stage.$count.startsWith('$') &&
    !stage.$count.includes('.')
  ) {
    return count === 0 ? [] : [{ [stage.$count]: count }];
  }
  if (keys[0] !== '$group' || !isPlainObject(stage.$group)) return undefined;
  const group = stage.$group as Document;
  const id = group._id;
  if (!(id === null || typeof id === 'number' || typeof id === 'boolean')) return undefined;
  const out: Document = { _id: id };
  for (const [field, acc] of Object.entries(group)) {
    if (field === '_id') continue;
    if (!isPlainObject(acc) || Object.keys(acc).length !== 1 || (acc as Document).$sum !== 1) return undefined;
    out[field] = count;
  }
  return count === 0 ? [] : [out];
}
