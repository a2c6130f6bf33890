/**
 * How a hub document's version is read. Every engine write to the hub carries
 * `_sync: {v, o, h}` (version, origin device, content hash); a client that
 * knows nothing of sync (HQ's back-office) leaves it out, or leaves one whose
 * hash no longer matches the content it wrote. Such a write takes a version
 * from when it happened, and an engine stamps that version on the document so
 * every till compares against the same one.
 */
import { encodeVersion, MAX_COUNTER, type Version } from './hlc.ts';
import { SYNC_FIELD } from './names.ts';
import type { Codec, Document, HubVersion, StampOver } from './types.ts';

/** A hub document's `_sync`: its version, the device that wrote it, and the hash of the content it was written for. */
export interface SyncMeta extends HubVersion {
  h: string;
  /** Field granularity: the version of each top-level field. */
  f?: Array<{ n: string; v: string }>;
}

/** The document without `_sync` (the same object when it has none). */
export function withoutSync(doc: Document): Document {
  if (!(SYNC_FIELD in doc)) return doc;
  const { [SYNC_FIELD]: _meta, ...rest } = doc;
  return rest;
}

/** The `_sync` field of a hub document, or a reason it is malformed (undefined when absent). */
export function readSyncMeta(doc: Document): SyncMeta | { malformed: string } | undefined {
  const meta = doc[SYNC_FIELD] as unknown;
  if (meta === undefined) return undefined;
  if (meta === null || typeof meta !== 'object')
    return { malformed: `${SYNC_FIELD} is ${JSON.stringify(meta)}, expected a document {v, o, h}` };
  const { v, o, h, f } = meta as Record<string, unknown>;
  if (typeof v !== 'string' || typeof o !== 'string' || typeof h !== 'string') {
    return { malformed: `${SYNC_FIELD} needs string fields v, o and h; got ${JSON.stringify(meta)}` };
  }
  return Array.isArray(f) ? { v, o, h, f: f as SyncMeta['f'] } : { v, o, h };
}

/**
 * The version of a hub document when its `_sync` was written for its current
 * content; undefined when a client that knows nothing of sync changed it since
 * and no engine has stamped that change yet.
 */
export function stampedVersion(doc: Document, codec: Codec): HubVersion | undefined {
  const meta = readSyncMeta(doc);
  return meta && !('malformed' in meta) && meta.h === codec.hash(withoutSync(doc)) ? { v: meta.v, o: meta.o } : undefined;
}

/** What a stamp of this hub document, as read, may be written over: the `_sync.v` it carries (null: none, or not a string). */
export function stampOver(doc: Document): StampOver {
  const meta = doc[SYNC_FIELD] as { v?: unknown } | null | undefined;
  const v = meta !== null && typeof meta === 'object' ? meta.v : undefined;
  return { over: typeof v === 'string' ? v : null };
}

/** An HQ change no engine has stamped, met by a push: it counts as made now. */
export function unstampedVersion(now: number): HubVersion {
  return { v: encodeVersion({ wall: now, counter: 0, device: 'hub' }), o: 'hub' };
}

/** The version of a hub write made without sync metadata, from its change event: commit time and cluster-time increment. */
export function derivedVersion(wallMs: number, clusterTimeIncrement: number | undefined): Version {
  const counter = clusterTimeIncrement === undefined ? 0 : Math.min(clusterTimeIncrement, MAX_COUNTER);
  return { wall: wallMs, counter, device: 'hub' };
}
