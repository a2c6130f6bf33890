/**
 * Faults from the seed: SIGKILL an agent and restart it; restart a server
 * (SIGKILL or SIGTERM); partition a server; truncate an oplog behind a
 * stopped agent (lost change-stream history); run a till's server clock
 * 10 minutes fast; drop every connection of a server; slow a till's line to
 * the hub (its link: 30–200 ms round trips with jitter, changing a few times).
 * Each fault heals itself after a random while; `stop()` waits for those in
 * flight, `healAll()` puts everything right.
 */
import type { LinkProcess } from '../harness/link/process.ts';
import type { Journal } from './journal.ts';
import type { FaultKind } from './options.ts';
import type { Random } from './prng.ts';
import type { AgentProcess, ServerProcess } from './processes.ts';

export const SKEW_MS = 10 * 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface Node {
  name: string;
  server: ServerProcess;
  /** Tills only. */
  agent?: AgentProcess;
  /** Tills only, with the slow-link fault: the till's line to the hub, which its agent's hub connection goes through. */
  link?: LinkProcess;
}

export interface FaultRecord {
  kind: FaultKind;
  target: string;
  detail: string;
  /** Seconds into the run. */
  at: number;
  /** Seconds it lasted (0 for instant ones). */
  lasted: number;
}

export class Chaos {
  readonly injected: FaultRecord[] = [];
  readonly skipped = new Map<string, number>();
  readonly errors: string[] = [];
  readonly #rng: Random;
  readonly #faults: FaultKind[];
  readonly #hub: Node;
  readonly #tills: Node[];
  readonly #journal: Journal;
  readonly #startedAt: number;
  readonly #busy = new Set<string>();
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  #loop: Promise<void> | undefined;
  /** The till whose clock runs fast right now. */
  skewedTill: string | undefined;
  /** Tills whose line to the hub is slow right now, with its round trip in ms. */
  readonly slowLines = new Map<string, number>();

  constructor(rng: Random, faults: FaultKind[], hub: Node, tills: Node[], journal: Journal, startedAt: number) {
    this.#rng = rng;
    this.#faults = faults;
    this.#hub = hub;
    this.#tills = tills;
    this.#journal = journal;
    this.#startedAt = startedAt;
  }

