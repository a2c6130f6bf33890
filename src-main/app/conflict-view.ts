/**
 * Turns the engine's conflict record into what the dashboard shows: both
 * versions as relaxed Extended JSON, when each was made, which top-level
 * fields differ, and the rule that picked the winner in plain words.
 */
import { EJSON, type Document, type Long } from 'bson';
import type { ConflictSide, ConflictView } from '../../src-shared/ipc.ts';
import { SYNC_FIELD } from '../sync/names.ts';
import { decodeVersion } from '../sync/hlc.ts';
import type { ConflictRecord } from '../sync/local-store.ts';

/** The device name the engine gives writes made on the hub directly; the dashboard calls them head office (`hq`). */
const HUB_ORIGIN = 'hub';

/** Plain-words explanations, by rule (machine names and the engine's older descriptive names). */
const EXPLANATIONS: Record<string, (winner: 'local' | 'hub') => string> = {
  'newer-version': (w) =>
    w === 'hub' ? "The hub's version was newer, so it was kept." : "This till's version was newer, so it was sent to the hub.",
  'newer-version-wins': (w) => EXPLANATIONS['newer-version']!(w),
  'field-merge': () => 'Both sides changed different parts of this record; each part kept its newest value.',
  'clock-drift': (w) =>
    w === 'hub'
      ? "This till's clock was too far ahead, so its change could not be trusted and the hub's version was kept."
      : "The other device's clock was too far ahead, so its change could not be trusted and this till's version was kept.",
  'delete-wins': (w) =>
    w === 'hub'
      ? 'The record was deleted elsewhere after this change, so the delete was kept.'
      : 'The record was deleted on this till after the other change, so the delete was kept.',
  tombstone: () => 'The record had already been deleted, so an older change could not bring it back.',
  'local-change-was-never-captured': () =>
    "This till's copy was changed in a way sync had not recorded yet, so the hub's version was kept and this till's copy saved here.",
  'local-document-was-never-synced': () =>
    "This till had its own copy of the record from before sync started, so the hub's version was kept and this till's copy saved here.",
};

function ruleKey(rule: string): string {
  return rule
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

export function explainRule(rule: string, winner: 'local' | 'hub'): string {
  const explain = EXPLANATIONS[ruleKey(rule)];
  if (explain) return explain(winner);
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
    rule: ruleKey(record.rule),
    explanation: explainRule(record.rule, record.winner),
    changedFields: changedFields(record.local.document, record.hub.document),
    local: side(record.local),
    hub: side(record.hub),
    at: record.at instanceof Date ? record.at.getTime() : Number(record.at),
    reappliedAt: record.reappliedAt ? record.reappliedAt.getTime() : null,
  };
}
