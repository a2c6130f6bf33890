/**
 * What the tray shows for a sync state: which icon, the tooltip, and the
 * label of the pause/resume menu item. Pure, so every state is tested without
 * Electron.
 */
import type { SyncState } from '../../src-shared/status.ts';
import type { Language } from '../../src-shared/languages.ts';
import { trayWords } from './tray-messages.ts';

export type TrayIconName = 'synced' | 'syncing' | 'offline' | 'error' | 'disabled';

export interface TrayModel {
  icon: TrayIconName;
  tooltip: string;
  /** The menu's items, in the tray's language. */
  openLabel: string;
  toggleLabel: string;
  quitLabel: string;
}

export interface TrayInput {
  state: SyncState;
  /** The larger of push and pull lag (ms), null when nothing has synced yet. */
  lagMs: number | null;
  enabled: boolean;
  /** Local changes not yet sent to the hub. */
  pending?: number;
  /** English unless given. */
  language?: Language;
}

/** Lag in words: "under a second", "3 seconds", "2 minutes", "5 hours" (or in French). */
export function describeLag(ms: number, language: Language = 'en'): string {
  const say = trayWords(language);
  if (ms >= 3_600_000) return say('lag.hours', { count: Math.floor(ms / 3_600_000) });
  if (ms >= 60_000) return say('lag.minutes', { count: Math.floor(ms / 60_000) });
  if (ms >= 1_000) return say('lag.seconds', { count: Math.floor(ms / 1_000) });
  return say('lag.under-a-second');
}

export function trayModel({ state, lagMs, enabled, pending, language = 'en' }: TrayInput): TrayModel {
  const say = trayWords(language);
  const withPending = (text: string): string => (pending ? `${text} ${say('pending', { count: pending })}` : text);
  const lag = lagMs === null ? null : describeLag(lagMs, language);
  const labels = {
    openLabel: say('menu.open'),
    toggleLabel: say(enabled ? 'menu.pause' : 'menu.resume'),
    quitLabel: say('menu.quit'),
  };
  if (!enabled || state === 'disabled') return { icon: 'disabled', tooltip: withPending(say('paused')), ...labels };
  switch (state) {
    case 'synced':
      return { icon: 'synced', tooltip: lag === null ? say('synced') : say('synced.lag', { lag }), ...labels };
    case 'syncing':
    case 'starting':
      return { icon: 'syncing', tooltip: withPending(lag === null ? say(state) : say(`${state}.lag`, { lag })), ...labels };
    case 'offline':
      return { icon: 'offline', tooltip: withPending(say('offline')), ...labels };
    case 'error':
      return { icon: 'error', tooltip: say('error'), ...labels };
  }
}
