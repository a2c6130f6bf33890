/**
 * The $jsonSchema query operator's schema language, the part of it MongoDB
 * documents (draft 4 with bsonType): bsonType/type, required, properties,
 * additionalProperties, patternProperties, enum, numeric and length bounds,
 * pattern, items and array bounds, uniqueItems, allOf/anyOf/oneOf/not.
 * Used by collection validators; mingo needs it handed in.
 */
import type { Document } from 'bson';
import { isPlainObject, valueKey } from './values.ts';

type Schema = Document;

function bsonTypeOf(v: unknown): string[] {
  if (v === null) return ['null'];
  if (typeof v === 'string') return ['string'];
  if (typeof v === 'boolean') return ['bool'];
  if (typeof v === 'number') return Number.isInteger(v) ? ['int', 'long', 'number'] : ['double', 'number'];
  if (typeof v === 'bigint') return ['long', 'number'];
  if (v instanceof Date) return ['date'];
  if (v instanceof RegExp) return ['regex'];
  if (Array.isArray(v)) return ['array'];
  const tag = (v as { _bsontype?: string } | undefined)?._bsontype;
  switch (tag) {
    case 'ObjectId':
      return ['objectId'];
    case 'Long':
      return ['long', 'number'];
    case 'Int32':
      return ['int', 'number'];
    case 'Double':
      return ['double', 'number'];
    case 'Decimal128':
      return ['decimal', 'number'];
    case 'Binary':
    case 'UUID':
      return ['binData'];
    case 'Timestamp':
      return ['timestamp'];
    case 'BSONRegExp':
      return ['regex'];
    case undefined:
      return ['object'];
    default:
      return [tag.charAt(0).toLowerCase() + tag.slice(1)];
  }
}

const JSON_TYPES: Record<string, string[]> = {
  object: ['object'],
  array: ['array'],
  number: ['number'],
  boolean: ['bool'],
  string: ['string'],
  null: ['null'],
};

function types(list: unknown): string[] {
  return Array.isArray(list) ? (list as string[]) : [String(list)];
}

function numeric(v: unknown): number | undefined {
  return bsonTypeOf(v).includes('number') ? Number(v) : undefined;
}

/** Whether `value` satisfies `schema`. */
export function matchesSchema(schema: Schema, value: unknown): boolean {
  const has = bsonTypeOf(value);
  if (schema.bsonType !== undefined && !types(schema.bsonType).some((t) => has.includes(t))) return false;
  if (schema.type !== undefined && !types(schema.type).some((t) => (JSON_TYPES[t] ?? [t]).some((x) => has.includes(x)))) return false;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => valueKey(e) === valueKey(value))) return false;
  if (Array.isArray(schema.allOf) && !schema.allOf.every((s) => matchesSchema(s as Schema, value))) return false;
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((s) => matchesSchema(s as Schema, value))) return false;
  if (Array.isArray(schema.oneOf) && schema.oneOf.filter((s) => matchesSchema(s as Schema, value)).length !== 1) return false;
  if (isPlainObject(schema.not) && matchesSchema(schema.not, value)) return false;
  const n = numeric(value);
  if (n !== undefined) {
    if (schema.minimum !== undefined && (schema.exclusiveMinimum ? n <= Number(schema.minimum) : n < Number(schema.minimum))) return false;
    if (schema.maximum !== undefined && (schema.exclusiveMaximum ? n >= Number(schema.maximum) : n > Number(schema.maximum))) return false;
    if (schema.multipleOf !== undefined && n % Number(schema.multipleOf) !== 0) return false;
  }
  if (typeof value === 'string') {
    if (schema.minLength !== undefined && [...value].length < Number(schema.minLength)) return false;
    if (schema.maxLength !== undefined && [...value].length > Number(schema.maxLength)) return false;
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) return false;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < Number(schema.minItems)) return false;
    if (schema.maxItems !== undefined && value.length > Number(schema.maxItems)) return false;
    if (schema.uniqueItems === true && new Set(value.map((v) => valueKey(v))).size !== value.length) return false;
    if (isPlainObject(schema.items) && !value.every((v) => matchesSchema(schema.items as Schema, v))) return false;
    if (Array.isArray(schema.items)) {
      const tuple = schema.items as Schema[];
      if (!tuple.every((s, i) => i >= value.length || matchesSchema(s, value[i]))) return false;
      if (schema.additionalItems === false && value.length > tuple.length) return false;
      if (
        isPlainObject(schema.additionalItems) &&
        !value.slice(tuple.length).every((v) => matchesSchema(schema.additionalItems as Schema, v))
      )
        return false;
    }
  }
  if (isPlainObject(value)) return matchesObject(schema, value);
  return true;
}

function matchesObject(schema: Schema, value: Document): boolean {
  const keys = Object.keys(value);
  if (Array.isArray(schema.required) && !schema.required.every((k) => Object.hasOwn(value, String(k)))) return false;
  if (schema.minProperties !== undefined && keys.length < Number(schema.minProperties)) return false;
  if (schema.maxProperties !== undefined && keys.length > Number(schema.maxProperties)) return false;
  const properties = (isPlainObject(schema.properties) ? schema.properties : {}) as Record<string, Schema>;
  const patterns = Object.entries((isPlainObject(schema.patternProperties) ? schema.patternProperties : {}) as Record<string, Schema>);
  for (const key of keys) {
    const known = properties[key];
    if (known && !matchesSchema(known, value[key])) return false;
    const byPattern = patterns.filter(([p]) => new RegExp(p, 'u').test(key));
    if (!byPattern.every(([, s]) => matchesSchema(s, value[key]))) return false;
    if (!known && byPattern.length === 0) {
      if (schema.additionalProperties === false) return false;
      if (isPlainObject(schema.additionalProperties) && !matchesSchema(schema.additionalProperties, value[key])) return false;
    }
  }
  if (isPlainObject(schema.dependencies)) {
    for (const [key, dep] of Object.entries(schema.dependencies)) {
      if (!Object.hasOwn(value, key)) continue;
      if (Array.isArray(dep) && !dep.every((k) => Object.hasOwn(value, String(k)))) return false;
      if (isPlainObject(dep) && !matchesSchema(dep, value)) return false;
    }
  }
  return true;
}

/** mingo's jsonSchemaValidator: a schema to a predicate. */
export function jsonSchemaValidator(schema: Document): (doc: unknown) => boolean {
  return (doc) => matchesSchema(schema, doc);
}
