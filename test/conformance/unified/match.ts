/**
 * "Evaluating Matches" of the unified test format: expected values against
 * actual ones, with flexible numbers, extra fields allowed only at the root,
 * and the $$ operators. Throws a MatchError naming the path that differed.
 */
import { Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type Document } from 'mongodb';

export class MatchError extends Error {}

/** What $$matchesEntity and $$sessionLsid look up. */
export interface EntityLookup {
  entity(name: string): unknown;
  sessionLsid(name: string): Document;
}

function isDocument(v: unknown): v is Document {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  if (v instanceof Date || v instanceof RegExp || Buffer.isBuffer(v) || v instanceof Uint8Array) return false;
  return !('_bsontype' in v);
}

function numberOf(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Long) return v.toNumber();
  if (v instanceof Int32 || v instanceof Double) return v.valueOf();
  return undefined;
}

/** The $type name of a value, as the query operator names it. */
export function bsonTypeOf(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) && Math.abs(v) <= 0x7fffffff ? 'int' : 'double';
  if (typeof v === 'bigint' || v instanceof Long) return 'long';
  if (v instanceof Int32) return 'int';
  if (v instanceof Double) return 'double';
  if (v instanceof Decimal128) return 'decimal';
  if (v instanceof ObjectId) return 'objectId';
  if (v instanceof Date) return 'date';
  if (v instanceof Timestamp) return 'timestamp';
  if (v instanceof Binary || Buffer.isBuffer(v)) return 'binData';
  if (v instanceof RegExp) return 'regex';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object' && (v as { _bsontype?: string })._bsontype === 'BSONRegExp') return 'regex';
  return 'object';
}

function typeMatches(expected: string, actual: unknown): boolean {
  const type = bsonTypeOf(actual);
  if (expected === type) return true;
  // A driver may hand back an int64 that fits in a JS number as a number.
  if (expected === 'long' && (type === 'int' || type === 'double') && Number.isInteger(actual)) return true;
  if (expected === 'number') return ['int', 'long', 'double', 'decimal'].includes(type);
  return false;
}

function scalarEqual(expected: unknown, actual: unknown): boolean {
  const en = numberOf(expected);
  const an = numberOf(actual);
  if (en !== undefined || an !== undefined) return en !== undefined && an !== undefined && en === an;
  if (expected instanceof ObjectId) return actual instanceof ObjectId && expected.equals(actual);
  if (expected instanceof Date) return actual instanceof Date && expected.getTime() === actual.getTime();
  if (expected instanceof Timestamp) return actual instanceof Timestamp && expected.equals(actual);
  if (expected instanceof Decimal128) return actual instanceof Decimal128 && expected.toString() === actual.toString();
  if (expected instanceof Binary) {
    const bytes = actual instanceof Binary ? actual.buffer : Buffer.isBuffer(actual) ? actual : undefined;
    return bytes !== undefined && Buffer.from(expected.buffer).equals(Buffer.from(bytes));
  }
  if (expected instanceof RegExp || (typeof expected === 'object' && expected !== null && '_bsontype' in expected)) {
    return JSON.stringify(expected) === JSON.stringify(actual);
  }
  return expected === actual;
}

function specialOperator(expected: unknown): [string, unknown] | undefined {
  if (!isDocument(expected)) return undefined;
  const keys = Object.keys(expected);
  if (keys.length === 1 && keys[0]?.startsWith('$$')) return [keys[0], expected[keys[0]]];
  return undefined;
}

export function match(expected: unknown, actual: unknown, lookup: EntityLookup, root = true, path = '$'): void {
  const special = specialOperator(expected);
  if (special) {
    matchSpecial(special[0], special[1], actual, lookup, root, path);
    return;
  }
  if (isDocument(expected)) {
    if (!isDocument(actual)) throw new MatchError(`${path}: expected a document, got ${describe(actual)}`);
    for (const [key, value] of Object.entries(expected)) {
      const op = specialOperator(value);
      const present = Object.hasOwn(actual, key) && actual[key] !== undefined;
      if (op?.[0] === '$$exists') {
        if (present !== op[1]) throw new MatchError(`${path}.${key}: expected ${op[1] ? 'present' : 'absent'}`);
        continue;
      }
      if (op?.[0] === '$$unsetOrMatches' && !present) continue;
      if (!present) throw new MatchError(`${path}.${key}: missing (expected ${describe(value)})`);
      match(value, actual[key], lookup, false, `${path}.${key}`);
    }
    if (!root) {
      for (const key of Object.keys(actual)) {
        if (!Object.hasOwn(expected, key) && actual[key] !== undefined) throw new MatchError(`${path}: unexpected field ${key}`);
      }
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) throw new MatchError(`${path}: expected an array, got ${describe(actual)}`);
    if (actual.length !== expected.length) {
      throw new MatchError(`${path}: expected ${expected.length} elements, got ${actual.length}: ${describe(actual)}`);
    }
    // The documents of an iterable result (find, aggregate, ...) are root-level documents themselves.
    expected.forEach((value, i) => match(value, actual[i], lookup, root, `${path}[${i}]`));
    return;
  }
  if (!scalarEqual(expected, actual)) throw new MatchError(`${path}: expected ${describe(expected)}, got ${describe(actual)}`);
}

function matchSpecial(op: string, operand: unknown, actual: unknown, lookup: EntityLookup, root: boolean, path: string): void {
  switch (op) {
    case '$$type': {
      const types = Array.isArray(operand) ? (operand as string[]) : [operand as string];
      if (actual === undefined || !types.some((t) => typeMatches(t, actual))) {
        throw new MatchError(`${path}: expected type ${types.join('|')}, got ${bsonTypeOf(actual)}`);
      }
      return;
    }
    case '$$unsetOrMatches':
      if (actual === undefined) return;
      match(operand, actual, lookup, root, path);
      return;
    case '$$exists':
      if ((actual !== undefined) !== operand) throw new MatchError(`${path}: expected ${operand ? 'present' : 'absent'}`);
      return;
    case '$$matchesEntity':
      match(lookup.entity(operand as string), actual, lookup, root, path);
      return;
    case '$$sessionLsid':
      match(lookup.sessionLsid(operand as string), actual, lookup, false, path);
      return;
    case '$$lte': {
      const a = numberOf(actual);
      const e = numberOf(operand);
      if (a === undefined || e === undefined || a > e)
        throw new MatchError(`${path}: expected <= ${describe(operand)}, got ${describe(actual)}`);
      return;
    }
    case '$$matchesHexBytes': {
      const hex = Buffer.isBuffer(actual)
        ? actual.toString('hex')
        : actual instanceof Binary
          ? Buffer.from(actual.buffer).toString('hex')
          : undefined;
      if (hex?.toLowerCase() !== String(operand).toLowerCase()) throw new MatchError(`${path}: bytes differ`);
      return;
    }
    case '$$matchAsRoot':
      match(operand, actual, lookup, true, path);
      return;
    case '$$matchAsDocument':
      match(operand, typeof actual === 'string' ? JSON.parse(actual) : actual, lookup, false, path);
      return;
    default:
      throw new MatchError(`${path}: unsupported operator ${op}`);
  }
}

function describe(v: unknown): string {
  try {
    const text = JSON.stringify(v, (_k, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
    return text === undefined ? String(v) : text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(v);
  }
}
