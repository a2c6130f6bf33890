/**
 * MongoDB 8.0's `bulkWrite` command (what `MongoClient.bulkWrite` sends): inserts,
 * updates and deletes across namespaces in one command, run on `admin`:
 *
 *   {bulkWrite: 1, ops: [{insert: i, document} | {update: i, filter, updateMods, ...}
 *    | {delete: i, filter, multi, ...}], nsInfo: [{ns: 'db.coll'}...], ordered, errorsOnly, let, ...}
 *
 * Each op runs as the matching statement of an insert, update or delete command
 * would (crud.ts), so its writes, oplog entries and change events are theirs.
 * The reply is a cursor over one result per op (only the failed ones with
 * errorsOnly) with the totals beside it; an error stops an ordered command, and
 * any error in a transaction stops the command and aborts the transaction, as
 * for the other write commands.
 */
import type { Document } from 'bson';
import { CommandError, codeName } from '../errors.ts';
import { isPlainObject } from '../values.ts';
import { deleteStatement, insertStatement, requireArray, runStatements, updateStatement, type UpdateTally } from './crud.ts';
import { intArg, openCursor, type CommandContext, type Handler } from './context.ts';

type Kind = 'insert' | 'update' | 'delete';

interface Op {
  kind: Kind;
  target: { db: string; coll: string };
  spec: Document;
}

/** "db.coll" split at its first dot, as the server reads a namespace. */
function namespaceOf(info: unknown, index: number): { db: string; coll: string } {
  const ns = isPlainObject(info) ? (info as Document).ns : undefined;
  if (typeof ns !== 'string')
    throw new CommandError(40414, `BSON field 'bulkWrite.nsInfo.ns' is missing but a required field (nsInfo ${index})`);
  const dot = ns.indexOf('.');
  if (dot <= 0 || dot === ns.length - 1) throw new CommandError(73, `Invalid namespace specified '${ns}'`);
  return { db: ns.slice(0, dot), coll: ns.slice(dot + 1) };
}

/** Reads every op before any runs: a malformed one fails the whole command, as the server's parser does. */
function parseOps(ctx: CommandContext): Op[] {
  const ops = requireArray(ctx, 'ops');
  const namespaces = requireArray(ctx, 'nsInfo').map(namespaceOf);
  if (ops.length === 0) throw new CommandError(2, 'Write commands must have at least one operation');
  if (namespaces.length === 0) throw new CommandError(2, "'nsInfo' must not be empty");
  return ops.map((op, i) => {
    if (!isPlainObject(op)) throw new CommandError(14, `BSON field 'bulkWrite.ops.${i}' is the wrong type, expected object`);
    const kind = Object.keys(op)[0] as Kind | undefined;
    if (kind !== 'insert' && kind !== 'update' && kind !== 'delete') {
      throw new CommandError(40414, `Unrecognized bulkWrite operation: ${JSON.stringify(kind ?? null)} (ops ${i})`);
    }
    const nsIndex = op[kind] as unknown;
    if (typeof nsIndex !== 'number' || !Number.isInteger(nsIndex)) {
      throw new CommandError(14, `BSON field 'bulkWrite.ops.${kind}' is the wrong type, expected int`);
    }
    const target = namespaces[nsIndex];
    if (!target) throw new CommandError(2, `BulkWrite ops entry ${i} has an invalid nsInfo index.`);
    if (kind === 'insert' && !isPlainObject(op.document)) {
      throw new CommandError(40414, "BSON field 'bulkWrite.ops.document' is missing but a required field");
    }
    if (kind === 'update' && op.updateMods === undefined) {
      throw new CommandError(40414, "BSON field 'bulkWrite.ops.updateMods' is missing but a required field");
    }
    if (kind !== 'insert' && op.filter === undefined) {
      throw new CommandError(40414, "BSON field 'bulkWrite.ops.filter' is missing but a required field");
    }
    return { kind, target, spec: op };
  });
}

/** The update or delete command's statement for a bulkWrite op. */
function statementOf(op: Op): Document {
  const s = op.spec;
  if (op.kind === 'delete') return { q: s.filter, limit: s.multi === true ? 0 : 1, collation: s.collation, hint: s.hint };
  return {
    q: s.filter,
    u: s.updateMods,
    multi: s.multi === true,
    upsert: s.upsert === true,
    arrayFilters: s.arrayFilters,
    c: s.constants,
    collation: s.collation,
    hint: s.hint,
    sort: s.sort,
  };
}

const bulkWrite: Handler = async (ctx) => {
  if (ctx.db !== 'admin') throw new CommandError(13, 'The bulkWrite command can only be run against the admin database');
  const ops = parseOps(ctx);
  for (const op of ops) ctx.state.opcounters[op.kind] += 1;
  const results: Document[] = [];
  const totals = { nInserted: 0, nMatched: 0, nModified: 0, nUpserted: 0, nDeleted: 0 };
  const errors = await runStatements(ctx, ops.length, (i) => {
    const op = ops[i] as Op;
    // The op runs as a statement of a command on its own database.
    const on: CommandContext = { ...ctx, db: op.target.db };
    if (op.kind === 'insert') {
      insertStatement(on, op.target.coll, op.spec.document as Document);
      totals.nInserted += 1;
      results.push({ ok: 1, idx: i, n: 1 });
    } else if (op.kind === 'update') {
      const tally: UpdateTally = { n: 0, nModified: 0 };
      const upserted = updateStatement(on, op.target.coll, statementOf(op), tally);
      const result: Document = { ok: 1, idx: i, n: tally.n, nModified: tally.nModified };
      if (upserted) {
        result.upserted = upserted;
        totals.nUpserted += 1;
      } else totals.nMatched += tally.n;
      totals.nModified += tally.nModified;
      results.push(result);
    } else {
      const n = deleteStatement(on, op.target.coll, statementOf(op));
      totals.nDeleted += n;
      results.push({ ok: 1, idx: i, n });
    }
  });
  for (const { index, code, errmsg, ...extra } of errors) {
    const failed: Document = { ok: 0, idx: index, code, codeName: codeName(code), errmsg, ...extra, n: 0 };
    if (ops[index]?.kind === 'update') failed.nModified = 0;
    results.push(failed);
  }
  results.sort((a, b) => (a.idx as number) - (b.idx as number));
  const listed = ctx.body.errorsOnly === true ? results.filter((r) => r.ok === 0) : results;
  const batchSize = intArg(isPlainObject(ctx.body.cursor) ? (ctx.body.cursor as Document) : {}, 'batchSize');
  const { cursor } = openCursor(ctx, 'admin.$cmd.bulkWrite', listed, batchSize ?? Number.MAX_SAFE_INTEGER);
  return { cursor, nErrors: errors.length, ...totals, ok: 1 };
};

export const bulkWriteCommands: Record<string, Handler> = { bulkWrite };
