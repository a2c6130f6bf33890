/**
 * Holds the one-engine-per-till lease for an engine: waits for it (saying in
 * the status and the log which TillSync holds it), renews it, and lets go on
 * stop. The holder id stays the same for the engine's life, so an engine that
 * reconnects to its till's database keeps its own lease.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { StatusTracker } from '../status-tracker.ts';
import type { LeaseHolder } from '../till/lease.ts';
import type { TillStore } from '../till/store.ts';

export class LeaseKeeper {
  readonly #holder = randomUUID();
  readonly #device: string;
  readonly #ttlMs: number;
  readonly #log: Logger;
  /** Wakes a wait for the lease (stop). */
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(device: string, ttlMs: number, log: Logger) {
    this.#device = device;
    this.#ttlMs = ttlMs;
    this.#log = log;
  }

  get renewEveryMs(): number {
    return Math.max(250, Math.floor(this.#ttlMs / 3));
  }

  /** Takes the lease, waiting while another engine holds it; false when stopped while waiting. */
  async take(store: TillStore, tracker: StatusTracker, told: () => void): Promise<boolean> {
    const lease = store.lease(this.#device, this.#ttlMs, this.#holder);
    let toldOf: string | undefined;
    for (;;) {
      const attempt = await lease.acquire();
      if (attempt.held) {
        tracker.warn('another-engine', null);
        if (toldOf) this.#log.info({ event: 'engine.lease-taken' }, 'the other TillSync stopped; this one syncs this till now');
        return true;
      }
      if (this.#stopped) return false;
      const by = attempt.by;
      if (toldOf !== by.holder) {
        toldOf = by.holder;
        this.#log.warn(
          { event: 'engine.lease-held', device: by.device, host: by.host, pid: by.pid, since: by.since },
          'another TillSync is syncing this till; waiting',
        );
      }
      tracker.warn('another-engine', anotherEngineWords(by), {
        code: 'another-engine',
        params: { device: by.device, host: by.host, pid: by.pid, sinceMs: by.since instanceof Date ? by.since.getTime() : 0 },
      });
      told();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(5_000, Math.max(200, Math.floor(this.#ttlMs / 2))));
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      if (this.#stopped) return false;
    }
  }

  /** Renews the lease: 'lost' when another engine took it (it lapsed), 'unknown' when the database did not answer. */
  async renew(store: TillStore): Promise<'held' | 'lost' | 'unknown'> {
    try {
      return (await store.lease(this.#device, this.#ttlMs, this.#holder).renew()) ? 'held' : 'lost';
    } catch {
      return 'unknown'; // the till's database did not answer: nobody else can take the lease before it lapses
    }
  }

  /** Stops any wait; lets go of the lease so a waiting engine takes over at once. */
  async release(store: TillStore | undefined): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await store
      ?.lease(this.#device, this.#ttlMs, this.#holder)
      .release()
      .catch(() => undefined);
  }
}

/** "Another TillSync is syncing this till (…)", for the status. */
function anotherEngineWords(by: LeaseHolder): string {
  const since = by.since instanceof Date ? by.since.toISOString().slice(11, 16) : '?';
  return (
    `Another TillSync is syncing this till (device ${by.device}, process ${by.pid} on ${by.host}, since ${since} UTC). ` +
    'This one waits, and takes over if that one stops.'
  );
}
