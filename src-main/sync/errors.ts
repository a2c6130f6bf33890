/** The engine's errors: a stable reason, and words a till operator can act on. */
import {
  MongoNetworkError,
  MongoServerSelectionError,
  MongoServerError,
  MongoNetworkTimeoutError,
  MongoTopologyClosedError,
} from 'mongodb';
import type { Coded, SyncErrorInfo, SyncErrorParams } from '../../src-shared/status.ts';

export type SyncErrorReason =
  | 'hub-unreachable'
  | 'local-unreachable'
  | 'hub-rejected'
  | 'local-rejected'
  | 'history-lost'
  | 'read-interrupted'
  | 'busy'
  | 'config'
  | 'not-found'
  | 'internal';

export class SyncError extends Error {
  readonly reason: SyncErrorReason;
  /** What the message says, as data, for the dashboard's languages. */
  readonly coded: Coded<SyncErrorParams> | undefined;
  constructor(reason: SyncErrorReason, message: string, options?: { cause?: unknown; coded?: Coded<SyncErrorParams> }) {
    super(message, options);
    this.name = 'SyncError';
    this.reason = reason;
    this.coded = options?.coded;
  }

  toInfo(at = Date.now()): SyncErrorInfo {
    return { reason: this.reason, message: this.message, at, ...(this.coded ? { code: this.coded.code, params: this.coded.params } : {}) };
  }
}

/**
 * The server's error code as a number. The engine reads raw BSON (promoteValues: false), and the
 * driver then hands write errors' codes over as BSON Int32 objects, which never `=== 11000`.
 */
export function serverCode(err: unknown): number | undefined {
  const code = Number((err as { code?: unknown } | null)?.code);
  return Number.isInteger(code) ? code : undefined;
}

/** A bulk write whose every failed statement met an existing `_id` (or unique key): nothing else went wrong. */
export function onlyDuplicateKeys(err: unknown): boolean {
  const errors = (err as { writeErrors?: unknown } | null)?.writeErrors;
  const list = Array.isArray(errors) ? errors : errors === undefined ? [] : [errors];
  if (list.length === 0) return serverCode(err) === 11000;
  return list.every((e) => serverCode(e) === 11000) && !(err as { writeConcernError?: unknown }).writeConcernError;
}

/** A network or server-selection failure: the other side is not there right now. */
const SOCKET_ERRORS = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

export function isUnreachable(err: unknown): boolean {
  // A bulk write wraps the driver's own error (a closed connection) in a MongoBulkWriteError.
  const wrapped = (err as { errorResponse?: unknown } | null)?.errorResponse;
  if (wrapped instanceof Error && wrapped !== err && isUnreachable(wrapped)) return true;
  // The driver lets some socket errors through unwrapped (a reset while writing).
  if (SOCKET_ERRORS.has(String((err as { code?: unknown } | null)?.code))) return true;
  if (err instanceof MongoNetworkError || err instanceof MongoNetworkTimeoutError) return true;
  if (err instanceof MongoServerSelectionError || err instanceof MongoTopologyClosedError) return true;
  if (err instanceof MongoServerError) {
    return (
      err.hasErrorLabel('RetryableWriteError') ||
      err.hasErrorLabel('ResumableChangeStreamError') ||
      [6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436].includes(Number(err.code))
    );
  }
  return false;
}

/** Change history the stream needs is gone (or its token is unusable): the stream must be rebuilt. */
export function isHistoryLost(err: unknown): boolean {
  return err instanceof MongoServerError && [286, 280, 260, 9, 40647].includes(Number(err.code));
}

/**
 * The server ended a read in progress — its cursor is gone (a restart, a kill): nothing was refused,
 * and the stream is reopened from its checkpoint. CursorNotFound, QueryPlanKilled, CursorKilled, Interrupted.
 */
export function isReadInterrupted(err: unknown): boolean {
  return err instanceof MongoServerError && [43, 175, 237, 11601].includes(Number(err.code));
}

/**
 * Another transaction wrote the same records first (WriteConflict, a lock held too long, a transaction
 * the server dropped meanwhile): the server says to run it again, and nothing was refused.
 */
export function isTransientConflict(err: unknown): boolean {
  if (!(err instanceof MongoServerError)) return false;
  return err.hasErrorLabel('TransientTransactionError') || [112, 24, 251].includes(Number(err.code));
}

/** Plain words for an error, for the status and the dashboard (and the same as a code with its params). */
export function describeError(err: unknown, side: 'hub' | 'local'): SyncError {
  if (err instanceof SyncError) return err;
  const where = side === 'hub' ? 'the head-office hub' : "this till's database";
  const Where = side === 'hub' ? 'The head-office hub' : "This till's database";
  if (isUnreachable(err)) {
    const reason = side === 'hub' ? 'hub-unreachable' : 'local-unreachable';
    return new SyncError(reason, `Cannot reach ${where}. Changes are kept and will sync when it is back.`, {
      cause: err,
      coded: { code: reason, params: {} },
    });
  }
  if (isHistoryLost(err)) {
    return new SyncError('history-lost', `The change history of ${where} no longer reaches back far enough; a full comparison is needed.`, {
      cause: err,
      coded: { code: 'history-lost', params: { side } },
    });
  }
  if (isReadInterrupted(err)) {
    return new SyncError(
      'read-interrupted',
      `${Where} stopped a read in progress (it may have restarted); sync picked up where it left off.`,
      {
        cause: err,
        coded: { code: 'read-interrupted', params: { side } },
      },
    );
  }
  if (isTransientConflict(err)) {
    const who =
      side === 'hub'
        ? 'Another till was changing the same records on the head-office hub'
        : "Something else was changing the same records in this till's database";
    return new SyncError('busy', `${who} at the same moment; sync tried again.`, { cause: err, coded: { code: 'busy', params: { side } } });
  }
  if (err instanceof MongoServerError) {
    const reason = side === 'hub' ? 'hub-rejected' : 'local-rejected';
    return new SyncError(reason, `${Where} refused a change: ${err.message} (code ${String(err.code)})`, {
      cause: err,
      coded: { code: reason, params: { detail: err.message, serverCode: String(err.code) } },
    });
  }
  const detail = (err as Error)?.message ?? String(err);
  return new SyncError('internal', `Unexpected problem: ${detail}`, { cause: err, coded: { code: 'unexpected', params: { detail } } });
}
