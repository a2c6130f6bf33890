/** Value helpers: canonical keys for equality, dotted paths, deep copies. */
import { deserialize, serialize, type Document } from 'bson';

type Tagged = { _bsontype?: string; toHexString?: () => string; toString(arg?: unknown): string };

/**
 * A string equal for values MongoDB considers equal in an index
 * (numbers across int/long/double; field order in documents matters).
 */
export function valueKey(value: unknown): string {
  if (value === null || value === undefined) return 'z';
  switch (typeof value) {
    case 'number':
      return `n${value === 0 ? 0 : value}`;
    case 'string':
      return `s${value}`;
    case 'boolean':
      return value ? 'bt' : 'bf';
    case 'bigint':
      return `n${value}`;
    default:
      break;
  }
  if (value instanceof Date) return `d${value.getTime()}`;
  // Documents and arrays: each part's length before it, so no two different values share a key (no escaping needed).
  if (Array.isArray(value)) {
    let out = '[';
    for (const v of value) {
      const k = valueKey(v);
      out += `${k.length}:${k}`;
    }
    return `${out}]`;
  }
  const tagged = value as Tagged;
  switch (tagged._bsontype) {
    case 'ObjectId':
      return `o${tagged.toHexString?.()}`;
    case 'Long':
    case 'Int32':
    case 'Double':
    case 'Decimal128':
      return `n${Number(tagged.toString())}`;
    case 'Binary':
    case 'UUID': {
      const bin = value as { sub_type: number; toString(enc: string): string };
      return `x${bin.sub_type}:${bin.toString('hex')}`;
    }
    case 'Timestamp':
      return `t${tagged.toString()}`;
    case undefined:
      break;
    default:
      return `${tagged._bsontype}:${tagged.toString()}`;
  }
  let out = '{';
  for (const k of Object.keys(value as Document)) {
    const v = valueKey((value as Document)[k]);
    out += `${k.length}:${k}${v.length}:${v}`;
  }
  return `${out}}`;
}

/** A deep copy that keeps BSON types (structuredClone would drop them). */
export function copyDocument<T extends Document>(doc: T): T {
  return deserialize(serialize(doc), { promoteValues: true }) as T;
}

/** Plain sub-document (not an array, not a BSON value type, not a Date). */
export function isPlainObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return false;
  return (value as Tagged)._bsontype === undefined;
}

/** The value at a dotted path, or undefined. Arrays are indexed by number only. */
export function getPath(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** Values at a dotted path, descending into arrays as MongoDB does for `distinct` and indexes. */
export function valuesAtPath(doc: unknown, path: string): unknown[] {
  const parts = path.split('.');
  const out: unknown[] = [];
  const walk = (cur: unknown, i: number): void => {
    if (i === parts.length) {
      if (Array.isArray(cur)) out.push(...cur);
      else if (cur !== undefined) out.push(cur);
      return;
    }
    if (Array.isArray(cur)) {
      const idx = Number(parts[i]);
      if (Number.isInteger(idx) && String(idx) === parts[i]) walk(cur[idx], i + 1);
      else for (const el of cur) walk(el, i);
      return;
    }
    if (cur === null || typeof cur !== 'object') return;
    walk((cur as Record<string, unknown>)[parts[i] as string], i + 1);
  };
  walk(doc, 0);
  return out;
}

/** Sets a dotted path, creating sub-documents. */
export function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur: Document = doc;
  for (let i = 0; i < parts.length - 1; i += 1) {
    const key = parts[i] as string;
    if (!isPlainObject(cur[key]) && !Array.isArray(cur[key])) cur[key] = {};
    cur = cur[key] as Document;
  }
  cur[parts[parts.length - 1] as string] = value;
}

/** Returns `doc` with `_id` as its first field (as the server stores it). */
export function idFirst(doc: Document): Document {
  const keys = Object.keys(doc);
  if (keys[0] === '_id' || !('_id' in doc)) return doc;
  const out: Document = { _id: doc._id };
  for (const k of keys) if (k !== '_id') out[k] = doc[k];
  return out;
}

/**
 * Whether two values have the same `valueKey`, without building the keys: documents and arrays are
 * compared field by field (in order) and stop at the first difference, so telling whether an update
 * changed a document costs little more than the fields it walks.
 */
export function bsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i += 1) if (!bsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    if (ka.length !== kb.length) return false;
    for (let i = 0; i < ka.length; i += 1) {
      const k = ka[i] as string;
      if (k !== kb[i] || !bsonEqual(a[k], b[k])) return false;
    }
    return true;
  }
  if (typeof a === 'string' && typeof b === 'string') return false;
  return valueKey(a) === valueKey(b);
}
