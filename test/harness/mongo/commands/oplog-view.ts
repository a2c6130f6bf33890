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

/**
 * The few oplog entries a `find` sorted by `$natural` with a limit and no
 * filter asks for (how tools read the oplog window), without converting the
 * whole oplog; undefined when the query needs more.
 */
export function oplogEnds(state: ServerState, body: Document): Document[] | undefined {
  const filter = body.filter as Document | undefined;
  const sort = body.sort as Document | undefined;
  const limit = Math.abs(Number(body.limit ?? 0));
  if ((filter && Object.keys(filter).length > 0) || !limit || body.skip) return undefined;
  const keys = sort ? Object.keys(sort) : [];
  if (keys.length > 1 || (keys.length === 1 && keys[0] !== '$natural')) return undefined;
  const backwards = sort?.$natural === -1;
  const out: Document[] = [];
  const end = state.oplog.endIndex;
  for (let k = 0; k < limit; k += 1) {
    const entry = backwards ? state.oplog.at(end - 1 - k) : state.oplog.at(state.oplog.indexAfter({ ts: -1n, opIndex: 0 }) + k);
    if (!entry) break;
    out.push(toOplogDocument(entry));
  }
  return out;
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
