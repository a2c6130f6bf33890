/**
 * Words for a till operator: the sync state, times and counts as the dashboard
 * says them. Pure functions, no React.
 */
import type { SyncState, SyncStatus } from '../src-shared/status.ts';
import type { SyncModeName, ConflictGranularityName } from '../src-shared/ipc.ts';

export interface StateWords {
  /** Short headline, e.g. "Up to date". */
  headline: string;
  /** One sentence under it, or null. */
  detail: string | null;
  /** Colour family for the header: ok, busy, warn, bad, off. */
  tone: 'ok' | 'busy' | 'warn' | 'bad' | 'off';
}

export function describeState(status: Pick<SyncStatus, 'state' | 'lastError'>): StateWords {
  const words: Record<SyncState, StateWords> = {
    synced: { headline: 'Up to date', detail: 'This till and the hub have the same data.', tone: 'ok' },
    syncing: { headline: 'Sending and receiving changes', detail: null, tone: 'busy' },
    offline: {
      headline: 'Working offline',
      detail: 'Working offline — changes are saved on this till and will be sent when the connection is back.',
      tone: 'warn',
    },
    error: {
      headline: 'Sync has a problem',
      detail: status.lastError ? status.lastError.message : 'Sync stopped because of a problem it could not fix on its own.',
      tone: 'bad',
    },
    disabled: {
      headline: 'Sync is paused',
      detail: 'Changes are saved on this till and will be sent when sync is resumed.',
      tone: 'off',
    },
    starting: { headline: 'Starting up', detail: 'Connecting to the hub…', tone: 'busy' },
  };
  return words[status.state];
}

/** "just now", "45 seconds ago", "2 minutes ago", "3 hours ago", "4 days ago". */
export function timeAgo(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} seconds ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${plural(minutes, 'minute')} ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${plural(hours, 'hour')} ago`;
  return `${plural(Math.floor(hours / 24), 'day')} ago`;
}

/** A duration in words: "40 ms", "1.2 seconds", "3 minutes", "2 hours". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, 'hour');
  return plural(Math.floor(hours / 24), 'day');
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "12 changes waiting to be sent" */
export function waitingWords(depth: number): string {
  if (depth === 0) return 'Nothing waiting to be sent';
  return `${depth} ${depth === 1 ? 'change' : 'changes'} waiting to be sent`;
}

export function lastSyncedWords(lastSyncedAt: number | null, now: number): string {
  return lastSyncedAt === null ? 'Not up to date yet since the app started' : `Last up to date ${timeAgo(lastSyncedAt, now)}`;
}

export function quarantineWords(count: number): string {
  return count === 1 ? '1 change could not be synced and was set aside' : `${count} changes could not be synced and were set aside`;
}

export function clockTime(at: number): string {
  return new Date(at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export const MODE_WORDS: Record<SyncModeName, string> = {
  both: 'Both ways',
  'push-only': 'Send to the hub only',
  'pull-only': 'Receive from the hub only',
  'local-only': 'Keep on this till only',
};

export const GRANULARITY_WORDS: Record<ConflictGranularityName, string> = {
  document: 'Newest whole record wins',
  field: 'Newest value of each field wins',
};

/** Who made a version, e.g. "head office (on the hub)" or "till-b". */
export function originWords(origin: string, ownDeviceId: string | null): string {
  if (origin === 'hq') return 'head office (on the hub)';
  if (ownDeviceId !== null && origin === ownDeviceId) return 'this till';
  return origin;
}

/** A field value as text for the side-by-side view. */
export function valueText(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** "Checking this till against the hub: 120 of 500 records compared" */
export function reconciliationWords(progress: { compared: number; total: number }): string {
  return `Checking this till against the hub: ${progress.compared} of ${plural(progress.total, 'record')} compared`;
}
