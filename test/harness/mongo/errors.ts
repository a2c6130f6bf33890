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
  24: 'LockTimeout',
  26: 'NamespaceNotFound',
  27: 'IndexNotFound',
  40: 'ConflictingUpdateOperators',
  43: 'CursorNotFound',
  47: 'NoMatchingDocument',
  48: 'NamespaceExists',
  50: 'MaxTimeMSExpired',
  52: 'DollarPrefixedFieldName',
  59: 'CommandNotFound',
  64: 'WriteConcernFailed',
  66: 'ImmutableField',
  72: 'InvalidOptions',
  79: 'UnknownReplWriteConcern',
  73: 'InvalidNamespace',
  85: 'IndexOptionsConflict',
  86: 'IndexKeySpecsConflict',
  89: 'NetworkTimeout',
  91: 'ShutdownInProgress',
  100: 'UnsatisfiableWriteConcern',
  112: 'WriteConflict',
  115: 'CommandNotSupported',
  133: 'FailedToSatisfyReadPreference',
  134: 'ReadConcernMajorityNotAvailableYet',
  150: 'StaleEpoch',
  189: 'PrimarySteppedDown',
  216: 'ElectionInProgress',
  225: 'TransactionTooOld',
  234: 'RetryChangeStream',
  239: 'SnapshotTooOld',
  246: 'SnapshotUnavailable',
  250: 'StaleChunkHistory',
  251: 'NoSuchTransaction',
  256: 'TransactionCommitted',
  260: 'InvalidResumeToken',
  262: 'ExceededTimeLimit',
  263: 'OperationNotSupportedInTransaction',
  267: 'PreparedTransactionInProgress',
  272: 'MigrationConflict',
  280: 'ChangeStreamFatalError',
  286: 'ChangeStreamHistoryLost',
  9001: 'SocketException',
  10107: 'NotWritablePrimary',
  10334: 'BSONObjectTooLarge',
  11000: 'DuplicateKey',
  11600: 'InterruptedAtShutdown',
  11601: 'Interrupted',
  11602: 'InterruptedDueToReplStateChange',
  13435: 'NotPrimaryNoSecondaryOk',
  13388: 'StaleConfig',
  13436: 'NotPrimaryOrSecondary',
};

export function codeName(code: number): string {
  return CODE_NAMES[code] ?? `Location${code}`;
}

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

export function errorReply(err: CommandError, labels: string[]): Record<string, unknown> {
  const reply: Record<string, unknown> = { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName };
  Object.assign(reply, err.extra);
  if (labels.length > 0) reply.errorLabels = labels;
  return reply;
}

/** A fail point asked for the connection to be closed with no reply. */
export class CloseConnection extends Error {
  constructor() {
    super('closed by a fail point');
  }
}

/** A broken message on the wire: the connection is closed with this reason. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
