/**
 * The engine's connection to the hub: connects with backoff while sync is
 * enabled, starts the hub-facing loops once connected, and replaces the client
 * when the hub has stayed unreachable for a while (a driver stuck on dead
 * connections recovers with a fresh one).
 */
import { Hub } from './hub/hub.ts';
import type { Logger } from './log.ts';

/** A hub unreachable this long gets a fresh client. */
export const HUB_RECONNECT_AFTER_MS = 30_000;

export interface HubLinkDeps {
  uri: string;
  database: string;
  appName: string;
  log: Logger;
  /** Whether the link should be up: sync enabled and the engine not stopping. */
  wanted(): boolean;
  delay(attempt: number): Promise<void>;
  /** Connected: clean up after an earlier run, then start the loops. */
  onConnected(hub: Hub): Promise<void>;
  /** Stop the loops that use the hub (called before it is closed). */
  onDisconnecting(): Promise<void>;
  onError(err: unknown): void;
  /** After each connect attempt ends (connected or given up). */
  onSettled(): void;
}

export class HubLink {
  readonly #d: HubLinkDeps;
  #hub: Hub | undefined;
  #connecting: Promise<void> | undefined;
  #renewedAt = 0;

  constructor(deps: HubLinkDeps) {
    this.#d = deps;
  }

  get hub(): Hub | undefined {
    return this.#hub;
  }

  connect(): void {
    if (this.#connecting || this.#hub) return;
    const d = this.#d;
    this.#connecting = (async () => {
      for (let attempt = 0; d.wanted() && !this.#hub; attempt += 1) {
        try {
          const hub = await Hub.connect(d.uri, d.database, d.appName);
          if (!d.wanted()) {
            await hub.close();
            break;
          }
          this.#hub = hub;
          await d.onConnected(hub);
        } catch (err) {
          d.onError(err);
          await d.delay(attempt);
        }
      }
    })().finally(() => {
      this.#connecting = undefined;
      d.onSettled();
    });
  }

  async disconnect(): Promise<void> {
    await this.#connecting;
    const hub = this.#hub;
    this.#hub = undefined;
    // Closing first makes any hub operation in flight fail at once, so the loops stop promptly.
    const stopping = this.#d.onDisconnecting();
    await hub?.close();
    await stopping;
  }

  /** Replaces the client when some part has found the hub unreachable since `failingSince` for too long. */
  async renewIfStuck(failingSince: number | undefined): Promise<void> {
    const now = Date.now();
    if (!this.#hub || failingSince === undefined || now - Math.max(failingSince, this.#renewedAt) <= HUB_RECONNECT_AFTER_MS) return;
    this.#renewedAt = now;
    this.#d.log.info({ event: 'engine.hub-reconnect' }, 'the hub has been unreachable for a while; reconnecting from scratch');
    await this.disconnect();
    if (this.#d.wanted()) this.connect();
  }
}
