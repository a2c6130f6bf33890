/**
 * Collation, as far as the emulator follows it: at strength 1 (letters only)
 * and 2 (letters and accents) strings that differ only in case — and, at 1, in
 * accents — are equal when matching, grouping (distinct) and sorting. Strength
 * 3, the default, compares as the simple binary collation does. Locale rules
 * beyond that (tailored orders, numericOrdering, alternate) are not modelled.
 */
import type { Document } from 'bson';
import { CommandError } from './errors.ts';
import { isPlainObject } from './values.ts';

export interface Collation {
  /** Maps a string to the form that compares equal exactly when the collation says so. */
  key(s: string): string;
}

/** The collation a command asks for; undefined for none, "simple", or one that changes nothing here. */
export function collationOf(spec: unknown): Collation | undefined {
  if (spec === undefined || spec === null) return undefined;
  if (!isPlainObject(spec) || typeof spec.locale !== 'string') {
    throw new CommandError(9, `collation must be a document with a string locale; got ${JSON.stringify(spec)}`);
  }
  if (spec.locale === 'simple') return undefined;
  const strength = spec.strength === undefined ? 3 : Number(spec.strength);
  if (![1, 2, 3, 4, 5].includes(strength))
    throw new CommandError(2, `collation strength must be 1 to 5; got ${JSON.stringify(spec.strength)}`);
  if (strength >= 3 || spec.caseLevel === true) return undefined;
  if (strength === 2) return { key: (s) => s.toLowerCase() };
  return {
    key: (s) =>
      s
        .normalize('NFD')
        .replace(/\p{Diacritic}/gu, '')
        .toLowerCase(),
  };
}

/** `value` with every string replaced by its collation key (regular expressions are left alone, as the server leaves them). */
export function collated(value: unknown, collation: Collation): unknown {
  if (typeof value === 'string') return collation.key(value);
  if (value instanceof RegExp) return value;
  if (Array.isArray(value)) return value.map((v) => collated(v, collation));
  if (isPlainObject(value)) {
    const out: Document = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === '$regex' ? v : collated(v, collation);
    return out;
  }
  return value;
}
