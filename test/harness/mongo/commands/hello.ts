/**
 * hello / isMaster: the handshake of every connection and the monitor's
 * heartbeat. With `topologyVersion` and `maxAwaitTimeMS` it is the awaitable
 * hello of the SDAM spec: it answers when the topology changes or the time is
 * up, and a request with exhaustAllowed is answered again and again
 * (moreToCome) until the connection closes — see emulator.ts.
 */
import { Long, ObjectId, type Document } from 'bson';
import { toTimestamp } from '../cluster-time.ts';
import { CommandError } from '../errors.ts';
import { wallNow } from '../wall-clock.ts';
import { MAX_BSON_BYTES, MAX_MESSAGE_BYTES } from '../wire.ts';
import type { CommandContext } from './context.ts';

export const MAX_WIRE_VERSION = 25;
const HELLO_NAMES = new Set(['hello', 'isMaster', 'ismaster']);

/** A hello that waits for a topology change: the one command whose replies may stream. */
export function isAwaitableHello(body: Document): boolean {
  const name = Object.keys(body)[0] ?? '';
  return HELLO_NAMES.has(name) && body.topologyVersion !== undefined && body.maxAwaitTimeMS !== undefined;
}

/** The client's `{topologyVersion, maxAwaitTimeMS}`, checked as mongod checks them; undefined when it is no awaitable hello. */
function awaitable(body: Document): { processId: ObjectId; counter: number; ms: number } | undefined {
  const tv = body.topologyVersion as unknown;
  const maxAwait = body.maxAwaitTimeMS as unknown;
  if (tv === undefined && maxAwait === undefined) return undefined;
  if (tv === undefined || maxAwait === undefined) {
    throw new CommandError(
      31368,
      tv === undefined
        ? "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'"
        : "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'",
    );
  }
  const ms = Number(maxAwait);
  if (!Number.isInteger(ms) || ms < 0) throw new CommandError(31373, 'maxAwaitTimeMS must be a non-negative integer');
  const { processId, counter } = (tv ?? {}) as Document;
  if (!(processId instanceof ObjectId)) {
    throw new CommandError(14, `topologyVersion.processId must be an ObjectId; got ${JSON.stringify(processId)}`);
  }
  const n = Number(counter);
  if (!Number.isInteger(n) || n < 0) {
    throw new CommandError(31372, `topologyVersion.counter must be a non-negative integer; got ${JSON.stringify(counter)}`);
  }
  return { processId, counter: n, ms };
}

export async function hello(ctx: CommandContext): Promise<Document> {
  const wait = awaitable(ctx.body);
  if (wait) await ctx.state.topology.awaitChange(wait, wait.ms, ctx.conn.signal);
  const client = ctx.body.client as { application?: { name?: string } } | undefined;
  if (client?.application?.name) ctx.conn.appName = client.application.name;
  const legacy = ctx.name.toLowerCase() === 'ismaster';
  return {
    ...(legacy ? { ismaster: true } : { isWritablePrimary: true }),
    topologyVersion: ctx.state.topology.version(),
    helloOk: true,
    hosts: [ctx.host],
    setName: ctx.replSetName,
    setVersion: 1,
    primary: ctx.host,
    me: ctx.host,
    secondary: false,
    electionId: new ObjectId('7fffffff0000000000000001'),
    lastWrite: { opTime: { ts: toTimestamp(ctx.state.clock.last), t: Long.fromNumber(1) }, lastWriteDate: new Date(wallNow()) },
    maxBsonObjectSize: MAX_BSON_BYTES,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    maxWriteBatchSize: 100_000,
    localTime: new Date(wallNow()),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.conn.id,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}
