/**
 * Turns the engine's conflict record into what the dashboard shows: both
 * versions as relaxed Extended JSON, when each was made, which top-level
 * fields differ, and the rule that picked the winner in plain words.
 */
import { EJSON, type Document, type Long } from 'bson';
import type { ConflictSide, ConflictView } from '../../src-shared/ipc.ts';
import { isConflictRule, type ConflictRule, type ConflictWinner } from '../../src-shared/conflict-rules.ts';
import { SYNC_FIELD } from '../sync/core/names.ts';
import { decodeVersion } from '../sync/core/hlc.ts';
import type { ConflictRecord } from '../sync/till/records.ts';

/** The device name the engine gives writes made on the hub directly; the dashboard calls them head office (`hq`). */
const HUB_ORIGIN = 'hub';

/**
 * Plain words for each rule, typed by the shared union: a rule the engine can
 * record and this table does not explain is a compile error.
 */
export const RULE_EXPLANATIONS: Record<ConflictRule, (winner: ConflictWinner, fields: readonly string[]) => string> = {
  'newer-version': (w) =>
    w === 'hub' ? "The hub's version was newer, so it was kept." : "This till's version was newer, so it was sent to the hub.",
  'newer-version-every-field': () => "The hub's version was newer in every part this till changed, so the hub's version was kept.",
  'newer-version-per-field': (w, fields) =>
    `Both sides changed ${fields.length > 0 ? fields.join(', ') : 'the same parts of this record'}; each part kept its newest value` +
    (w === 'hub' ? ", and some of this till's changes were older." : ", and this till's changes were the newest."),
  'deleted-beyond-retention': () =>
    "The record was deleted at the hub long ago, so this older change could not bring it back. This till's change is saved here.",
  'uncaptured-local-change': () =>
    "This till's copy was changed in a way sync had not recorded yet, so the hub's version was kept and this till's copy saved here.",
  'unsynced-local-copy': () =>
    "This till had its own copy of the record from before sync started, so the hub's version was kept and this till's copy saved here.",
  'reconciled-newer-version': (w) =>
    w === 'hub'
      ? "Both sides changed this record while they were out of touch; the hub's version was newer, so it was kept."
      : "Both sides changed this record while they were out of touch; this till's version was newer, so it was sent to the hub.",
};

/** Rules as older versions of the engine stored them (English sentences), by their slug. */
const LEGACY_RULES: Record<string, ConflictRule> = {
  'newer-version-wins': 'newer-version',
  'newer-version-wins-every-field': 'newer-version-every-field',
  'deleted-on-the-hub-longer-ago-than-the-tombstone-retention': 'deleted-beyond-retention',
  'local-change-was-never-captured': 'uncaptured-local-change',
  'local-document-was-never-synced': 'unsynced-local-copy',
  'newer-version-wins-found-by-reconciliation': 'reconciled-newer-version',
};

/** The rule of a stored record: one of the union, or an older record's sentence mapped to it; null if unknown. */
export function storedRule(rule: string): ConflictRule | null {
  if (isConflictRule(rule)) return rule;
  const slug = rule
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
  if (slug.startsWith('newer-version-wins-per-field')) return 'newer-version-per-field';
  return LEGACY_RULES[slug] ?? null;
}

export function explainRule(rule: ConflictRule | null, winner: ConflictWinner, fields: readonly string[] = []): string {
  if (rule) return RULE_EXPLANATIONS[rule](winner, fields);
  return winner === 'hub' ? "The hub's version was kept." : "This till's version was kept.";
}

/**
 * Relaxed Extended JSON turns every int64 into a JavaScript number; one beyond
 * 2^53 would then show a different value, so those stay `{"$numberLong": "…"}`.
 */
function keepLargeLongs(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(keepLargeLongs);
  const bsonType = (value as { _bsontype?: unknown })._bsontype;
  if (bsonType === 'Long') {
    const long = value as Long;
    const n = long.toNumber();
    return Number.isSafeInteger(n) ? value : { $numberLong: long.toString() };
  }
  if (bsonType !== undefined || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, keepLargeLongs(v)]));
}

function toRelaxed(doc: Document | null): Record<string, unknown> | null {
  if (doc === null || doc === undefined) return null;
  const { [SYNC_FIELD]: _meta, ...content } = doc;
  return EJSON.serialize(keepLargeLongs(content) as Document, { relaxed: true }) as Record<string, unknown>;
}

function wallTimeOf(version: string): number | null {
  try {
    return decodeVersion(version).wall;
  } catch {
    return null;
  }
}

function side(s: ConflictRecord['local']): ConflictSide {
  return {
    version: s.version,
    wallTime: wallTimeOf(s.version),
    origin: s.origin === HUB_ORIGIN ? 'hq' : s.origin,
    document: toRelaxed(s.document),
  };
}

/** Top-level fields whose values differ (compared as canonical Extended JSON, so 1 and 1.0 as int and double differ). */
export function changedFields(local: Document | null, hub: Document | null): string[] {
  const a = local ?? {};
  const b = hub ?? {};
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  names.delete(SYNC_FIELD);
  const differs = (name: string): boolean => {
    if (!(name in a) || !(name in b)) return true;
    return EJSON.stringify({ v: a[name] }, { relaxed: false }) !== EJSON.stringify({ v: b[name] }, { relaxed: false });
  };
  return [...names].filter(differs).sort();
}

export function toConflictView(record: ConflictRecord): ConflictView {
  return {
    // The engine looks conflicts up by the hex string of their _id.
    id: record._id.toHexString(),
    collection: record.collection,
    documentId: EJSON.stringify(keepLargeLongs(record.documentId) as never, { relaxed: true }),
    winner: record.winner,
    rule: storedRule(record.rule),
    fields: record.fields ?? [],
    explanation: explainRule(storedRule(record.rule), record.winner, record.fields ?? []),
    changedFields: changedFields(record.local.document, record.hub.document),
    local: side(record.local),
    hub: side(record.hub),
    at: record.at instanceof Date ? record.at.getTime() : Number(record.at),
    reappliedAt: record.reappliedAt ? record.reappliedAt.getTime() : null,
  };
}
