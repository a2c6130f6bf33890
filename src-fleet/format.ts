/** Words for the fleet page: states, times and figures as head office reads them. Pure. */
import type { FleetColour, HeartbeatState } from '../src-shared/fleet.ts';

export const COLOUR_WORDS: Record<FleetColour, string> = { red: 'Needs attention', amber: 'Keep an eye on it', green: 'All well' };

/** The dashboard's tone classes (styles.css) for each colour. */
export const COLOUR_TONE: Record<FleetColour, 'bad' | 'warn' | 'ok'> = { red: 'bad', amber: 'warn', green: 'ok' };

export const STATE_WORDS: Record<HeartbeatState, string> = {
  synced: 'Up to date',
  syncing: 'Sending and receiving changes',
  offline: 'Working offline',
  error: 'Sync has a problem',
  disabled: 'Sync is paused',
  starting: 'Starting up',
  stopped: 'TillSync stopped',
};

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "40 ms", "12 seconds", "7 minutes", "5 hours", "3 days". */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 90) return plural(seconds, 'second');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 90) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, 'hour');
  return plural(Math.floor(hours / 24), 'day');
}

/** "just now", "45 seconds ago", "7 minutes ago". */
export function ago(ms: number): string {
  return ms < 5_000 ? 'just now' : `${duration(ms)} ago`;
}

export function lagWords(lag: { p50Ms: number | null; p95Ms: number | null }): string {
  if (lag.p50Ms === null && lag.p95Ms === null) return 'nothing in the last minute';
  const part = (ms: number | null) => (ms === null ? '—' : duration(ms));
  return `typical ${part(lag.p50Ms)}, slowest 5% ${part(lag.p95Ms)}`;
}

export function clockWords(offsetMs: number | null): string {
  if (offsetMs === null) return 'not measured yet';
  if (offsetMs === 0) return 'agrees with head office';
  return `${duration(Math.abs(offsetMs))} ${offsetMs > 0 ? 'fast' : 'slow'}`;
}

export function storeTitle(storeId: string | null): string {
  return storeId === null ? 'Tills with no store set' : `Store ${storeId}`;
}
