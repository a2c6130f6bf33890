/**
 * From a command document to a reply: fail points, sessions, retryable-write
 * memory, transactions, the handler, error labels and cluster time.
 */
import type { Document } from 'bson';
import { Access } from './access.ts';
import { toTimestamp } from './cluster-time.ts';
import { CommandError, errorReply, serverLabels, type LabelContext } from './errors.ts';
import type { CommandContext, ConnectionInfo, Handler } from './commands/context.ts';
import { WriteBatch, type ServerState } from './state.ts';
import type { Transaction } from './transactions.ts';

const RETRYABLE_WRITES = new Set(['insert', 'update', 'delete', 'findAndModify', 'findandmodify']);
const ZERO_SIGNATURE = { hash: Buffer.alloc(20), keyId: 0 };

/** The fail point asked for the connection to be closed with no reply. */
export class CloseConnection extends Error {
  constructor() {
    super('closed by failCommand');
  }
}

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

export async function dispatch(env: DispatchEnv, conn: ConnectionInfo, body: Document, messageBytes: number): Promise<Document> {
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
  const labelCtx: LabelContext = { command: name, inTransaction, retryableWrite, changeStream };
  let txn: Transaction | undefined;
  try {
    if (conn.interruption) throw conn.interruption;
    const ns = typeof body[name] === 'string' ? `${db}.${body[name] as string}` : db;
    const fp = state.failPoints.check(name, conn.appName, ns);
    if (fp) {
      if (fp.blockConnection) await sleep(fp.blockTimeMS ?? 0);
      if (conn.interruption) throw conn.interruption;
      if (fp.closeConnection) throw new CloseConnection();
      if (fp.errorCode !== undefined) {
        throw new CommandError(fp.errorCode, "Failing command via 'failCommand' failpoint", { labels: fp.errorLabels });
      }
      if (fp.writeConcernError) {
        return withClusterTime(state, { ok: 1, writeConcernError: fp.writeConcernError });
      }
    }
    const handler = Object.hasOwn(env.handlers, name) ? env.handlers[name] : undefined;
    if (!handler) throw new CommandError(59, `no such command: '${name}'`);
    if (session && txnNumber !== undefined && name !== 'commitTransaction' && name !== 'abortTransaction') {
      if (txnNumber < session.highestTxnNumber) {
        throw new CommandError(
          225,
          `Retryable write with txnNumber ${txnNumber} is prohibited on session ${session.id} because a newer retryable write with txnNumber ${session.highestTxnNumber} has already started on this session.`,
        );
      }
      session.highestTxnNumber = txnNumber;
      const earlier = retryableWrite ? session.retryReplies.get(txnNumber) : undefined;
      if (earlier) return withClusterTime(state, { ...earlier });
    }
    if (inTransaction && name !== 'commitTransaction' && name !== 'abortTransaction') {
      if (!session || txnNumber === undefined) throw new CommandError(72, 'a transaction needs lsid and txnNumber');
      if (body.startTransaction === true) {
        state.sessions.begin(session, txnNumber, state.clock.last, conn.appName);
      }
      txn = session.txn;
      if (!txn || txn.txnNumber !== txnNumber) throw new CommandError(251, `Transaction with txnNumber ${txnNumber} has not been started`);
      if (txn.state !== 'active') throw new CommandError(251, `Transaction with txnNumber ${txnNumber} has been aborted.`);
    }
    const ctx: CommandContext = {
      state,
      name,
      body,
      db,
      access: new Access(state, new WriteBatch(state), txn),
      session,
      conn,
      host: env.host,
      replSetName: env.replSetName,
      messageBytes,
    };
    const reply = await handler(ctx);
    // An operation that waited (getMore, awaitable hello, a blocking fail point) and was interrupted answers with why.
    if (conn.interruption) throw conn.interruption;
    if (retryableWrite && session && txnNumber !== undefined) session.rememberReply(txnNumber, reply);
    return withClusterTime(state, reply);
  } catch (err) {
    if (err instanceof CloseConnection) throw err;
    if (txn && txn.state === 'active') state.sessions.abort(txn);
    if (err instanceof CommandError) {
      return withClusterTime(state, errorReply(err, err.labels ?? serverLabels(err.code, labelCtx)));
    }
    state.log('error', 'command failed unexpectedly', { command: name, error: (err as Error).stack ?? String(err) });
    const internal = new CommandError(1, `internal error in the emulator running '${name}': ${(err as Error).message}`);
    return withClusterTime(state, errorReply(internal, []));
  }
}
