/**
 * Words for a till operator: the sync state, the engine's messages and who
 * made a version, in the dashboard's language (see i18n/words.ts). Pure
 * functions, no React.
 */
import type { SyncErrorInfo, SyncStatus } from '../src-shared/status.ts';
import type { Words } from './i18n/words.ts';

export interface StateWords {
  /** Short headline, e.g. "Up to date". */
  headline: string;
  /** One sentence under it, or null. */
  detail: string | null;
  /** Colour family for the header: ok, busy, warn, bad, off. */
  tone: 'ok' | 'busy' | 'warn' | 'bad' | 'off';
}

export function describeState(w: Words, status: Pick<SyncStatus, 'state' | 'lastError'>): StateWords {
  switch (status.state) {
    case 'synced':
      return { headline: w.t('state.synced'), detail: w.t('state.synced.detail'), tone: 'ok' };
    case 'syncing':
      return { headline: w.t('state.syncing'), detail: null, tone: 'busy' };
    case 'offline':
      return { headline: w.t('state.offline'), detail: w.t('state.offline.detail'), tone: 'warn' };
    case 'error':
      return {
        headline: w.t('state.error'),
        detail: status.lastError ? errorWords(w, status.lastError) : w.t('state.error.detail'),
        tone: 'bad',
      };
    case 'disabled':
      return { headline: w.t('state.disabled'), detail: w.t('state.disabled.detail'), tone: 'off' };
    case 'starting':
      return { headline: w.t('state.starting'), detail: w.t('state.starting.detail'), tone: 'busy' };
  }
}

/**
 * Reasons whose English message never varies, so the reason alone says it
 * (from engines that send no `code` yet).
 */
const REASONS_THAT_ARE_CODES = new Set(['hub-unreachable', 'local-unreachable']);

/** An engine error in the operator's language, or its English text for a code this dashboard does not know. */
export function errorWords(w: Words, error: SyncErrorInfo): string {
  const code = error.code ?? (REASONS_THAT_ARE_CODES.has(error.reason) ? error.reason : undefined);
  return w.engine('error', code, error.params, error.message);
}

/** The warnings to show: the coded ones when the engine sends them, else its English sentences. */
export function warningWords(w: Words, status: Pick<SyncStatus, 'warnings' | 'warningDetails'>): string[] {
  if (status.warningDetails)
    return status.warningDetails.map((warning) => w.engine('warning', warning.code, warning.params, warning.message));
  return status.warnings;
}

export function quarantineReasonWords(w: Words, item: SyncStatus['quarantine']['latest'][number]): string {
  return w.engine('quarantine', item.reasonCode, item.reasonParams, item.reason);
}

export function lastSyncedWords(w: Words, lastSyncedAt: number | null, now: number): string {
  return lastSyncedAt === null ? w.t('header.last-synced.never') : w.t('header.last-synced', { ago: w.timeAgo(lastSyncedAt, now) });
}

/** Who made a version, e.g. "head office (on the hub)", "this till" or "till-b". */
export function originWords(w: Words, origin: string, ownDeviceId: string | null): string {
  if (origin === 'hq') return w.t('conflict.origin.hq');
  if (ownDeviceId !== null && origin === ownDeviceId) return w.t('conflict.origin.this-till');
  return origin;
}

/** A field value as text for the side-by-side view. */
export function valueText(value: unknown): string {
  if (value === undefined) return '—';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