  start(): void {
    if (this.#faults.length === 0) return;
    this.#loop = this.#run();
  }

  /** No new faults; waits for the ones in flight to heal themselves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    await Promise.all([...this.#inFlight]);
  }

  async #run(): Promise<void> {
    // A quiet start, so every agent has synced once before the first fault.
    await sleep(3_000);
    while (!this.#stopped) {
      const kind = this.#rng.pick(this.#faults);
      const fault = this.#inject(kind).catch((err: Error) => {
        this.errors.push(`${kind}: ${err.message}`);
      });
      this.#inFlight.add(fault);
      void fault.finally(() => this.#inFlight.delete(fault));
      await sleep(this.#rng.int(2_000, 7_000));
    }
  }

  #elapsed(): number {
    return Math.round((Date.now() - this.#startedAt) / 100) / 10;
  }

  #skip(kind: FaultKind, why: string): void {
    const key = `${kind}: ${why}`;
    this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
  }

  /** Runs `body` holding `targets`, recording the fault; skipped if any target is busy. */
  async #hold(kind: FaultKind, targets: string[], detail: string, body: () => Promise<void>): Promise<void> {
    if (targets.some((t) => this.#busy.has(t))) return this.#skip(kind, 'target busy with another fault');
    for (const t of targets) this.#busy.add(t);
    const at = this.#elapsed();
    this.#journal.note({ fault: kind, targets, detail, phase: 'begin' });
    try {
      await body();
    } finally {
      for (const t of targets) this.#busy.delete(t);
      this.injected.push({ kind, target: targets.join('+'), detail, at, lasted: Math.round((this.#elapsed() - at) * 10) / 10 });
      this.#journal.note({ fault: kind, targets, detail, phase: 'end' });
    }
  }

  async #inject(kind: FaultKind): Promise<void> {
    const rng = this.#rng;
    const till = rng.pick(this.#tills);
    const any = rng.chance(0.35) ? this.#hub : rng.pick(this.#tills);
    switch (kind) {
      case 'kill': {
        const downMs = rng.int(300, 5_000);
        return this.#hold(kind, [`agent:${till.name}`], `SIGKILL the ${till.name} agent, restart after ${downMs} ms`, async () => {
          await till.agent?.stop('SIGKILL');
          await sleep(downMs);
          till.agent?.start();
        });
      }
      case 'restart': {
        const signal = rng.chance(0.5) ? 'SIGKILL' : 'SIGTERM';
        const downMs = rng.int(200, 3_000);
        return this.#hold(kind, [`server:${any.name}`], `${signal} the ${any.name} server, start after ${downMs} ms`, async () => {
          await any.server.stop(signal);
          await sleep(downMs);
          await any.server.start();
        });
      }
      case 'partition': {
        if (!any.server.controllable) return this.#skip(kind, `not possible on ${any.server.kind}`);
        const forMs = rng.int(1_500, 10_000);
        return this.#hold(kind, [`server:${any.name}`], `partition the ${any.name} server for ${forMs} ms`, async () => {
          await any.server.control('/partition?on=1');
          await sleep(forMs);
          await any.server.control('/partition?on=0');
        });
      }
      case 'drop': {
        if (!any.server.controllable) return this.#skip(kind, `not possible on ${any.server.kind}`);
        return this.#hold(kind, [`server:${any.name}`], `drop every connection to the ${any.name} server`, async () => {
          await any.server.control('/drop-connections');
        });
      }
      case 'truncate': {
        // The stopped agent falls behind while traffic goes on, then its history is cut away.
        const downMs = rng.int(2_000, 5_000);
        // The hub's oplog (the stopped agent's pull loses history) or the stopped till's own (its capture does).
        const target = any === this.#hub ? this.#hub : till;
        const keep = target === this.#hub ? 10 : 3;
        const side = target === this.#hub ? 'pull' : 'capture';
        if (!target.server.controllable) return this.#skip(kind, `not possible on ${target.server.kind}`);
        return this.#hold(
          kind,
          [`agent:${till.name}`, `server:${target.name}`],
          `stop the ${till.name} agent, truncate the ${target.name} oplog to ${keep} events after ${downMs} ms (${till.name} ${side} loses history)`,
          async () => {
            await till.agent?.stop('SIGKILL');
            await sleep(downMs);
            await target.server.control(`/truncate-oplog?keep=${keep}`);
            till.agent?.start();
          },
        );
      }
      case 'slow-link': {
        const link = till.link;
        if (!link) return this.#skip(kind, `${till.name} reaches the hub without a link`);
        // A line that gets slow and stays slow a while, its delay changing as the evening's traffic does.
        const steps = Array.from({ length: rng.int(1, 3) }, () => {
          const rttMs = rng.int(30, 200);
          return { rttMs, jitterMs: rng.int(0, Math.round(rttMs / 4)), forMs: rng.int(3_000, 10_000) };
        });
        const detail = `${till.name}'s line to the hub: ${steps.map((x) => `round trip +${x.rttMs} ±${x.jitterMs / 2} ms for ${x.forMs} ms`).join(', then ')}`;
        return this.#hold(kind, [`link:${till.name}`], detail, async () => {
          try {
            for (const step of steps) {
              await link.setDelay(step.rttMs, step.jitterMs);
              this.slowLines.set(till.name, step.rttMs);
              await sleep(step.forMs);
            }
          } finally {
            await link.setDelay(0).catch(() => undefined);
            this.slowLines.delete(till.name);
          }
        });
      }
      case 'skew': {
        if (!till.server.controllable) return this.#skip(kind, `not possible on ${till.server.kind}`);
        if (this.skewedTill) return this.#skip(kind, 'a till is already skewed');
        const forMs = rng.int(10_000, 25_000);
        return this.#hold(
          kind,
          [`clock:${till.name}`],
          `run the ${till.name} server clock ${SKEW_MS / 60_000} min fast for ${forMs} ms`,
          async () => {
            this.skewedTill = till.name;
            try {
              await till.server.setClockOffset(SKEW_MS);
              await sleep(forMs);
            } finally {
              await till.server.setClockOffset(0).catch(() => undefined);
              this.skewedTill = undefined;
            }
          },
        );
      }
    }
  }

  /** Everything back to normal: servers up, unpartitioned, clocks right, lines fast, agents running. */
  async healAll(): Promise<void> {
    for (const node of [this.#hub, ...this.#tills]) {
      await node.link?.setDelay(0);
      this.slowLines.delete(node.name);
      node.server.clockOffsetMs = 0;
      await node.server.start();
      if (node.server.controllable) {
        await node.server.control('/partition?on=0');
        await node.server.control('/clock-offset?ms=0');
      }
      node.agent?.start();
    }
    this.skewedTill = undefined;
  }
}
