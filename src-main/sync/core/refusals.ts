/**
 * A change one side refuses for good — for that document only — is set aside
 * (quarantined) on the side that refused it, and everything else goes on. A
 * duplicate key on a unique index, a document validator, a document over the
 * size limit: retrying will not help until someone fixes the cause. Anything
 * else (a network error, a write conflict, a server stepping down) is
 * transient: the loop backs off and tries the whole batch again.
 */
import type { RefusalCause } from '../../../src-shared/status.ts';
import type { QuarantineDraft } from './types.ts';

/** Server error codes that refuse one document for good, and why. */
const DOCUMENT_REFUSALS: ReadonlyMap<number, RefusalCause> = new Map([
  [11000, 'unique'],
  [11001, 'unique'],
  [12582, 'unique'],
  [121, 'validation'],
  [10334, 'size'],
  [17419, 'size'],
  [17280, 'value'],
  [2, 'value'],
  [14, 'value'],
  [52, 'value'],
  [56, 'value'],
  [57, 'value'],
]);

const CAUSE_WORDS: Record<RefusalCause, string> = {
  unique: 'another record already has the same value in a field that must be unique',
  validation: "the record does not pass the database's validation rules",
  size: 'the record is larger than the 16 MB a database record may hold',
  value: 'the record holds a value or field name the database does not accept',
  other: 'the database refused the record',
};

/** Whether a server error code refuses one document for good (not worth a retry of the batch). */
export function refusesDocument(code: number | undefined): boolean {
  return code !== undefined && DOCUMENT_REFUSALS.has(code);
}

export type RefusingSide = 'hub' | 'local';

/** The reason a refused change is set aside: in words a till operator can act on, and as data. */
export function refusal(
  side: RefusingSide,
  code: number | undefined,
  serverMessage: string,
): Pick<QuarantineDraft, 'reason' | 'reasonCode' | 'reasonParams'> {
  const where = side === 'hub' ? 'The head-office hub' : "This till's database";
  const cause: RefusalCause = (code !== undefined && DOCUMENT_REFUSALS.get(code)) || 'other';
  const detail = serverMessage.length > 300 ? `${serverMessage.slice(0, 297)}...` : serverMessage;
  const serverCode = code === undefined ? '?' : String(code);
  return {
    reason: `${where} did not take this change: ${CAUSE_WORDS[cause]}. It is set aside until the cause is fixed. (${detail}, code ${serverCode})`,
    reasonCode: 'refused',
    reasonParams: { side, cause, detail, serverCode },
  };
}

/** MongoDB's document size limit. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** How much room sync needs beside a document (its `_sync`, an outbox entry's fields). */
export const SYNC_ROOM_BYTES = 64 * 1024;

/** The reason a document too large to sync is set aside. */
export function tooLarge(bytes: number, limit: number): Pick<QuarantineDraft, 'reason' | 'reasonCode' | 'reasonParams'> {
  const mb = (n: number): number => Math.round((n / (1024 * 1024)) * 10) / 10;
  const sizeMb = mb(bytes);
  const limitMb = mb(limit - SYNC_ROOM_BYTES);
  return {
    reason: `This record is too large to sync: ${sizeMb} MB, and sync needs it under ${limitMb} MB to add what it keeps beside it. It is set aside; make the record smaller, then try again.`,
    reasonCode: 'too-large-to-sync',
    reasonParams: { sizeMb, limitMb },
  };
}
