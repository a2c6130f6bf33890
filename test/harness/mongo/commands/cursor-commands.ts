/** aggregate (including $changeStream), getMore, killCursors. */
import { Long, type Document } from 'bson';
import { ChangeStream, type StreamScope } from '../change-stream.ts';
import { CloseConnection, CommandError } from '../errors.ts';
import { compileFilter, runAggregate } from '../query.ts';
import type { ChangeStreamCursor } from '../cursors.ts';
import { cursorReply, intArg, openCursor, takeBatch, type CommandContext, type Handler } from './context.ts';
import { readDocuments } from './crud.ts';

/** Default wait of an awaitData getMore with no maxTimeMS (SERVER-19665). */
const DEFAULT_AWAIT_MS = 1000;

function changeStreamScope(ctx: CommandContext, spec: Document): { scope: StreamScope; ns: string } {
  const target = ctx.body.aggregate;
  if (spec.allChangesForCluster === true) {
    if (ctx.db !== 'admin' || target !== 1) {
      throw new CommandError(
        72,
        "A $changeStream with 'allChangesForCluster:true' may only be opened on the 'admin' database, and with no collection name",
      );
    }
    return { scope: {}, ns: 'admin.$cmd.aggregate' };
  }
  if (target === 1) {
    if (ctx.db === 'admin') throw new CommandError(73, '$changeStream may not be opened on the internal admin database');
    return { scope: { db: ctx.db }, ns: `${ctx.db}.$cmd.aggregate` };
  }
  return { scope: { db: ctx.db, coll: target as string }, ns: `${ctx.db}.${String(target)}` };
}

function openChangeStream(ctx: CommandContext, pipeline: Document[]): Document {
  if (ctx.access.txn) throw new CommandError(263, 'Cannot run a $changeStream aggregation inside a transaction');
  const spec = (pipeline[0]?.$changeStream ?? {}) as Document;
  const { scope, ns } = changeStreamScope(ctx, spec);
  const stream = new ChangeStream(ctx.state, scope, spec, pipeline.slice(1));
  const batchSize = intArg((ctx.body.cursor ?? {}) as Document, 'batchSize');
  const batch = stream.nextBatch(batchSize ?? 101);
  if (batch.closed) return cursorReply(0, ns, batch.events, true, { postBatchResumeToken: batch.postBatchResumeToken });
  const id = ctx.state.nextCursorId();
  ctx.state.cursors.set(id, { kind: 'changeStream', id, ns, stream, lastUsed: Date.now() });
  return cursorReply(id, ns, batch.events, true, { postBatchResumeToken: batch.postBatchResumeToken });
}

/** Open transactions as `$currentOp` shows idle sessions (only with `idleSessions: true`, the default). */
function currentOp(ctx: CommandContext, spec: Document): Document[] {
  if (spec.idleSessions === false) return [];
  const now = Date.now();
  return ctx.state.sessions.openTransactions().map((txn) => ({
    type: 'idleSession',
    active: false,
    desc: 'inactive transaction',
    appName: txn.appName,
    lsid: txn.lsid,
    transaction: {
      parameters: { txnNumber: Long.fromNumber(txn.txnNumber), autocommit: false },
      timeOpenMicros: Long.fromNumber((now - txn.startedAt) * 1000),
      startWallClockTime: new Date(txn.startedAt).toISOString(),
    },
  }));
}

