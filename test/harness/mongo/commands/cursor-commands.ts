/** Change streams ($changeStream aggregates), getMore, killCursors. */
import { Long, type Document } from 'bson';
import { ChangeStream, type StreamScope } from '../change-stream.ts';
import { CloseConnection, CommandError } from '../errors.ts';
import type { ChangeStreamCursor } from '../cursors.ts';
import { cursorReply, intArg, takeBatch, type CommandContext, type Handler } from './context.ts';

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

export function openChangeStream(ctx: CommandContext, pipeline: Document[]): Document {
  if (ctx.access.txn) throw new CommandError(263, 'Cannot run a $changeStream aggregation inside a transaction');
  const spec = (pipeline[0]?.$changeStream ?? {}) as Document;
  const { scope, ns } = changeStreamScope(ctx, spec);
  const watched = scope.coll === undefined ? undefined : ctx.state.catalog.get(ctx.db, scope.coll);
  if (watched?.view) throw new CommandError(166, `Namespace ${watched.ns} is a view, not a collection`);
  const stream = new ChangeStream(ctx.state, scope, spec, pipeline.slice(1));
  const batchSize = intArg((ctx.body.cursor ?? {}) as Document, 'batchSize');
  const batch = stream.nextBatch(batchSize ?? 101);
  if (batch.closed) return cursorReply(0, ns, batch.events, true, { postBatchResumeToken: batch.postBatchResumeToken });
  const id = ctx.state.nextCursorId();
  ctx.state.cursors.set(id, { kind: 'changeStream', id, ns, stream, lastUsed: Date.now() });
  return cursorReply(id, ns, batch.events, true, { postBatchResumeToken: batch.postBatchResumeToken });
}

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

export const cursorCommands: Record<string, Handler> = { getMore, killCursors };
