/**
 * `updateDescription` of an update event, from the document before and after
 * (the shape of the server's $v:2 oplog diffs): changed paths in dotted form,
 * removed fields, and arrays cut shorter. A dotted path that could be read
 * two ways (a numeric field name, or a field name with a dot) is also given
 * as its components in `disambiguatedPaths`, array indexes as numbers —
 * shown with showExpandedEvents.
 */
import type { Document } from 'bson';
import { isPlainObject, valueKey } from './values.ts';

export interface UpdateDescription {
  updatedFields: Document;
  removedFields: string[];
  truncatedArrays: Array<{ field: string; newSize: number }>;
  /** Only when some path is ambiguous. */
  disambiguatedPaths?: Record<string, Array<string | number>>;
}

type Part = string | number;

export function describeUpdate(before: Document, after: Document): UpdateDescription {
  const out: UpdateDescription = { updatedFields: {}, removedFields: [], truncatedArrays: [] };
  diffObject(before, after, [], out);
  return out;
}

function dotted(parts: Part[]): string {
  return parts.join('.');
}

/** Records `parts` in disambiguatedPaths if its dotted form is ambiguous. */
function note(parts: Part[], out: UpdateDescription): string {
  const path = dotted(parts);
  if (parts.some((p) => typeof p === 'number' || /^\d+$/.test(p) || p.includes('.'))) {
    out.disambiguatedPaths ??= {};
    out.disambiguatedPaths[path] = parts;
  }
  return path;
}

function diffObject(before: Document, after: Document, prefix: Part[], out: UpdateDescription): void {
  for (const key of Object.keys(before)) {
    if (!(key in after)) out.removedFields.push(note([...prefix, key], out));
  }
  for (const [key, value] of Object.entries(after)) {
    const parts = [...prefix, key];
    if (!(key in before)) {
      out.updatedFields[note(parts, out)] = value;
      continue;
    }
    diffValue(before[key], value, parts, out);
  }
}

function diffValue(before: unknown, after: unknown, parts: Part[], out: UpdateDescription): void {
  if (isPlainObject(before) && isPlainObject(after)) {
    // A sub-document whose fields were reordered is replaced whole, like the server does.
    const bk = Object.keys(before);
    const ak = Object.keys(after).filter((k) => k in before);
    if (bk.filter((k) => k in after).join('\u0000') === ak.join('\u0000')) {
      diffObject(before, after, parts, out);
      return;
    }
  } else if (Array.isArray(before) && Array.isArray(after)) {
    if (after.length < before.length) out.truncatedArrays.push({ field: note(parts, out), newSize: after.length });
    for (let i = 0; i < after.length; i += 1) {
      if (i >= before.length) out.updatedFields[note([...parts, i], out)] = after[i];
      else diffValue(before[i], after[i], [...parts, i], out);
    }
    return;
  }
  if (valueKey(before) !== valueKey(after) || typeOf(before) !== typeOf(after)) out.updatedFields[note(parts, out)] = after;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : typeof v;
}
