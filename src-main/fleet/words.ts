/** Times and counts in words for head office's fleet view. Pure. */

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** "40 seconds", "7 minutes", "5 hours", "3 days": rounded down to the unit that reads best. */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 90) return plural(seconds, 'second');
  const minutes = Math.floor(seconds / 60);
  if (minutes < 90) return plural(minutes, 'minute');
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, 'hour');
  return plural(Math.floor(hours / 24), 'day');
}
