/**
 * Per-collection sync policy: which way a collection syncs and how finely its
 * conflicts are resolved. Pure lookups, so capture, push, pull and reconcile
 * all ask the same table and a policy change applies without a restart.
 */

import { CONFLICT_GRANULARITIES, SYNC_MODES, type ConflictGranularity, type SyncMode } from '../../../src-shared/policy.ts';

export { CONFLICT_GRANULARITIES, SYNC_MODES, type ConflictGranularity, type SyncMode } from '../../../src-shared/policy.ts';

export interface CollectionPolicy {
  mode: SyncMode;
  conflict: ConflictGranularity;
}

/** Collections the engine keeps for itself (outbox, checkpoints, conflicts) start with this. */
export const ENGINE_COLLECTION_PREFIX = '_tillsync';

export const DEFAULT_POLICY: Readonly<CollectionPolicy> = Object.freeze({ mode: 'both', conflict: 'document' });

/**
 * Engine collections and MongoDB's own `system.*` collections never sync:
 * syncing the outbox or a checkpoint would loop, and system collections are
 * per-server.
 */
export function isEngineCollection(collection: string): boolean {
  return collection.startsWith(ENGINE_COLLECTION_PREFIX) || collection.startsWith('system.');
}

/** A policy entry the table cannot honour. */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';

  constructor(
    readonly reason: 'unknown-mode' | 'unknown-conflict' | 'engine-collection',
    readonly collection: string,
    detail: string,
  ) {
    super(`Collection policy for "${collection}": ${detail}`);
  }
}

export type ResolvedPolicy = CollectionPolicy & {
  /** True for engine and system collections, which are always local-only. */
  engine: boolean;
};

export class PolicyTable {
  readonly defaults: Readonly<CollectionPolicy>;
  // A Map, not an object, so collections named "constructor" or "__proto__" are just names.
  private readonly policies: ReadonlyMap<string, Partial<CollectionPolicy>>;

  constructor(policies: Record<string, Partial<CollectionPolicy>>, defaults: CollectionPolicy = DEFAULT_POLICY) {
    validate('(defaults)', defaults);
    this.defaults = Object.freeze({ mode: defaults.mode, conflict: defaults.conflict });
    const map = new Map<string, Partial<CollectionPolicy>>();
    for (const [collection, policy] of Object.entries(policies)) {
      validate(collection, policy);
      if (isEngineCollection(collection) && policy.mode !== undefined && policy.mode !== 'local-only') {
        throw new PolicyError(
          'engine-collection',
          collection,
          `engine and system collections never sync, so mode must be local-only, got "${policy.mode}"`,
        );
      }
      map.set(collection, { ...pick(policy) });
    }
    this.policies = map;
  }

  /** The effective policy: the collection's entry over the defaults; engine collections are always local-only. */
  policyFor(collection: string): ResolvedPolicy {
    const own = this.policies.get(collection) ?? {};
    const conflict = own.conflict ?? this.defaults.conflict;
    if (isEngineCollection(collection)) return { mode: 'local-only', conflict, engine: true };
    return { mode: own.mode ?? this.defaults.mode, conflict, engine: false };
  }

  /** Whether local changes to this collection go to the hub. */
  shouldPush(collection: string): boolean {
    const { mode } = this.policyFor(collection);
    return mode === 'both' || mode === 'push-only';
  }

  /** Whether hub changes to this collection come to this till. */
  shouldPull(collection: string): boolean {
    const { mode } = this.policyFor(collection);
    return mode === 'both' || mode === 'pull-only';
  }

  /**
   * A new table with `policies` laid over this one, field by field
   * (`with({ menu: { conflict: 'field' } })` keeps menu's mode). This table is
   * unchanged, so a running batch finishes under the policy it started with.
   */
  with(policies: Record<string, Partial<CollectionPolicy>>): PolicyTable {
    const merged = new Map(this.policies);
    for (const [collection, policy] of Object.entries(policies)) {
      merged.set(collection, { ...merged.get(collection), ...pick(policy) });
    }
    // Object.fromEntries defines own properties, so even "__proto__" stays a collection name.
    return new PolicyTable(Object.fromEntries(merged), this.defaults);
  }

  /** The configured entries, as given (not resolved against the defaults). */
  entries(): Array<[string, Partial<CollectionPolicy>]> {
    return [...this.policies].map(([collection, policy]) => [collection, { ...policy }]);
  }
}

/** Only the two known fields, and only when set: `{ mode: undefined }` means "not set". */
function pick(policy: Partial<CollectionPolicy>): Partial<CollectionPolicy> {
  const out: Partial<CollectionPolicy> = {};
  if (policy.mode !== undefined) out.mode = policy.mode;
  if (policy.conflict !== undefined) out.conflict = policy.conflict;
  return out;
}

function validate(collection: string, policy: Partial<CollectionPolicy>): void {
  if (policy.mode !== undefined && !SYNC_MODES.includes(policy.mode)) {
    throw new PolicyError('unknown-mode', collection, `mode ${JSON.stringify(policy.mode)} is not one of ${SYNC_MODES.join(', ')}`);
  }
  if (policy.conflict !== undefined && !CONFLICT_GRANULARITIES.includes(policy.conflict)) {
    throw new PolicyError(
      'unknown-conflict',
      collection,
      `conflict ${JSON.stringify(policy.conflict)} is not one of ${CONFLICT_GRANULARITIES.join(', ')}`,
    );
  }
}

/**
 * Collections that sync further under `after` than under `before` (local-only
 * or push-only to both, pull-only to both, …): what was written while they did
 * not must be compared between the two sides, as a late join does.
 */
export function widened(before: PolicyTable, after: PolicyTable, collections: Iterable<string>): string[] {
  const out: string[] = [];
  for (const c of new Set(collections)) {
    if ((!before.shouldPush(c) && after.shouldPush(c)) || (!before.shouldPull(c) && after.shouldPull(c))) out.push(c);
  }
  return out.sort();
}
