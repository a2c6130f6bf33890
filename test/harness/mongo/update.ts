/**
 * Update semantics: operator updates (mingo's, with the server's checks in
 * front and a fast path for $set/$unset/$inc), replacements, pipeline updates
 * and the document an upsert starts from.
 */
import { ObjectId, Timestamp, type Document } from 'bson';
import { Aggregator, update as mingoUpdate } from 'mingo';
import { CommandError } from './errors.ts';
import { guarded } from './query.ts';
import { copyDocument, getPath, idFirst, isPlainObject, setPath, valueKey } from './values.ts';
import { wallNow } from './wall-clock.ts';

const UPDATE_OPERATORS = new Set([
  '$set',
  '$unset',
  '$inc',
  '$mul',
  '$min',
  '$max',
  '$rename',
  '$push',
  '$addToSet',
  '$pull',
  '$pullAll',
  '$pop',
  '$currentDate',
  '$bit',
  '$setOnInsert',
]);

/** The document an upsert starts from: the equality fields of its filter. */
function seedFromFilter(filter: Document | undefined): Document {
  const seed: Document = {};
  const visit = (f: Document): void => {
    for (const [key, value] of Object.entries(f)) {
      if (key === '$and' && Array.isArray(value)) {
        for (const sub of value) visit(sub as Document);
      } else if (!key.startsWith('$')) {
        if (isPlainObject(value) && Object.keys(value).some((k) => k.startsWith('$'))) {
          if ('$eq' in value) setPath(seed, key, value.$eq);
        } else setPath(seed, key, value);
      }
    }
  };
  if (filter) visit(filter);
  return seed;
}

export type UpdateSpec = Document | Document[];

export function isOperatorUpdate(u: UpdateSpec): boolean {
  return !Array.isArray(u) && Object.keys(u).some((k) => k.startsWith('$'));
}

