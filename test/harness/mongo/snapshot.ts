/**
 * Reads at a point in time outside a transaction (readConcern "snapshot",
 * MongoDB 5.0+): a collection as it was at cluster time T, rebuilt from what
 * it is now by undoing, newest first, the oplog entries after T — each keeps
 * the document's pre-image. The server keeps such history for
 * minSnapshotHistoryWindowInSeconds (300 s); older, or past the oplog's
 * beginning, is SnapshotTooOld. A collection dropped or renamed since T
 * cannot be rebuilt: SnapshotUnavailable.
 */
import type { Document } from 'bson';
import { toTimestamp, type ClusterTime } from './cluster-time.ts';
import { CommandError } from './errors.ts';
import type { ChangeEntry } from './oplog.ts';
import type { ServerState } from './state.ts';
import { valueKey } from './values.ts';

const HISTORY_WINDOW_SECONDS = 300n;

function describe(ts: ClusterTime): string {
  const t = toTimestamp(ts);
  return `Timestamp(${t.high}, ${t.low})`;
}

/** Checks that a snapshot at `at` can be read now; throws the server's errors. */
export function checkSnapshotTime(state: ServerState, at: ClusterTime): void {
  if (at > state.clock.last) {
    throw new CommandError(
      72,
      `readConcern atClusterTime value must not be greater than the current clusterTime. Requested clusterTime: ${describe(at)}; current clusterTime: ${describe(state.clock.last)}`,
    );
  }
  const nowSeconds = state.clock.last >> 32n;
  if (state.oplog.lostHistory({ ts: at, opIndex: Number.MAX_SAFE_INTEGER }) || nowSeconds - (at >> 32n) > HISTORY_WINDOW_SECONDS) {
    throw new CommandError(239, `Read timestamp ${describe(at)} is older than the oldest available timestamp.`);
  }
}

/** The documents of `db.name` as of cluster time `at`, by document key, in natural order. */
export function documentsAt(state: ServerState, db: string, name: string, at: ClusterTime): Map<string, Document> {
  const oplog = state.oplog;
  const later: ChangeEntry[] = [];
  for (let i = oplog.indexAfter({ ts: at, opIndex: Number.MAX_SAFE_INTEGER }); i < oplog.endIndex; i += 1) {
    const e = oplog.at(i) as ChangeEntry;
    if (e.db === db && (e.coll === name || e.coll === undefined || (e.op === 'rename' && e.to?.db === db && e.to.coll === name)))
      later.push(e);
  }
  const docs = new Map(state.catalog.get(db, name)?.docs ?? []);
  for (let i = later.length - 1; i >= 0; i -= 1) {
    const e = later[i] as ChangeEntry;
    switch (e.op) {
      case 'insert':
        docs.delete(valueKey(e.id));
        break;
      case 'update':
      case 'replace':
      case 'delete':
        if (e.pre) docs.set(valueKey(e.id), e.pre);
        break;
      case 'create':
        // Created after T: it did not exist then.
        return new Map();
      case 'drop':
      case 'dropDatabase':
      case 'rename':
        throw new CommandError(
          246,
          `Unable to read from a snapshot due to pending collection catalog changes; please retry the operation. Snapshot timestamp is ${describe(at)}.`,
        );
      default:
        break;
    }
  }
  return docs;
}
