/**
 * From a command document to a reply: fail points, sessions, retryable-write
 * memory, transactions, the handler, error labels and cluster time.
 */
import type { Document } from 'bson';
import { Access } from './access.ts';
import { toTimestamp } from './cluster-time.ts';
import { snapshotTime, unsatisfiableWriteConcern, WRITE_CONCERN_COMMANDS } from './concerns.ts';
import { isPlainObject } from './values.ts';
import { carriesTopologyVersion, serverLabels, type LabelContext } from './error-labels.ts';
import { CloseConnection, CommandError, errorReply } from './errors.ts';
import type { FailCommandData } from './failpoints.ts';
import { MAX_WIRE_DOCUMENT_BYTES } from './wire.ts';
import type { CommandContext, ConnectionInfo, Handler } from './commands/context.ts';
import { WriteBatch, type ServerState } from './state.ts';
import { mergeResumed, retryRecord, type RetryRecord } from './retry-memory.ts';
import type { Transaction } from './transactions.ts';

const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify', 'bulkWrite']);
/** What a multi-document transaction may run (besides commit and abort); anything else is OperationNotSupportedInTransaction. */
const IN_TRANSACTION = new Set([
  'find',
  'getMore',
  'killCursors',
  'aggregate',
  'distinct',
  'insert',
  'update',
  'delete',
  'bulkWrite',
  'findAndModify',
  'findandmodify',
  'create',
  'createIndexes',
]);
const ZERO_SIGNATURE = { hash: Buffer.alloc(20), keyId: 0 };

export interface DispatchEnv {
  state: ServerState;
  handlers: Record<string, Handler>;
  host: string;
  replSetName: string;
}

