/** Reading a link's counters: what happened between two readings, and a line per command. */
import type { LinkCounters } from './proxy.ts';
import type { CommandCount, CommandCounts } from './wire-count.ts';

/** The driver's handshake and server monitoring, not the application's work. */
export const MONITORING = new Set(['hello', 'isMaster', 'ismaster']);

/** Counts between two readings of the same link. */
export function countersSince(after: LinkCounters, before: LinkCounters): LinkCounters {
  const commands: CommandCounts = {};
  for (const [name, a] of Object.entries(after.commands)) {
    const b: CommandCount = before.commands[name] ?? { requests: 0, replies: 0, bytesToServer: 0, bytesToClient: 0 };
    const d = {
      requests: a.requests - b.requests,
      replies: a.replies - b.replies,
      bytesToServer: a.bytesToServer - b.bytesToServer,
      bytesToClient: a.bytesToClient - b.bytesToClient,
    };
    if (d.requests !== 0 || d.replies !== 0) commands[name] = d;
  }
  return {
    connections: after.connections - before.connections,
    open: after.open,
    bytesToServer: after.bytesToServer - before.bytesToServer,
    bytesToClient: after.bytesToClient - before.bytesToClient,
    commands,
  };
}

/** Requests sent for the application (monitoring left out): each one a round trip when it has a reply. */
export function requestCount(commands: CommandCounts): number {
  return Object.entries(commands)
    .filter(([name]) => !MONITORING.has(name))
    .reduce((n, [, c]) => n + c.requests, 0);
}

/** `update 2, find 1.5, …` — requests per command divided by `per`, most first, monitoring left out. */
export function describeRequests(commands: CommandCounts, per = 1): string {
  const digits = per === 1 ? 0 : 1; // counts in all are whole; per batch, to a tenth
  const parts = Object.entries(commands)
    .filter(([name, c]) => !MONITORING.has(name) && c.requests > 0)
    .sort((a, b) => b[1].requests - a[1].requests || a[0].localeCompare(b[0]))
    .map(([name, c]) => `${name} ${(c.requests / per).toFixed(digits)}`);
  return parts.join(', ') || 'none';
}
