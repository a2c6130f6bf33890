/**
 * The error labels and topologyVersion a MongoDB 8.0 server attaches to an
 * error reply or to a reply that carries a write-concern error — the server's
 * own rules (src/mongo/db/error_labels.cpp, service_entry_point_common.cpp),
 * over the error-code categories of src/mongo/base/error_codes.yml.
 */

/** RetriableError (NetworkError codes included). */
const RETRIABLE = new Set([6, 7, 89, 91, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436, 50915]);
const NETWORK = new Set([6, 7, 89, 9001]);
const NEED_RETARGETTING = new Set([150, 13388]);
const SNAPSHOT = new Set([239, 246, 250, 272]);
const NOT_PRIMARY = new Set([189, 10107, 11602, 13435, 13436]);
const NON_RESUMABLE_CHANGE_STREAM = new Set([280, 286]);
/** Transient in a transaction whatever the command, commit and abort included. */
const ALWAYS_TRANSIENT = new Set([112, 24, 267]);

export const isRetriable = (code: number): boolean => RETRIABLE.has(code);
export const isNotPrimaryError = (code: number): boolean => NOT_PRIMARY.has(code);

/** What the server knows about the command an error came from. */
export interface LabelContext {
  command: string;
  /** The command carries `autocommit: false`: a statement of a transaction, or its commit or abort. */
  inTransaction: boolean;
  /** The command carries a txnNumber and no `autocommit`: a retryable write. */
  retryableWrite: boolean;
  /** An aggregate opening a change stream, or a getMore on a change-stream cursor it has checked out. */
  changeStream: boolean;
  /** The command wrote nothing (retryable writes get NoWritesPerformed with RetryableWriteError). */
  noWrites: boolean;
}

function isCommitOrAbort(command: string): boolean {
  return command === 'commitTransaction' || command === 'abortTransaction';
}

function isTransientTransactionError(code: number, hasWriteConcernError: boolean, commitOrAbort: boolean): boolean {
  if (ALWAYS_TRANSIENT.has(code) || SNAPSHOT.has(code) || NEED_RETARGETTING.has(code)) return true;
  // NoSuchTransaction on commit or abort is safe to retry as a whole only if nothing can be rolled back.
  if (commitOrAbort) return code === 251 && !hasWriteConcernError;
  return RETRIABLE.has(code) || code === 251;
}

/**
 * The labels for a reply with error `code` (top level) and/or a write-concern
 * error `wcCode`. A fail point's `errorLabels` replace these entirely.
 */
export function serverLabels(code: number | undefined, wcCode: number | undefined, ctx: LabelContext): string[] {
  const labels: string[] = [];
  const commitOrAbort = isCommitOrAbort(ctx.command);
  let transientOrRetryable = false;
  if (code !== undefined && ctx.inTransaction && isTransientTransactionError(code, wcCode !== undefined, commitOrAbort)) {
    labels.push('TransientTransactionError');
    transientOrRetryable = true;
  } else if (
    (ctx.retryableWrite || (ctx.inTransaction && commitOrAbort)) &&
    ((code !== undefined && RETRIABLE.has(code)) || (wcCode !== undefined && RETRIABLE.has(wcCode)))
  ) {
    labels.push('RetryableWriteError');
    transientOrRetryable = true;
    if (ctx.retryableWrite && ctx.noWrites) labels.push('NoWritesPerformed');
  }
  const resumable =
    code !== undefined &&
    wcCode === undefined &&
    ctx.changeStream &&
    (ctx.command === 'aggregate' || ctx.command === 'getMore') &&
    (RETRIABLE.has(code) || NETWORK.has(code) || NEED_RETARGETTING.has(code) || code === 234 || code === 133);
  if (!transientOrRetryable && resumable) labels.push('ResumableChangeStreamError');
  else if (code !== undefined && NON_RESUMABLE_CHANGE_STREAM.has(code)) labels.push('NonResumableChangeStreamError');
  return labels;
}

/**
 * A not-primary error (top level or write concern) carries the server's
 * topologyVersion; a shutdown error would only in quiesce mode, which a
 * primary never enters.
 */
export function carriesTopologyVersion(code: number | undefined, wcCode: number | undefined): boolean {
  return (code !== undefined && NOT_PRIMARY.has(code)) || (wcCode !== undefined && NOT_PRIMARY.has(wcCode));
}