function withClusterTime(state: ServerState, reply: Document): Document {
  const now = toTimestamp(state.clock.last);
  reply.operationTime = now;
  reply.$clusterTime = { clusterTime: now, signature: { hash: ZERO_SIGNATURE.hash, keyId: ZERO_SIGNATURE.keyId } };
  return reply;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A write-concern error, added to a reply after its command ran, with the
 * labels it earns (a fail point's own, or the server's) and, for a not-primary
 * code, the server's topologyVersion.
 */
function addWriteConcernError(state: ServerState, reply: Document, injected: FailCommandData, labelCtx: LabelContext): void {
  const wce = { ...(injected.writeConcernError as Document) };
  const wcCode = typeof wce.code === 'number' ? wce.code : undefined;
  reply.writeConcernError = wce;
  if (carriesTopologyVersion(undefined, wcCode)) reply.topologyVersion = state.topology.version();
  const labels = injected.errorLabels ?? serverLabels(reply.ok === 1 ? undefined : (reply.code as number), wcCode, labelCtx);
  if (labels.length > 0) reply.errorLabels = labels;
  else delete reply.errorLabels;
}

/**
 * Runs one command. `oversizedBytes`: the message held a document larger than
 * the server reads (it fails the command, as mongod's message parser does).
 */
export async function dispatch(
  env: DispatchEnv,
  conn: ConnectionInfo,
  body: Document,
  messageBytes: number,
  oversizedBytes?: number,
): Promise<Document> {
  const { state } = env;
  const name = Object.keys(body)[0] ?? '';
  const db = typeof body.$db === 'string' ? body.$db : 'admin';
  const session = state.sessions.get(body.lsid as Document | undefined);
  const txnNumber = body.txnNumber === undefined ? undefined : Number(body.txnNumber);
  const inTransaction = body.autocommit === false;
  const retryableWrite = txnNumber !== undefined && !inTransaction && RETRYABLE_WRITES.has(name);
  const changeStream =
    (name === 'aggregate' && Array.isArray(body.pipeline) && body.pipeline[0] !== undefined && '$changeStream' in body.pipeline[0]) ||
    (name === 'getMore' && state.cursors.get(Number(body.getMore))?.kind === 'changeStream');
  const batch = new WriteBatch(state);
  const labelCtx: LabelContext = { command: name, inTransaction, retryableWrite, changeStream, noWrites: false };
  /** Labels as the server gives them once the command has run this far. */
  const labelsNow = (code: number | undefined, wcCode?: number): string[] =>
    serverLabels(code, wcCode, { ...labelCtx, noWrites: conn.hasWritten && batch.size === 0 });
  let txn: Transaction | undefined;
  let injected: FailCommandData | undefined;
  let closeAfterwards = false;
  /** onPrimaryTransactionalWrite failed a write before it committed. */
  let notCommitted = false;
  let earlier: RetryRecord | undefined;
  try {
    if (conn.interruption) throw conn.interruption;
    if (oversizedBytes !== undefined) {
      throw new CommandError(
        10334,
        `BSONObj size: ${oversizedBytes} (0x${oversizedBytes.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_WIRE_DOCUMENT_BYTES}(16MB)`,
      );
    }
    const ns = typeof body[name] === 'string' ? `${db}.${body[name] as string}` : db;
    const fp = state.failPoints.failCommand(name, conn.appName, ns);
    if (fp) {
      if (fp.blockConnection) await sleep(fp.blockTimeMS ?? 0);
      if (conn.interruption) throw conn.interruption;
      if (fp.closeConnection) throw new CloseConnection();
      if (fp.errorCode !== undefined) {
        // Before the command runs: a getMore has not checked out its cursor, so it is no change stream's error yet.
        const labels =
          fp.errorLabels ?? serverLabels(fp.errorCode, undefined, { ...labelCtx, changeStream: changeStream && name !== 'getMore' });
        throw new CommandError(fp.errorCode, "Failing command via 'failCommand' failpoint", { labels });
      }
      if (fp.writeConcernError) injected = fp;
    }
    const handler = Object.hasOwn(env.handlers, name) ? env.handlers[name] : undefined;
    if (!handler) throw new CommandError(59, `no such command: '${name}'`);
    let reply: Document | undefined;
    if (session && txnNumber !== undefined && name !== 'commitTransaction' && name !== 'abortTransaction') {
      if (txnNumber < session.highestTxnNumber) {
        throw new CommandError(
          225,
          `Retryable write with txnNumber ${txnNumber} is prohibited on session ${session.id} because a newer retryable write with txnNumber ${session.highestTxnNumber} has already started on this session.`,
        );
      }
      session.highestTxnNumber = txnNumber;
      earlier = retryableWrite ? session.retryReplies.get(txnNumber) : undefined;
      if (earlier && earlier.resumeFrom === undefined) reply = { ...earlier.reply };
    }
    if (!reply) {
      if (inTransaction && name !== 'commitTransaction' && name !== 'abortTransaction') {
        if (!session || txnNumber === undefined) throw new CommandError(72, 'a transaction needs lsid and txnNumber');
        if (!IN_TRANSACTION.has(name)) throw new CommandError(263, `Cannot run '${name}' in a multi-document transaction.`);
        if (body.writeConcern !== undefined) throw new CommandError(72, 'Cannot set write concern after starting a transaction.');
        if (body.startTransaction === true) {
          state.sessions.begin(session, txnNumber, state.clock.last, conn.appName);
        }
        txn = session.txn;
        if (!txn || txn.txnNumber !== txnNumber)
          throw new CommandError(251, `Transaction with txnNumber ${txnNumber} has not been started`);
        if (txn.state !== 'active') throw new CommandError(251, `Transaction with txnNumber ${txnNumber} has been aborted.`);
      }
      const readAt = snapshotTime(state, name, body, inTransaction);
      const access = new Access(state, batch, txn, readAt);
      access.bypassValidation = body.bypassDocumentValidation === true;
      if (retryableWrite) {
        access.beforeWrite = () => {
          const write = state.failPoints.fires('onPrimaryTransactionalWrite');
          if (!write) return;
          if (write.closeConnection !== false) closeAfterwards = true;
          if (write.failBeforeCommitExceptionCode !== undefined) {
            notCommitted = true;
            throw new CommandError(
              Number(write.failBeforeCommitExceptionCode),
              `Failing write for ${session?.id ?? 'session'}:${txnNumber} due to failpoint. The write must not be reflected.`,
            );
          }
        };
      }
      const ctx: CommandContext = {
        state,
        name,
        body,
        db,
        access,
        session,
        conn,
        host: env.host,
        replSetName: env.replSetName,
        messageBytes,
        firstStatement: earlier?.resumeFrom ?? 0,
      };
      reply = await handler(ctx);
      if (earlier?.resumeFrom !== undefined) reply = mergeResumed(earlier.reply, reply);
      // A snapshot read says which time it read at, so the session reads there again.
      if (readAt !== undefined && reply.ok === 1) {
        if (isPlainObject(reply.cursor)) (reply.cursor as Document).atClusterTime = toTimestamp(readAt);
        else reply.atClusterTime = toTimestamp(readAt);
      }
      // An operation that waited (getMore, awaitable hello, a blocking fail point) and was interrupted answers with why.
      if (conn.interruption) throw conn.interruption;
      if (batch.size > 0) conn.hasWritten = true;
      if (retryableWrite && session && txnNumber !== undefined) session.rememberReply(txnNumber, retryRecord(reply, notCommitted));
    }
    // The write ran (or the transaction committed); only then is the write concern found wanting.
    if (injected) addWriteConcernError(state, reply, injected, labelCtx);
    else if (reply.ok === 1 && WRITE_CONCERN_COMMANDS.has(name)) {
      const unsatisfiable = unsatisfiableWriteConcern(body.writeConcern);
      if (unsatisfiable) addWriteConcernError(state, reply, { failCommands: [], writeConcernError: unsatisfiable }, labelCtx);
    }
    // onPrimaryTransactionalWrite: the write stands, the reply is lost with the connection.
    if (closeAfterwards) throw new CloseConnection();
    return withClusterTime(state, reply);
  } catch (err) {
    // onPrimaryTransactionalWrite closes the connection even when the write it failed made the command fail.
    if (err instanceof CloseConnection || closeAfterwards) throw new CloseConnection();
    if (txn && txn.state === 'active') state.sessions.abort(txn);
    if (err instanceof CommandError) {
      const reply = errorReply(err, err.labels ?? labelsNow(err.code));
      if (carriesTopologyVersion(err.code, undefined)) reply.topologyVersion = state.topology.version();
      return withClusterTime(state, reply);
    }
    state.log('error', 'command failed unexpectedly', { command: name, error: (err as Error).stack ?? String(err) });
    const internal = new CommandError(1, `internal error in the emulator running '${name}': ${(err as Error).message}`);
    return withClusterTime(state, errorReply(internal, []));
  }
}
