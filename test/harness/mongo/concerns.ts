/**
 * Read and write concerns as a one-member replica set meets them: snapshot
 * reads outside transactions, and write concerns it cannot satisfy.
 */
import { Timestamp, type Document } from 'bson';
import { fromTimestamp, type ClusterTime } from './cluster-time.ts';
import { CommandError } from './errors.ts';
import { checkSnapshotTime } from './snapshot.ts';
import type { ServerState } from './state.ts';

/** Commands that may read at a snapshot outside a transaction (readConcern "snapshot", 5.0+). */
const SNAPSHOT_READS = new Set(['find', 'aggregate', 'distinct']);

/**
 * The cluster time a snapshot read outside a transaction reads at (the one it
 * names, or now); undefined for any other read concern. Throws for a command
 * that cannot read at a snapshot, or a time that cannot be read.
 */
export function snapshotTime(state: ServerState, name: string, body: Document, inTransaction: boolean): ClusterTime | undefined {
  const readConcern = body.readConcern as Document | undefined;
  if (inTransaction || readConcern?.level !== 'snapshot') return undefined;
  if (!SNAPSHOT_READS.has(name)) {
    throw new CommandError(
      72,
      `Command ${name} does not support { readConcern: { level: "snapshot", provenance: "clientSupplied" } } :: caused by :: read concern not supported`,
    );
  }
  const named = readConcern.atClusterTime;
  if (named !== undefined && !(named instanceof Timestamp)) throw new CommandError(14, 'readConcern atClusterTime must be a Timestamp');
  const at = named === undefined ? state.clock.last : fromTimestamp(named);
  checkSnapshotTime(state, at);
  return at;
}

/** Commands that wait for their write concern after they run. */
export const WRITE_CONCERN_COMMANDS = new Set([
  'insert',
  'update',
  'delete',
  'bulkWrite',
  'findAndModify',
  'findandmodify',
  'commitTransaction',
  'abortTransaction',
  'create',
  'drop',
  'dropDatabase',
  'createIndexes',
  'dropIndexes',
  'collMod',
  'renameCollection',
]);

/** A write concern one member cannot satisfy: more than one node, or a tag the set has no mode for. */
export function unsatisfiableWriteConcern(wc: unknown): Document | undefined {
  const w = (wc as { w?: unknown } | undefined)?.w;
  if (typeof w === 'number' && w > 1) return { code: 100, codeName: 'UnsatisfiableWriteConcern', errmsg: 'Not enough data-bearing nodes' };
  if (typeof w === 'string' && w !== 'majority') {
    return {
      code: 79,
      codeName: 'UnknownReplWriteConcern',
      errmsg: `No write concern mode named '${w}' found in replica set configuration`,
    };
  }
  return undefined;
}
