/** Polls the fleet server for the report: live while the page is open. */
import { useEffect, useState } from 'react';
import type { FleetReport } from '../src-shared/fleet.ts';

export const POLL_MS = 3_000;

export interface FleetView {
  report: FleetReport | null;
  /** When the report shown was fetched (this browser's clock). */
  fetchedAt: number | null;
  /** Why the last read failed, in words; null when it worked. */
  problem: string | null;
}

async function fetchReport(): Promise<FleetReport> {
  let response: Response;
  try {
    response = await fetch('./api/fleet', { cache: 'no-store' });
  } catch {
    throw new Error('The fleet server is not answering. Is `npm run fleet` still running?');
  }
  const body = (await response.json().catch(() => null)) as (FleetReport & { error?: string }) | null;
  if (!response.ok || !body) throw new Error(body?.error ?? `The fleet server answered ${response.status}.`);
  return body;
}

export function useFleet(): FleetView {
  const [view, setView] = useState<FleetView>({ report: null, fetchedAt: null, problem: null });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const report = await fetchReport();
        if (!stopped) setView({ report, fetchedAt: Date.now(), problem: null });
      } catch (err) {
        if (!stopped) setView((v) => ({ ...v, problem: (err as Error).message }));
      }
      if (!stopped) timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return view;
}
