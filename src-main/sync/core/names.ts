/**
 * Where the engine keeps its own state. Engine collections never sync: in the
 * POS and hub databases they carry the `_tillsync` prefix, and the rest lives
 * in a separate local database (`engineDatabase`, default `tillsync`).
 */

/** In the till's POS database: written first in every pull-apply transaction, so capture knows the writes are the engine's. */
export const APPLY_MARKER = '_tillsync_apply';
/** In the hub database: written first in every push transaction, keyed by device id. */
export const PUSH_MARKER = '_tillsync_push';
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
