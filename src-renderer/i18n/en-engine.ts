/**
 * The engine's words in English, by the codes it sends (`src-shared/status.ts`)
 * and the conflict rules it records (`src-shared/conflict-rules.ts`). Typed by
 * those unions: a code or rule without a message here is a compile error.
 *
 * Params are the engine's, with one addition made by the dashboard: a number
 * param named `…Ms` is also given, as a duration in words, without the suffix
 * (`aheadMs` → `{ahead}`).
 */
import type { ConflictRule } from '../../src-shared/conflict-rules.ts';
import type { QuarantineReasonCode, SyncErrorCode, SyncWarningCode } from '../../src-shared/status.ts';

export type RuleKey = `rule.${ConflictRule}` | 'rule.unknown';
export type EngineMessageKey = RuleKey | `error.${SyncErrorCode}` | `warning.${SyncWarningCode}` | `quarantine.${QuarantineReasonCode}`;

/** Params of every rule: `winner` (`hub` or `local`), `fields` (a list in words) and `fieldCount`. */
export const enEngine: Record<EngineMessageKey, string> = {
  'rule.newer-version':
    "{winner, select, hub {The hub's version was newer, so it was kept.} other {This till's version was newer, so it was sent to the hub.}}",
  'rule.newer-version-every-field': "The hub's version was newer in every part this till changed, so the hub's version was kept.",
  'rule.newer-version-per-field':
    "Both sides changed {fieldCount, plural, =0 {the same parts of this record} other {{fields}}}; each part kept its newest value{winner, select, hub {, and some of this till's changes were older.} other {, and this till's changes were the newest.}}",
  'rule.deleted-beyond-retention':
    "The record was deleted at the hub long ago, so this older change could not bring it back. This till's change is saved here.",
  'rule.uncaptured-local-change':
    "This till's copy was changed in a way sync had not recorded yet, so the hub's version was kept and this till's copy saved here.",
  'rule.unsynced-local-copy':
    "This till had its own copy of the record from before sync started, so the hub's version was kept and this till's copy saved here.",
  'rule.reconciled-newer-version':
    "{winner, select, hub {Both sides changed this record while they were out of touch; the hub's version was newer, so it was kept.} other {Both sides changed this record while they were out of touch; this till's version was newer, so it was sent to the hub.}}",
  'rule.unknown': "{winner, select, hub {The hub's version was kept.} other {This till's version was kept.}}",

  'error.hub-unreachable': 'Cannot reach the head-office hub. Changes are kept and will sync when it is back.',
  'error.local-unreachable': "Cannot reach this till's database. Changes are kept and will sync when it is back.",
  'error.history-lost':
    "{side, select, hub {The change history of the head-office hub} other {The change history of this till's database}} no longer reaches back far enough; a full comparison is needed.",
  'error.read-interrupted':
    "{side, select, hub {The head-office hub} other {This till's database}} stopped a read in progress (it may have restarted); sync picked up where it left off.",
  'error.busy':
    "{side, select, hub {Another till was changing the same records on the head-office hub} other {Something else was changing the same records in this till's database}} at the same moment; sync tried again.",
  'error.hub-rejected': 'The head-office hub refused a change: {detail} (code {serverCode})',
  'error.local-rejected': "This till's database refused a change: {detail} (code {serverCode})",
  'error.unexpected': 'Unexpected problem: {detail}',
  'error.no-hub-set': 'No hub connection string is set. Enter it in Settings to start syncing.',
  'error.hub-uri-unusable': 'The hub connection string cannot be used: {detail}.',
  'error.settings-unusable': 'The sync settings cannot be used: {detail}',

  'warning.till-clock-off':
    "This till's clock is {offset} {direction, select, fast {fast} other {slow}} compared with head office. Sync uses head office's time, so changes still sync in the right order; set the till's date and time when you can.",
  'warning.another-engine':
    'Another TillSync is syncing this till (device {device}, process {pid} on {host}). This one waits, and takes over if that one stops.',
  'warning.disk-low':
    "This till's disk has {freeMb, number,::unit/megabyte unit-width-short} free; {offlineDays, plural, one {a day} other {# days}} without the hub need about {neededMb, number,::unit/megabyte unit-width-short} at today's rate of changes. Free some space on this till's disk before it fills up.",
  'warning.clock-drift':
    "Some changes from {device} carry a time {ahead} ahead of this till's clock. They are kept and will be applied once the clocks agree. Check the date and time on the tills.",

  'quarantine.unknown-change-type': 'a kind of change sync does not apply ({operation})',
  'quarantine.malformed-tombstone-version': 'a delete whose version cannot be read ({version})',
  'quarantine.malformed-sync-metadata': 'its sync information cannot be read ({detail})',
  'quarantine.malformed-version': 'its sync version cannot be read ({version})',
  'quarantine.document-too-large': 'the record is over the 16 MB limit',
  'quarantine.clock-drift': "made by {device} {ahead} ahead of this till's clock; kept until the clocks agree",
  'quarantine.refused':
    "{side, select, hub {the head-office hub} other {this till's database}} did not take it: {cause, select, unique {another record already has the same value in a field that must be unique} validation {it does not pass the database's validation rules} size {it is too large for a database record} value {it holds a value or field name the database does not accept} other {the database refused it}} ({detail}, code {serverCode})",
  'quarantine.too-large-to-sync': 'the record is too large to sync ({sizeMb, number} MB; it must stay under {limitMb, number} MB)',
};
