/** What every command handler receives, and the helpers they share. */
import { Long, calculateObjectSize, type Document } from 'bson';
import type { Access } from '../access.ts';
import { CommandError } from '../errors.ts';
import type { ServerState } from '../state.ts';
import type { Session } from '../transactions.ts';
import { MAX_BSON_BYTES } from '../wire.ts';

export interface ConnectionInfo {
  readonly id: number;
  readonly remote: string;
  appName: string | undefined;
  /** Aborted when the connection closes or its operations are interrupted. */
  readonly signal: AbortSignal;
  /** Set when the server interrupts this connection's operations (shutdown): every command then fails with it. */
  readonly interruption: CommandError | undefined;
  /** Has written before (the server's "last op" of this client): a later failed retryable write says NoWritesPerformed. */
  hasWritten: boolean;
}

export interface CommandContext {
  readonly state: ServerState;
  readonly name: string;
  readonly body: Document;
  readonly db: string;
  readonly access: Access;
  readonly session: Session | undefined;
  readonly conn: ConnectionInfo;
  readonly host: string;
  readonly replSetName: string;
  readonly messageBytes: number;
  /** A retried write carries on from this statement (the ones before it ran the first time). */
  readonly firstStatement: number;
}

export type Handler = (ctx: CommandContext) => Document | Promise<Document>;

/** The collection name a command addresses: the value of its first field. */
export function collectionArg(ctx: CommandContext): string {
  const value = ctx.body[ctx.name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new CommandError(73, `${ctx.name} needs a collection name as a non-empty string; got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A reply batch of at most `max` documents and well under the 16 MB reply limit. */
export function takeBatch(docs: Document[], from: number, max: number): Document[] {
  const budget = MAX_BSON_BYTES - 64 * 1024;
  const out: Document[] = [];
  let bytes = 0;
  for (let i = from; i < docs.length && out.length < max; i += 1) {
    const doc = docs[i] as Document;
    const size = calculateObjectSize(doc);
    if (out.length > 0 && bytes + size > budget) break;
    bytes += size;
    out.push(doc);
  }
  return out;
}

export function cursorReply(id: number, ns: string, batch: Document[], first: boolean, extra: Document = {}): Document {
  const cursor: Document = { [first ? 'firstBatch' : 'nextBatch']: batch, id: Long.fromNumber(id), ns, ...extra };
  return { cursor, ok: 1 };
}

/** Pages `docs` through a cursor: the first batch now, the rest by getMore. */
export function openCursor(
  ctx: CommandContext,
  ns: string,
  docs: Document[],
  batchSize: number | undefined,
  singleBatch = false,
): Document {
  const first = takeBatch(docs, 0, batchSize ?? 101);
  if (first.length >= docs.length || singleBatch) return cursorReply(0, ns, first, true);
  const id = ctx.state.nextCursorId();
  ctx.state.cursors.set(id, { kind: 'find', id, ns, docs, pos: first.length, lastUsed: Date.now() });
  return cursorReply(id, ns, first, true);
}

export function intArg(body: Document, field: string, fallback?: number): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new CommandError(14, `${field} must be a number; got ${JSON.stringify(v)}`);
  return n;
}
