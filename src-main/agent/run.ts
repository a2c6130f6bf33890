/**
 * The agent's life: start the engine (waiting, and saying so, while the till's
 * database is not up), log a status line every few seconds, and stop cleanly
 * on SIGINT or SIGTERM — the way a service manager stops it.
 *
 * A clean stop waits for a start in progress to settle, then stops the engine
 * once (streams closed, checkpoints written; a batch in flight is committed
 * whole or not at all), and exits 0. If that takes longer than
 * `STOP_DEADLINE_MS` (shorter than the unit's TimeoutStopSec, so the log says
 * why), or a second signal comes, the agent exits 1 at once: every write the
 * engine makes is crash-safe, so nothing is lost, only redone on the next start.
 */
import type { SyncStatus } from '../../src-shared/status.ts';
import type { SyncConfig } from '../sync/config.ts';
import { createSyncEngine, type SyncEngine } from '../sync/engine.ts';
import type { Logger } from '../sync/log.ts';
import { MemoryRelease } from '../sync/memory-release.ts';

/** How long the agent waits before trying again when it cannot start (the till's database is down). */
export const START_RETRY_MS = 5_000;
/** How long a stop may take before the agent gives up waiting and exits. */
export const STOP_DEADLINE_MS = 20_000;

/** One line a person can read at a glance. */
export function statusLine(s: SyncStatus): string {
  const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)} ms`);
  const parts = [
    s.state,
    `outbox ${s.outbox.depth}`,
    `push p50 ${ms(s.lag.push.p50Ms)}`,
    `pull p50 ${ms(s.lag.pull.p50Ms)}`,
    `${s.rates.pushPerSec.toFixed(1)}/s up, ${s.rates.pullPerSec.toFixed(1)}/s down`,
    `${s.conflicts.count} conflicts`,
  ];
  if (s.quarantine.count > 0) parts.push(`${s.quarantine.count} set aside`);
  if (s.lastError && s.state !== 'synced') parts.push(`last error: ${s.lastError.message}`);
  return parts.join(' · ');
}

interface Attempt {
  engine: SyncEngine;
  started: Promise<void>;
  stopped?: Promise<void>;
}

export interface AgentHooks {
  /** Once the agent answers signals: the first thing it logs (a supervisor may signal from then on). */
  announce?(): void;
  /** Each engine the agent starts (a new one for each attempt). */
  onEngine?(engine: SyncEngine): void;
  /** Before the engine stops (the monitor API closes). */
  beforeStop?(): Promise<void>;
}

/** Runs the engine until a signal; never returns normally (the process exits when stopped). */
export async function runAgent(config: SyncConfig, log: Logger, statusEveryMs: number, hooks: AgentHooks = {}): Promise<void> {
  let attempt: Attempt | undefined;
  let stopping = false;
  let wakeRetry: (() => void) | undefined;
  const stopEngine = (a: Attempt): Promise<void> => (a.stopped ??= a.engine.stop());

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ event: 'agent.stop-forced', signal }, `${signal} again: exiting without waiting for sync to stop`);
      process.exit(1);
    }
    stopping = true;
    wakeRetry?.();
    log.info({ event: 'agent.stopping', signal }, `${signal}: stopping`);
    setTimeout(() => {
      log.error(
        { event: 'agent.stop-timeout', waitedMs: STOP_DEADLINE_MS },
        `sync did not stop within ${STOP_DEADLINE_MS / 1000} s; exiting anyway (the next start picks up where it left off)`,
      );
      process.exit(1);
    }, STOP_DEADLINE_MS).unref();
    void (async () => {
      await hooks
        .beforeStop?.()
        .catch((err: unknown) =>
          log.warn({ event: 'agent.monitor-close-failed', error: String(err) }, 'the monitor API did not close cleanly'),
        );
      const current = attempt;
      if (current) {
        await current.started.catch(() => undefined);
        await stopEngine(current);
      }
    })().then(
      () => {
        log.info({ event: 'agent.stopped' }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ event: 'agent.stop-failed', error: String(err) }, 'sync did not stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  hooks.announce?.();

  // The till's database may still be starting (or down): keep trying, and say so, until a signal.
  for (let n = 1; !stopping; n += 1) {
    const engine = createSyncEngine(config, { log }); // an engine starts once; each attempt is a new one
    const current: Attempt = { engine, started: engine.start() };
    attempt = current;
    hooks.onEngine?.(engine);
    try {
      await current.started;
      break;
    } catch (err) {
      await stopEngine(current).catch(() => undefined);
      if (stopping) return;
      log.error(
        { event: 'agent.start-failed', attempt: n, error: String(err), retryInMs: START_RETRY_MS },
        `could not start (is the till's database running?); trying again in ${START_RETRY_MS / 1000} s`,
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, START_RETRY_MS);
        wakeRetry = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wakeRetry = undefined;
    }
  }
  if (stopping) return;
  const engine = attempt!.engine;
  log.info({ event: 'agent.started', device: engine.deviceId }, 'syncing');
  // What a burst of sync grew the heap to goes back once it is over.
  const memory = new MemoryRelease({ log });
  engine.on('status', (status) => memory.onStatus(status));
  setInterval(() => {
    const status = engine.lastStatus ?? engine.status();
    log.info({ event: 'agent.status', state: status.state, outbox: status.outbox.depth }, statusLine(status));
  }, statusEveryMs).unref();
  // Keep the process alive until a signal.
  setInterval(() => undefined, 1 << 30);
}
