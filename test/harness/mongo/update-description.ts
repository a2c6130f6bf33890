/**
 * `updateDescription` of an update event, from the document before and after
 * (the shape of the server's $v:2 oplog diffs): changed paths in dotted form,
 * removed fields, and arrays cut shorter.
 */
import type { Document } from 'bson';
import { isPlainObject, valueKey } from './values.ts';

export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: Array<{ field: string; newSize: number }>;
}

export function describeUpdate(before: Document, after: Document): UpdateDescription {
  const out: UpdateDescription = { updatedFields: {}, removedFields: [], truncatedArrays: [] };
  diffObject(before, after, '', out);
  return out;
}

function diffObject(before: Document, after: Document, prefix: string, out: UpdateDescription): void {
  for (const key of Object.keys(before)) {
    if (!(key in after)) out.removedFields.push(prefix + key);
  }
  for (const [key, value] of Object.entries(after)) {
    const path = prefix + key;
    if (!(key in before)) {
      out.updatedFields[path] = value;
      continue;
    }
    diffValue(before[key], value, path, out);
  }
}

function diffValue(before: unknown, after: unknown, path: string, out: UpdateDescription): void {
  if (isPlainObject(before) && isPlainObject(after)) {
    // A sub-document whose fields were reordered is replaced whole, like the server does.
    const bk = Object.keys(before);
    const ak = Object.keys(after).filter((k) => k in before);
    if (bk.filter((k) => k in after).join('\u0000') === ak.join('\u0000')) {
      diffObject(before, after, `${path}.`, out);
      return;
    }
  } else if (Array.isArray(before) && Array.isArray(after)) {
    if (after.length < before.length) out.truncatedArrays.push({ field: path, newSize: after.length });
    for (let i = 0; i < after.length; i += 1) {
      if (i >= before.length) out.updatedFields[`${path}.${i}`] = after[i];
      else diffValue(before[i], after[i], `${path}.${i}`, out);
    }
    return;
  }
  if (valueKey(before) !== valueKey(after) || typeOf(before) !== typeOf(after)) out.updatedFields[path] = after;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}
