/**
 * aggregate: on a collection (or a view), or on a database from a leading
 * source stage ($documents, $currentOp, $listLocalSessions); a leading
 * $changeStream opens a change stream; a final $out or $merge writes the
 * results (the cursor then is empty).
 */
import { createHash } from 'node:crypto';
import { Long, type Document } from 'bson';
import { CommandError } from '../errors.ts';
import { compileFilter, runAggregate } from '../query.ts';
import { intArg, openCursor, type CommandContext, type Handler } from './context.ts';
import { OUTPUT_STAGES, writeMerge, writeOut } from './aggregate-output.ts';
import { openChangeStream } from './cursor-commands.ts';
import { evaluationOf, readDocuments } from './reads.ts';

/** uid of an unauthenticated user's session: SHA-256 of the empty user name. */
const EMPTY_UID = createHash('sha256').update('').digest();

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

/** The sessions this server has in memory, as $listLocalSessions lists them. */
function localSessions(ctx: CommandContext): Document[] {
  return ctx.state.sessions
    .list()
    .map((session) => ({ _id: { id: session.lsid.id, uid: EMPTY_UID }, lastUse: new Date(session.lastUsed) }));
}

/** The documents a database-level aggregate starts from, by its first stage. */
function databaseSource(ctx: CommandContext, first: Document | undefined): Document[] {
  const name = first ? Object.keys(first)[0] : undefined;
  switch (name) {
    case '$currentOp':
      if (ctx.db !== 'admin') throw new CommandError(73, '$currentOp must be run against the admin database with {aggregate: 1}');
      return currentOp(ctx, ((first as Document).$currentOp ?? {}) as Document);
    case '$documents':
      return (first as Document).$documents as Document[];
    case '$listLocalSessions':
      return localSessions(ctx);
    default:
      throw new CommandError(
        73,
        `{aggregate: 1} on a database needs a leading source stage ($documents, $currentOp, $listLocalSessions); got ${name ?? 'none'}`,
      );
  }
}

const aggregate: Handler = (ctx) => {
  const pipeline = ctx.body.pipeline;
  if (!Array.isArray(pipeline)) throw new CommandError(14, "'pipeline' option must be specified as an array");
  if (pipeline[0] && '$changeStream' in (pipeline[0] as Document)) return openChangeStream(ctx, pipeline as Document[]);
  ctx.state.opcounters.command += 1;
  const target = ctx.body.aggregate;
  const evaluation = evaluationOf(ctx, typeof target === 'string' ? target : '');
  let docs: Document[];
  let stages = pipeline as Document[];
  const last = stages[stages.length - 1];
  const output = last && OUTPUT_STAGES.has(Object.keys(last)[0] ?? '') ? last : undefined;
  if (output) {
    stages = stages.slice(0, -1);
    if ((ctx.body.readConcern as Document | undefined)?.level === 'linearizable') {
      throw new CommandError(72, `${Object.keys(output)[0]} cannot be used with readConcern level 'linearizable'`);
    }
  }
  for (const stage of stages) {
    const name = Object.keys(stage)[0] ?? '';
    if (OUTPUT_STAGES.has(name)) throw new CommandError(40601, `${name} can only be the final stage in the pipeline`);
  }
  if (target === 1) {
    docs = databaseSource(ctx, stages[0]);
    stages = stages.slice(1);
  } else if (typeof target === 'string') {
    // Filter first so only matching documents are copied for the pipeline.
    const head = stages[0];
    const match = head && '$match' in head ? (head.$match as Document) : undefined;
    docs = readDocuments(ctx, target, match, evaluation);
    if (match) {
      docs = docs.filter(compileFilter(match, evaluation));
      stages = stages.slice(1);
    }
  } else {
    throw new CommandError(73, `aggregate needs a collection name or 1; got ${JSON.stringify(target)}`);
  }
  const rows = runAggregate(docs, stages, (name) => ctx.access.documents(ctx.db, name), evaluation);
  const ns = typeof target === 'string' ? `${ctx.db}.${target}` : `${ctx.db}.$cmd.aggregate`;
  if (output) {
    if ('$out' in output) writeOut(ctx, output.$out, rows);
    else writeMerge(ctx, output.$merge, rows, evaluation.variables);
    return openCursor(ctx, ns, [], 0);
  }
  return openCursor(ctx, ns, rows, intArg((ctx.body.cursor ?? {}) as Document, 'batchSize'));
};

export const aggregateCommands: Record<string, Handler> = { aggregate };
