/**
 * Every rule by which the engine settles a conflict, as one closed union: the
 * engine records one of these, the dashboard explains each one. Adding a rule
 * here makes the compiler point at every table that must explain it.
 */

export const CONFLICT_RULES = [
  /** Document granularity: the newer version of the whole document won. */
  'newer-version',
  /** Field granularity: the hub's version was newer in every field this till changed. */
  'newer-version-every-field',
  /** Field granularity: both sides changed some of the same fields; each field kept its newest value (`fields` names them). */
  'newer-version-per-field',
  /** The hub deleted the document longer ago than the tombstone retention; a stale change cannot bring it back. */
  'deleted-beyond-retention',
  /** A change on this till that sync had not recorded yet lost to the hub's version (the till's copy is kept in the log). */
  'uncaptured-local-change',
  /** This till had its own copy from before it ever synced; the hub's version was kept (the till's copy is in the log). */
  'unsynced-local-copy',
  /** Reconciliation found both sides changed since they last agreed; the newer version won. */
  'reconciled-newer-version',
] as const;

export type ConflictRule = (typeof CONFLICT_RULES)[number];

export function isConflictRule(value: unknown): value is ConflictRule {
  return typeof value === 'string' && (CONFLICT_RULES as readonly string[]).includes(value);
}

/** Which side's version was kept. */
export type ConflictWinner = 'local' | 'hub';
