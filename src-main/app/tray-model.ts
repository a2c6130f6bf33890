/**
 * What the tray shows for a sync state: which icon, the tooltip, and the
 * label of the pause/resume menu item. Pure, so every state is tested without
 * Electron.
 */
import type { SyncState } from '../../src-shared/status.ts';

export type TrayIconName = 'synced' | 'syncing' | 'offline' | 'error' | 'disabled';

export interface TrayModel {
  icon: TrayIconName;
  tooltip: string;
  toggleLabel: 'Pause sync' | 'Resume sync';
}

export interface TrayInput {
  state: SyncState;
  /** The larger of push and pull lag (ms), null when nothing has synced yet. */
  lagMs: number | null;
  enabled: boolean;
  /** Local changes not yet sent to the hub. */
  pending?: number;
}

/** Lag in words: "under a second", "3 seconds", "2 minutes", "5 hours". */
export function describeLag(ms: number): string {
  if (ms < 1_000) return 'under a second';
  const units: Array<[number, string]> = [
    [3_600_000, 'hour'],
    [60_000, 'minute'],
    [1_000, 'second'],
  ];
  for (const [size, name] of units) {
    if (ms >= size) {
      const n = Math.floor(ms / size);
      return `${n} ${name}${n === 1 ? '' : 's'}`;
    }
  }
  return 'under a second';
}

function pendingText(pending: number | undefined): string {
  if (!pending) return '';
  return pending === 1 ? ' 1 change is waiting to be sent.' : ` ${pending} changes are waiting to be sent.`;
}

export function trayModel({ state, lagMs, enabled, pending }: TrayInput): TrayModel {
  const toggleLabel = enabled ? 'Pause sync' : 'Resume sync';
  if (!enabled || state === 'disabled') {
    return {
      icon: 'disabled',
      tooltip: `TillSync: sync is paused. This till keeps working; changes are sent when sync resumes.${pendingText(pending)}`,
      toggleLabel,
    };
  }
  switch (state) {
    case 'synced':
      return {
        icon: 'synced',
        tooltip: lagMs === null ? 'TillSync: up to date.' : `TillSync: up to date (changes arrive in ${describeLag(lagMs)}).`,
        toggleLabel,
      };
    case 'syncing':
    case 'starting':
      return {
        icon: 'syncing',
        tooltip: `TillSync: ${state === 'starting' ? 'starting up' : 'sending and receiving changes'}${lagMs === null ? '' : ` (about ${describeLag(lagMs)} behind)`}.${pendingText(pending)}`,
        toggleLabel,
      };
    case 'offline':
      return {
        icon: 'offline',
        tooltip: `TillSync: cannot reach head office. This till keeps working; changes are sent when the connection is back.${pendingText(pending)}`,
        toggleLabel,
      };
    case 'error':
      return {
        icon: 'error',
        tooltip: 'TillSync: sync has stopped because of a problem. Open the dashboard to see what happened.',
        toggleLabel,
      };
  }
}
