/**
 * What a session remembers of a retryable write, so that a retry with the same
 * txnNumber is answered from it instead of writing again. A write that failed
 * before it committed (the onPrimaryTransactionalWrite fail point) was not
 * executed: the record then says where the retry has to carry on, as mongod,
 * which records each executed statement, would run the rest.
 */
import type { Document } from 'bson';

export interface RetryRecord {
  /** The reply for the statements that ran (without the failed one's error when `resumeFrom` is set). */
  reply: Document;
  /** The first statement that did not commit: a retry runs from there. */
  resumeFrom?: number;
}

/** A bulkWrite reply: its per-op results are in a cursor, its failures are results with ok 0. */
function isBulkWriteReply(reply: Document): boolean {
  return typeof reply.nErrors === 'number' && typeof reply.cursor === 'object' && reply.cursor !== null;
}

function bulkWriteResults(reply: Document): Document[] {
  return ((reply.cursor as Document).firstBatch ?? []) as Document[];
}

/** The record of `reply`; `notCommitted`: some write of it failed before it committed. */
export function retryRecord(reply: Document, notCommitted: boolean): RetryRecord {
  if (isBulkWriteReply(reply)) {
    const failed = bulkWriteResults(reply).filter((r) => r.ok === 0);
    if (!notCommitted || failed.length === 0) return { reply: { ...reply } };
    const ran = bulkWriteResults(reply).filter((r) => r.ok !== 0);
    return {
      reply: { ...reply, cursor: { ...(reply.cursor as Document), firstBatch: ran }, nErrors: 0 },
      resumeFrom: Math.min(...failed.map((r) => Number(r.idx))),
    };
  }
  const errors = reply.writeErrors as Array<{ index: number }> | undefined;
  if (!notCommitted || !errors || errors.length === 0) return { reply: { ...reply } };
  const { writeErrors: _failed, ...ran } = reply;
  return { reply: ran, resumeFrom: Math.min(...errors.map((e) => e.index)) };
}

/** The reply of a write resumed at some statement, merged with what the statements before it did. */
export function mergeResumed(earlier: Document, later: Document): Document {
  if (isBulkWriteReply(earlier) && isBulkWriteReply(later)) {
    const merged: Document = { ...later };
    for (const field of ['nErrors', 'nInserted', 'nMatched', 'nModified', 'nUpserted', 'nDeleted']) {
      merged[field] = Number(earlier[field] ?? 0) + Number(later[field] ?? 0);
    }
    const firstBatch = [...bulkWriteResults(earlier), ...bulkWriteResults(later)];
    merged.cursor = { ...(later.cursor as Document), firstBatch };
    return merged;
  }
  const merged: Document = { ...later, n: Number(earlier.n ?? 0) + Number(later.n ?? 0) };
  if (earlier.nModified !== undefined || later.nModified !== undefined) {
    merged.nModified = Number(earlier.nModified ?? 0) + Number(later.nModified ?? 0);
  }
  const upserted = [...((earlier.upserted ?? []) as Document[]), ...((later.upserted ?? []) as Document[])];
  if (upserted.length > 0) merged.upserted = upserted;
  return merged;
}
