/**
 * The collection policy vocabulary, shared by the engine (which enforces it),
 * the contract (which validates it) and the dashboard (which offers it).
 */

export const SYNC_MODES = ['both', 'push-only', 'pull-only', 'local-only'] as const;
export const CONFLICT_GRANULARITIES = ['document', 'field'] as const;

/** Which way a collection syncs: `push-only` for sales and logs, `pull-only` for the HQ menu, `local-only` for till state. */
export type SyncMode = (typeof SYNC_MODES)[number];
/** Last-writer-wins per whole document, or per top-level field. */
export type ConflictGranularity = (typeof CONFLICT_GRANULARITIES)[number];
