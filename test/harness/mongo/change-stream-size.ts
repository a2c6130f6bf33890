/**
 * The 16 MB limits of change events. An event the server cannot serialize
 * (over 16 MB + 16 KB) fails the stream with BSONObjectTooLarge — unless the
 * pipeline ends with `$changeStreamSplitLargeEvent`, which cuts an event over
 * 16 MB + 8 KB into fragments by top-level field, smallest fields first so the
 * first fragment says the most, each with its own resume token and
 * `splitEvent: {fragment, of}`. A field too big for one fragment cannot be
 * split. (src/mongo/db/pipeline/change_stream_split_event_helpers.cpp)
 */
import { calculateObjectSize, type Document } from 'bson';
import { CommandError } from './errors.ts';
import { fragmentToken } from './resume-token.ts';
import { MAX_BSON_BYTES } from './wire.ts';

export const SPLIT_STAGE = '$changeStreamSplitLargeEvent';
/** What the server can serialize at all (BSONObjMaxInternalSize). */
export const MAX_INTERNAL_BSON_BYTES = MAX_BSON_BYTES + 16 * 1024;
/** Events up to this size are returned whole even by the split stage. */
const MAX_CHANGE_EVENT_BYTES = MAX_INTERNAL_BSON_BYTES - 8 * 1024;

/** Checks where the split stage stands in a change stream's stages; true if it is there. */
export function splitStageIn(stages: Document[]): boolean {
  const at = stages.findIndex((stage) => SPLIT_STAGE in stage);
  if (at < 0) return false;
  const spec = stages[at]?.[SPLIT_STAGE] as unknown;
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec) || Object.keys(spec).length > 0) {
    throw new CommandError(7182800, `${SPLIT_STAGE} spec should be an empty object`);
  }
  if (at !== stages.length - 1) throw new CommandError(7182802, `${SPLIT_STAGE} must be the last stage in the pipeline`);
  return true;
}

function tooLarge(size: number, event: Document): CommandError {
  const first = JSON.stringify(event._id ?? null);
  return new CommandError(
    10334,
    `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_INTERNAL_BSON_BYTES}(16MB) First element: _id: ${first}`,
  );
}

/** A document the stream will return, with its BSON size (measured once). */
export interface Sized {
  doc: Document;
  size: number;
}

/**
 * The event as the stream returns it: itself, or its fragments when it is
 * split, less the first `skip` fragments (a stream resumed from a fragment).
 */
export function sizedEvent(event: Document, split: boolean, skip: number): Sized[] {
  const size = calculateObjectSize(event);
  if (!split) {
    if (size > MAX_INTERNAL_BSON_BYTES) throw tooLarge(size, event);
    return [{ doc: event, size }];
  }
  if (size <= MAX_CHANGE_EVENT_BYTES) {
    if (skip > 0) {
      throw new CommandError(
        280,
        'Attempted to resume from a split event fragment, but the event in the resumed stream was not large enough to be split',
      );
    }
    return [{ doc: event, size }];
  }
  const token = event._id as { _data: string };
  const budget = MAX_CHANGE_EVENT_BYTES - calculateObjectSize({ _id: token });
  const fields = Object.keys(event)
    .filter((key) => key !== '_id')
    .map((key) => ({ key, size: fieldSize(key, event[key]) }))
    .sort((a, b) => a.size - b.size || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const fragments: Document[] = [];
  for (let i = 0; i < fields.length;) {
    const fragment: Document = { _id: fragmentToken(token, fragments.length), splitEvent: { fragment: fragments.length + 1, of: 0 } };
    let bytes = calculateObjectSize(fragment);
    do {
      const field = fields[i] as { key: string; size: number };
      fragment[field.key] = event[field.key];
      bytes += field.size;
      i += 1;
    } while (i < fields.length && bytes + (fields[i] as { size: number }).size <= budget);
    if (bytes > budget) {
      throw new CommandError(
        7182500,
        `Splitting change event failed: fragment size ${bytes} is greater than maximum allowed fragment size ${budget}`,
      );
    }
    fragments.push(fragment);
  }
  for (const fragment of fragments) (fragment.splitEvent as { of: number }).of = fragments.length;
  if (skip > fragments.length) {
    throw new CommandError(
      280,
      'Attempted to resume from a split event, but the resumed stream produced a different split. Ensure that the pipeline used to resume is the same as the original',
    );
  }
  return fragments.slice(skip).map((doc) => ({ doc, size: calculateObjectSize(doc) }));
}

/** The BSON size of one field of a document (type byte, name, value). */
function fieldSize(key: string, value: unknown): number {
  return calculateObjectSize({ [key]: value }) - 5;
}

/** Whether a reply batch of `bytes` so far has room for one more document of `size` (the first always fits). */
export function fitsInBatch(bytes: number, size: number, count: number): boolean {
  return count === 0 || bytes + size <= MAX_BSON_BYTES;
}
