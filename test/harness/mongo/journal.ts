/**
 * Durability for an emulator started with a `dbPath`.
 *
 * Every commit is appended to `journal.bson` (one BSON record per commit, so a
 * transaction is all-or-nothing) with a synchronous write before the client is
 * answered: an acknowledged write survives SIGKILL of the process. Now and then
 * the whole state is written to `snapshot.bson` (write, fsync, rename) and the
 * journal starts again. Loading replays the snapshot, then the journal records
 * newer than it; a torn last record (killed mid-write) is cut off the file, so
 * what the next run appends follows the last whole record.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  truncateSync,
  writeSync,
  ftruncateSync,
} from 'node:fs';
import { join } from 'node:path';
import { Binary, Long, UUID, deserialize, serialize, type Document } from 'bson';
import { Catalog, Collection, type IndexSpec } from './catalog.ts';
import type { ClusterTime } from './cluster-time.ts';
import type { ChangeEntry, Oplog, StreamPosition } from './oplog.ts';
import { valueKey } from './values.ts';

const JOURNAL = 'journal.bson';
const SNAPSHOT = 'snapshot.bson';
const COMPACT_AFTER_BYTES = 256 * 1024 * 1024;
const SERIALIZE = { ignoreUndefined: true } as const;

function toLong(ts: ClusterTime): Long {
  return Long.fromBigInt(ts);
}

function toUuid(value: unknown): UUID | undefined {
  if (value instanceof UUID) return value;
  if (value instanceof Binary) return value.toUUID();
  return undefined;
}

export function entryToBson(e: ChangeEntry): Document {
  return Object.assign({}, e, {
    ts: toLong(e.ts),
    uuid: e.uuid,
    txnNumber: e.txnNumber === undefined ? undefined : Long.fromNumber(e.txnNumber),
  });
}

export function entryFromBson(d: Document): ChangeEntry {
  const e = { ...d } as unknown as ChangeEntry;
  e.ts = BigInt((d.ts as Long | number).toString());
  e.uuid = toUuid(d.uuid);
  if (d.txnNumber !== undefined) e.txnNumber = Number(d.txnNumber);
  return e;
}

/** The whole records of a file, and how many bytes they take (less than the file after a torn tail). */
function readRecords(path: string): { records: Document[]; validBytes: number } {
  const records: Document[] = [];
  if (!existsSync(path)) return { records, validBytes: 0 };
  const buf = readFileSync(path);
  let offset = 0;
  while (offset + 4 <= buf.length) {
    const size = buf.readInt32LE(offset);
    if (size < 5 || offset + size > buf.length) break; // torn tail
    try {
      records.push(deserialize(buf.subarray(offset, offset + size), { promoteValues: true }));
    } catch {
      break; // torn tail
    }
    offset += size;
  }
  return { records, validBytes: offset };
}

/** Writes all of `buf` (one `writeSync` may write only part of it). */
function writeAll(fd: number, buf: Uint8Array): void {
  for (let done = 0; done < buf.length;) done += writeSync(fd, buf, done, buf.length - done);
}

export interface LoadedState {
  clock: ClusterTime;
}

export class Journal {
  readonly dir: string;
  #fd: number;
  #bytes = 0;

  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#fd = openSync(join(dir, JOURNAL), 'a');
  }

  /** Rebuilds catalog and oplog from disk; returns the newest cluster time seen. */
  static load(dir: string, catalog: Catalog, oplog: Oplog): LoadedState {
    let clock: ClusterTime = 0n;
    let current: Collection | undefined;
    for (const rec of readRecords(join(dir, SNAPSHOT)).records) {
      if (rec.t === 'meta') {
        clock = BigInt((rec.clock as Long).toString());
        const tr = rec.truncatedThrough as { ts: Long; opIndex: number } | undefined;
        if (tr) oplog.restoreTruncation({ ts: BigInt(tr.ts.toString()), opIndex: tr.opIndex } satisfies StreamPosition);
      } else if (rec.t === 'coll') {
        current = new Collection(rec.db as string, rec.name as string, toUuid(rec.uuid) as UUID, rec.options as Document);
        current.indexes = rec.indexes as IndexSpec[];
        catalog.applyEntry({
          ts: 0n,
          opIndex: 0,
          wall: new Date(0),
          op: 'create',
          db: current.db,
          coll: current.name,
          uuid: current.uuid,
          spec: current.options,
        });
        const created = catalog.get(current.db, current.name) as Collection;
        created.indexes = current.indexes;
        current = created;
      } else if (rec.t === 'doc' && current) {
        const doc = rec.d as Document;
        current.docs.set(valueKey(doc._id), doc);
      } else if (rec.t === 'oplog') {
        oplog.append([entryFromBson(rec.e as Document)]);
      }
    }
    for (const coll of catalog.all()) {
      for (const index of coll.indexes) {
        if (index.unique && index.name !== '_id_') coll.unique.set(index.name, coll.buildUnique(index));
      }
    }
    const snapshotClock = clock;
    const journal = readRecords(join(dir, JOURNAL));
    // A process killed while appending leaves a torn record at the end. Cut it off before anything is
    // appended after it: a record written behind torn bytes could never be read back.
    if (existsSync(join(dir, JOURNAL)) && statSync(join(dir, JOURNAL)).size > journal.validBytes)
      truncateSync(join(dir, JOURNAL), journal.validBytes);
    for (const rec of journal.records) {
      const entries = (rec.e as Document[]).map(entryFromBson).filter((e) => e.ts > snapshotClock);
      for (const e of entries) catalog.applyEntry(e);
      oplog.append(entries);
      for (const e of entries) if (e.ts > clock) clock = e.ts;
    }
    return { clock };
  }

  /** Appends one commit; returns after the bytes are in the OS (survives SIGKILL). */
  append(entries: readonly ChangeEntry[]): void {
    const buf = serialize({ e: entries.map(entryToBson) }, SERIALIZE);
    writeAll(this.#fd, buf);
    this.#bytes += buf.length;
  }

  get needsCompaction(): boolean {
    return this.#bytes > COMPACT_AFTER_BYTES;
  }

  /** Writes the whole state as a snapshot and empties the journal. */
  compact(catalog: Catalog, oplog: Oplog, clock: ClusterTime): void {
    const tmp = join(this.dir, `${SNAPSHOT}.tmp`);
    const fd = openSync(tmp, 'w');
    const write = (doc: Document): void => {
      writeAll(fd, serialize(doc, SERIALIZE));
    };
    const tr = oplog.truncatedThrough;
    write({ t: 'meta', clock: toLong(clock), truncatedThrough: tr ? { ts: toLong(tr.ts), opIndex: tr.opIndex } : undefined });
    for (const coll of catalog.all()) {
      write({ t: 'coll', db: coll.db, name: coll.name, uuid: coll.uuid, options: coll.options, indexes: coll.indexes });
      for (const doc of coll.docs.values()) write({ t: 'doc', d: doc });
    }
    for (const e of oplog.entries()) write({ t: 'oplog', e: entryToBson(e) });
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.dir, SNAPSHOT));
    ftruncateSync(this.#fd, 0);
    this.#bytes = 0;
  }

  close(): void {
    try {
      fsyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }
}