function validateOperators(u: Document): void {
  for (const key of Object.keys(u)) {
    if (!key.startsWith('$')) {
      throw new CommandError(
        9,
        `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
    if (!UPDATE_OPERATORS.has(key)) {
      throw new CommandError(
        9,
        `Unknown modifier: ${key}. Expected a valid update modifier or pipeline-style update specified as an array`,
      );
    }
  }
}

/** `$currentDate` as plain `$set` values: a Date, or a Timestamp when asked for one. */
function currentDates(spec: Document, now: Timestamp | undefined): Document {
  const out: Document = {};
  for (const [path, how] of Object.entries(spec)) {
    const wantsTimestamp = isPlainObject(how) && how.$type === 'timestamp';
    out[path] = wantsTimestamp ? (now ?? new Timestamp({ t: Math.floor(wallNow() / 1000), i: 1 })) : new Date(wallNow());
  }
  return out;
}

/** An operator may not change `_id` (it may set it to the value it already has). */
function checkIdUntouched(modifier: Document, id: unknown): void {
  for (const [op, fields] of Object.entries(modifier)) {
    if (!isPlainObject(fields)) continue;
    for (const [path, value] of Object.entries(fields)) {
      const target = op === '$rename' ? String(value) : path;
      for (const p of op === '$rename' ? [path, target] : [path]) {
        if (p !== '_id' && !p.startsWith('_id.')) continue;
        if (op === '$set' && p === '_id' && valueKey(value) === valueKey(id)) continue;
        throw immutableId();
      }
    }
  }
}

const SIMPLE_OPS = new Set(['$set', '$unset', '$inc']);

/**
 * `$set`, `$unset` and `$inc` on plain paths (no array positions), applied
 * directly: the common case, and much cheaper than building mingo's update
 * context for each statement. Returns false (changing nothing) otherwise.
 */
function applySimpleUpdate(doc: Document, modifier: Document): boolean {
  const ops = Object.entries(modifier);
  for (const [op, fields] of ops) {
    if (!SIMPLE_OPS.has(op) || !isPlainObject(fields)) return false;
    for (const path of Object.keys(fields)) {
      if (path.includes('$') || path.split('.').some((part) => /^\d+$/.test(part))) return false;
      const parts = path.split('.');
      let cur: unknown = doc;
      for (const part of parts.slice(0, -1)) {
        cur = (cur as Document | undefined)?.[part];
        if (cur === undefined) break;
        if (!isPlainObject(cur)) return false;
      }
      if (op === '$inc') {
        const current = getPath(doc, path);
        if (typeof (fields as Document)[path] !== 'number' || (current !== undefined && typeof current !== 'number')) return false;
      }
    }
  }
  for (const [op, fields] of ops) {
    for (const [path, value] of Object.entries(fields as Document)) {
      if (op === '$set') setPath(doc, path, value);
      else if (op === '$inc') setPath(doc, path, ((getPath(doc, path) as number | undefined) ?? 0) + (value as number));
      else unsetPath(doc, path);
    }
  }
  return true;
}

function unsetPath(doc: Document, path: string): void {
  const parts = path.split('.');
  const parent = parts.length === 1 ? doc : getPath(doc, parts.slice(0, -1).join('.'));
  if (isPlainObject(parent)) delete parent[parts[parts.length - 1] as string];
}

function usesPositional(modifier: Document): boolean {
  return Object.values(modifier).some((fields) => isPlainObject(fields) && Object.keys(fields).some((path) => /(^|\.)\$(\.|$)/.test(path)));
}

const NUMERIC_OPS = new Set(['$inc', '$mul']);
const ARRAY_OPS = new Set(['$push', '$addToSet', '$pull', '$pullAll', '$pop']);
const NUMERIC_TYPES = new Set(['int', 'double', 'long', 'int32', 'decimal128']);

function bsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'date';
  if (typeof v === 'object') return ((v as { _bsontype?: string })._bsontype ?? 'object').toLowerCase();
  return typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'double') : typeof v;
}

/** The server's checks before an operator update: one operator per path, and operands of the right type. */
function checkOperands(modifier: Document, doc: Document): void {
  const paths: string[] = [];
  for (const [op, fields] of Object.entries(modifier)) {
    if (!isPlainObject(fields)) continue;
    for (const path of Object.keys(fields)) {
      const clash = paths.find((p) => p === path || p.startsWith(`${path}.`) || path.startsWith(`${p}.`));
      if (clash !== undefined) throw new CommandError(40, `Updating the path '${path}' would create a conflict at '${clash}'`);
      paths.push(path);
      if (path.includes('$')) continue;
      const current = getPath(doc, path);
      if (current === undefined || current === null) continue;
      if (NUMERIC_OPS.has(op) && !NUMERIC_TYPES.has(bsonTypeName(current))) {
        throw new CommandError(
          14,
          `Cannot apply ${op} to a value of non-numeric type. {_id: ${JSON.stringify(doc._id)}} has the field '${path}' of non-numeric type ${bsonTypeName(current)}`,
        );
      }
      if (ARRAY_OPS.has(op) && !Array.isArray(current)) {
        throw new CommandError(
          2,
          `The field '${path}' must be an array but is of type ${bsonTypeName(current)} in document {_id: ${JSON.stringify(doc._id)}}`,
        );
      }
    }
  }
}

function immutableId(): CommandError {
  return new CommandError(66, "Performing an update on the path '_id' would modify the immutable field '_id'");
}

/**
 * The document after applying `u` to `before` (or to the upsert seed when
 * `before` is undefined). `before` itself is not changed.
 */
export function applyUpdate(
  before: Document | undefined,
  u: UpdateSpec,
  options: { filter?: Document; arrayFilters?: Document[]; now?: Timestamp; variables?: Document },
): Document {
  const inserting = before === undefined;
  const base = inserting ? seedFromFilter(options.filter) : copyDocument(before);
  let after: Document;
  if (Array.isArray(u)) {
    const variables = options.variables;
    after =
      guarded('invalid update pipeline', () => new Aggregator(u, variables ? { variables } : undefined).run([base]) as Document[])[0] ?? {};
    // A pipeline whose result leaves _id out keeps the document's own (a $replaceRoot, say).
    if (after._id === undefined && !inserting) after = { _id: base._id, ...after };
  } else if (isOperatorUpdate(u)) {
    validateOperators(u);
    const modifier: Document = { ...u };
    if (!inserting) checkIdUntouched(modifier, base._id);
    checkOperands(modifier, base);
    if (modifier.$currentDate) {
      modifier.$set = { ...(modifier.$set as Document | undefined), ...currentDates(modifier.$currentDate as Document, options.now) };
      delete modifier.$currentDate;
    }
    if (modifier.$setOnInsert) {
      if (inserting) modifier.$set = { ...(modifier.$set as Document | undefined), ...(modifier.$setOnInsert as Document) };
      delete modifier.$setOnInsert;
    }
    after = base;
    if (Object.keys(modifier).length > 0 && !applySimpleUpdate(after, modifier)) {
      guarded('update failed', () =>
        // The filter is only needed for the positional `$` operator; compiling it costs.
        mingoUpdate(after, modifier, options.arrayFilters, inserting || !usesPositional(modifier) ? undefined : options.filter, {
          cloneMode: 'copy',
        }),
      );
    }
  } else {
    if ('_id' in u && !inserting && valueKey(u._id) !== valueKey(base._id)) throw immutableId();
    for (const key of Object.keys(u)) {
      if (key.startsWith('$'))
        throw new CommandError(
          52,
          `The dollar ($) prefixed field '${key}' in '${key}' is not allowed in the context of an update's replacement document.`,
        );
    }
    after = { _id: base._id ?? u._id, ...u };
    if (after._id === undefined) delete after._id;
  }
  if (!inserting && valueKey(after._id) !== valueKey(before._id)) throw immutableId();
  if (after._id === undefined) after._id = new ObjectId();
  return idFirst(after);
}
