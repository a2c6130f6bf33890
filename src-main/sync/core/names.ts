/**
 * Where the engine keeps its own state. Engine collections never sync: in the
 * POS and hub databases they carry the `_tillsync` prefix, and the rest lives
 * in a separate local database (`engineDatabase`, default `tillsync`).
 */

/** In the till's POS database: written first in every pull-apply transaction, so capture knows the writes are the engine's. */
export const APPLY_MARKER = '_tillsync_apply';
/**
 * In the hub database: written first in every transaction an engine runs there (its pushes, its
 * stamps), one document per device and session lane (`pushMarkerId`), so transactions running at
 * once never write the same one.
 */
export const PUSH_MARKER = '_tillsync_push';

/** A push marker's id: the device, a dot (never in a device id), the lane. */
export function pushMarkerId(device: string, lane: number): string {
  return `${device}.${lane}`;
}

/** The device a push marker's id names (a marker written before lanes is the bare device id). */
export function markerDevice(id: unknown): unknown {
  if (typeof id !== 'string') return id;
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(0, dot);
}
/** In the hub database: the version of every synced delete, so an older update cannot bring a document back. */
export const TOMBSTONES = '_tillsync_tombstones';

/** In the local engine database. */
export const ENGINE = {
  meta: 'meta',
  checkpoints: 'checkpoints',
  outbox: 'outbox',
  versions: 'versions',
  conflicts: 'conflicts',
  quarantine: 'quarantine',
} as const;

/** The field on hub documents that carries their version, origin device and content hash. */
export const SYNC_FIELD = '_sync';
