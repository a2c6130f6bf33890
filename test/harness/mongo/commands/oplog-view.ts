/** `local.oplog.rs` as a read-only collection, for tools that measure the oplog window. */
import { Long, type Document } from 'bson';
import { toTimestamp } from '../cluster-time.ts';
import type { ChangeEntry } from '../oplog.ts';
import type { ServerState } from '../state.ts';

export function isOplogNamespace(db: string, coll: string): boolean {
  return db === 'local' && coll === 'oplog.rs';
}

const OP_CODES: Record<string, string> = { insert: 'i', update: 'u', replace: 'u', delete: 'd' };

function toOplogDocument(e: ChangeEntry): Document {
  const op = OP_CODES[e.op] ?? 'c';
  const doc: Document = {
    op,
    ns: e.coll === undefined ? `${e.db}.$cmd` : `${e.db}.${e.coll}`,
    ui: e.uuid,
    o: op === 'i' || op === 'u' ? e.doc : op === 'd' ? { _id: e.id } : { [e.op]: e.coll ?? e.db },
    ts: toTimestamp(e.ts),
    t: Long.fromNumber(1),
    v: Long.fromNumber(2),
    wall: e.wall,
  };
  if (op === 'u') doc.o2 = { _id: e.id };
  if (e.txnNumber !== undefined) {
    doc.lsid = e.lsid;
    doc.txnNumber = Long.fromNumber(e.txnNumber);
  }
  return doc;
}

export function oplogDocuments(state: ServerState): Document[] {
  return [...state.oplog.entries()].map(toOplogDocument);
}

/** Rough size of the retained oplog, for collStats. */
export function oplogStats(state: ServerState): Document {
  const count = state.oplog.length;
  const avgObjSize = 512;
  return {
    ns: 'local.oplog.rs',
    count,
    size: count * avgObjSize,
    avgObjSize,
    storageSize: count * avgObjSize,
    capped: true,
    max: state.oplog.maxEvents,
    maxSize: state.oplog.maxEvents * avgObjSize,
    nindexes: 0,
    ok: 1,
  };
}
