/** Requests to a link running in another process (cli.ts), over Node's IPC channel. */
import type { LinkCounters, LinkDown, LinkProxy } from './proxy.ts';

export type LinkRequest = { id: number } & (
  | { op: 'setDelay'; rttMs: number; jitterMs: number }
  | { op: 'setBandwidth'; kbps: number | null }
  | { op: 'setDown'; mode: LinkDown | false }
  | { op: 'counters' }
);

export type LinkResponse = { id: number; ok: true; counters?: LinkCounters } | { id: number; ok: false; error: string };

export function handleRequest(link: LinkProxy, req: LinkRequest): LinkResponse {
  try {
    switch (req.op) {
      case 'setDelay':
        link.setDelay({ rttMs: req.rttMs, jitterMs: req.jitterMs });
        return { id: req.id, ok: true };
      case 'setBandwidth':
        link.setBandwidth(req.kbps);
        return { id: req.id, ok: true };
      case 'setDown':
        link.setDown(req.mode);
        return { id: req.id, ok: true };
      case 'counters':
        return { id: req.id, ok: true, counters: link.counters() };
      default:
        return { id: (req as { id: number }).id, ok: false, error: `unknown link request ${JSON.stringify(req)}` };
    }
  } catch (err) {
    return { id: req.id, ok: false, error: (err as Error).message };
  }
}
