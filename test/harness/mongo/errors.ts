/** Server errors as MongoDB reports them: a code, its name, a message and labels. */

export const CODE_NAMES: Readonly<Record<number, string>> = {
  1: 'InternalError',
  2: 'BadValue',
  6: 'HostUnreachable',
  7: 'HostNotFound',
  9: 'FailedToParse',
  11: 'UserNotFound',
  14: 'TypeMismatch',
  20: 'IllegalOperation',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  40: 'ConflictingUpdateOperators',
  43: 'CursorNotFound',
  47: 'NoMatchingDocument',
  48: 'NamespaceExists',
  50: 'MaxTimeMSExpired',
  52: 'DollarPrefixedFieldName',
  59: 'CommandNotFound',
  66: 'ImmutableField',
  72: 'InvalidOptions',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  89: 'NetworkTimeout',
  91: 'ShutdownInProgress',
  112: 'WriteConflict',
  115: 'CommandNotSupported',
  133: 'FailedToSatisfyReadPreference',
  189: 'PrimarySteppedDown',
  225: 'TransactionTooOld',
  234: 'RetryChangeStream',
  251: 'NoSuchTransaction',
  256: 'TransactionCommitted',
  260: 'InvalidResumeToken',
  262: 'ExceededTimeLimit',
  263: 'OperationNotSupportedInTransaction',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  9001: 'SocketException',
  10107: 'NotWritablePrimary',
  10334: 'BSONObjectTooLarge',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11602: 'InterruptedDueToReplStateChange',
  13435: 'NotPrimaryNoSecondaryOk',
  13436: 'NotPrimaryOrSecondary',
};

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Location${code}`;
}

/** Codes in the server's RetriableError and NetworkError categories. */
const RETRIABLE = new Set([6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]);
/** Codes in the NonResumableChangeStreamError category. */
const NON_RESUMABLE_CHANGE_STREAM = new Set([280, 286]);
/** Codes the server labels TransientTransactionError inside a transaction. */
const TRANSIENT_TXN = new Set([112, 24, 267, 246, 251]);

export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  /** Labels set explicitly (fail points); otherwise the server derives them. */
  readonly labels: string[] | undefined;
  readonly extra: Record<string, unknown>;

  constructor(code: number, message: string, options: { labels?: string[]; extra?: Record<string, unknown> } = {}) {
    super(message);
    this.name = 'CommandError';
    this.code = code;
    this.codeName = codeName(code);
    this.labels = options.labels;
    this.extra = options.extra ?? {};
  }
}

/** What the server knows about the command an error came from, for its labels. */
export interface LabelContext {
  command: string;
  inTransaction: boolean;
  retryableWrite: boolean;
  changeStream: boolean;
}

/** The error labels a MongoDB 7.0 server attaches (src/mongo/db/error_labels.cpp). */
export function serverLabels(code: number, ctx: LabelContext): string[] {
  const labels: string[] = [];
  const retriable = RETRIABLE.has(code);
  const ending = ctx.command === 'commitTransaction' || ctx.command === 'abortTransaction';
  if (ctx.inTransaction && (ending ? code === 251 : TRANSIENT_TXN.has(code) || retriable)) {
    labels.push('TransientTransactionError');
  }
  if (retriable && (ctx.retryableWrite || ending)) {
    labels.push('RetryableWriteError');
  }
  if (ctx.changeStream) {
    if (retriable || code === 234 || code === 133) labels.push('ResumableChangeStreamError');
    if (NON_RESUMABLE_CHANGE_STREAM.has(code)) labels.push('NonResumableChangeStreamError');
  }
  return labels;
}

export function errorReply(err: CommandError, labels: string[]): Record<string, unknown> {
  const reply: Record<string, unknown> = { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName };
  Object.assign(reply, err.extra);
  if (labels.length > 0) reply.errorLabels = labels;
  return reply;
}

/** A broken message on the wire: the connection is closed with this reason. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