const aggregate: Handler = (ctx) => {
  const pipeline = ctx.body.pipeline;
  if (!Array.isArray(pipeline)) throw new CommandError(14, "'pipeline' option must be specified as an array");
  if (pipeline[0] && '$changeStream' in (pipeline[0] as Document)) return openChangeStream(ctx, pipeline as Document[]);
  ctx.state.opcounters.command += 1;
  const target = ctx.body.aggregate;
  let docs: Document[];
  let stages = pipeline as Document[];
  if (target === 1) {
    const first = stages[0];
    if (first && '$currentOp' in first) {
      if (ctx.db !== 'admin') throw new CommandError(73, '$currentOp must be run against the admin database with {aggregate: 1}');
      docs = currentOp(ctx, (first.$currentOp ?? {}) as Document);
    } else if (first && '$documents' in first) {
      docs = first.$documents as Document[];
    } else {
      throw new CommandError(73, 'aggregate: 1 on a database is supported here only with a leading $documents or $currentOp stage');
    }
    stages = stages.slice(1);
  } else if (typeof target === 'string') {
    // Filter first so only matching documents are copied for the pipeline.
    const head = stages[0];
    const match = head && '$match' in head ? (head.$match as Document) : undefined;
    docs = readDocuments(ctx, target, match);
    if (match) {
      docs = docs.filter(compileFilter(match));
      stages = stages.slice(1);
    }
  } else {
    throw new CommandError(73, `aggregate needs a collection name or 1; got ${JSON.stringify(target)}`);
  }
  for (const stage of stages) {
    const name = Object.keys(stage)[0];
    if (name === '$out' || name === '$merge') throw new CommandError(40324, `${name} is not supported by the emulator`);
  }
  const rows = runAggregate(docs, stages, (name) => ctx.access.documents(ctx.db, name));
  const ns = typeof target === 'string' ? `${ctx.db}.${target}` : `${ctx.db}.$cmd.aggregate`;
  return openCursor(ctx, ns, rows, intArg((ctx.body.cursor ?? {}) as Document, 'batchSize'));
};

async function changeStreamGetMore(ctx: CommandContext, cursor: ChangeStreamCursor, batchSize: number | undefined): Promise<Document> {
  const waitMs = intArg(ctx.body, 'maxTimeMS') ?? DEFAULT_AWAIT_MS;
  const deadline = Date.now() + waitMs;
  for (;;) {
    const batch = cursor.stream.nextBatch(batchSize ?? 1000);
    const remaining = deadline - Date.now();
    if (batch.events.length > 0 || batch.closed || remaining <= 0 || ctx.conn.signal.aborted) {
      if (batch.closed) ctx.state.cursors.delete(cursor.id);
      cursor.lastUsed = Date.now();
      return cursorReply(batch.closed ? 0 : cursor.id, cursor.ns, batch.events, false, {
        postBatchResumeToken: batch.postBatchResumeToken,
      });
    }
    await ctx.state.oplog.waitForMore(remaining, ctx.conn.signal);
    if (!ctx.state.cursors.has(cursor.id)) throw new CommandError(43, `cursor id ${cursor.id} not found`);
  }
}

/** The failGetMoreAfterCursorCheckout fail point: this getMore holds its cursor, and fails (which kills the cursor). */
function failAfterCheckout(ctx: CommandContext): void {
  const fp = ctx.state.failPoints.fires('failGetMoreAfterCursorCheckout');
  if (!fp) return;
  if (fp.closeConnection) throw new CloseConnection();
  if (fp.errorCode !== undefined)
    throw new CommandError(Number(fp.errorCode), 'Failing command via failGetMoreAfterCursorCheckout failpoint');
}

const getMore: Handler = async (ctx) => {
  const raw = ctx.body.getMore;
  const id = Number(raw);
  ctx.state.opcounters.getmore += 1;
  const cursor = ctx.state.cursors.get(id);
  if (!cursor) throw new CommandError(43, `cursor id ${String(raw)} not found`);
  const batchSize = intArg(ctx.body, 'batchSize');
  if (cursor.kind === 'changeStream') {
    try {
      failAfterCheckout(ctx);
      return await changeStreamGetMore(ctx, cursor, batchSize);
    } catch (err) {
      ctx.state.cursors.delete(id);
      throw err;
    }
  }
  try {
    failAfterCheckout(ctx);
  } catch (err) {
    ctx.state.cursors.delete(id);
    throw err;
  }
  cursor.lastUsed = Date.now();
  const batch = takeBatch(cursor.docs, cursor.pos, batchSize ?? Number.MAX_SAFE_INTEGER);
  cursor.pos += batch.length;
  const done = cursor.pos >= cursor.docs.length;
  if (done) ctx.state.cursors.delete(id);
  return cursorReply(done ? 0 : id, cursor.ns, batch, false);
};

const killCursors: Handler = (ctx) => {
  const ids = (ctx.body.cursors ?? []) as Array<Long | number>;
  const killed: Long[] = [];
  const notFound: Long[] = [];
  for (const raw of ids) {
    const id = Number(raw);
    (ctx.state.cursors.delete(id) ? killed : notFound).push(Long.fromNumber(id));
  }
  return { cursorsKilled: killed, cursorsNotFound: notFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
};

export const cursorCommands: Record<string, Handler> = { aggregate, getMore, killCursors };
