/**
 * The heartbeat: one small document per till on the hub (`_tillsync_devices`,
 * keyed by device id) that says how this till's sync is doing, so head
 * office's fleet view sees every till without walking to it.
 *
 * Written every 30 s and at once when the state changes (synced and syncing
 * count as one: a busy till flips between them with every order). It never
 * delays sync: each beat runs on its own, skips when the previous one is still
 * out, gives up after its own timeout, and a hub that refuses it is logged once
 * (not every beat) while sync goes on. `lastSeen` is set by the hub's clock
 * (`$currentDate`), so a till with a wrong clock cannot look fresh.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Db, Document } from 'mongodb';
import { DEVICES_COLLECTION, HEARTBEAT_EVERY_MS, type HeartbeatState } from '../../src-shared/fleet.ts';
import type { SyncState, SyncStatus } from '../../src-shared/status.ts';
import { silentLogger, type Logger } from './log.ts';

/** A beat that has not been acknowledged by then is given up (the next one tries again). */
const BEAT_TIMEOUT_MS = 5_000;
/** A beat someone waits for (pause, stop) waits at most this long, twice: for one still out, then its own. */
const WAITED_BEAT_TIMEOUT_MS = 1_500;
const HOUR_MS = 3_600_000;

export interface RecentCounts {
  conflicts: number;
  setAside: number;
}

export interface HeartbeatOptions {
  /** The hub database, while connected. */
  hub: () => Db | undefined;
  status: () => SyncStatus;
  /** Device parameters from the configuration (`name`, `storeId`, anything else). */
  device?: Readonly<Record<string, string>>;
  /** Defaults to the version in the app's package.json. */
  appVersion?: string;
  /** This till's clock minus the hub's, in ms; null while unknown. */
  clockOffsetMs?: () => number | null;
  /** Conflicts recorded and changes set aside since a moment (see `countRecent`). */
  recent?: (since: Date) => Promise<RecentCounts>;
  log?: Logger;
  everyMs?: number;
  timeoutMs?: number;
}

/** The part of a heartbeat the till writes (the hub adds `lastSeen`). */
export type HeartbeatFields = Document & { deviceId: string; state: HeartbeatState };

/** What the till knows besides its status, gathered for one beat. */
export interface HeartbeatExtras {
  device: Readonly<Record<string, string>>;
  appVersion: string;
  clockOffsetMs: number | null;
  recent: RecentCounts | null;
  beatEveryMs: number;
  /** `stopped` for the goodbye beat. */
  state?: HeartbeatState;
}

/** The document fields of one beat. Pure. */
export function heartbeatFields(s: SyncStatus, x: HeartbeatExtras): HeartbeatFields {
  const lag = (l: SyncStatus['lag']['push']) => ({ p50Ms: l.p50Ms, p95Ms: l.p95Ms });
  return {
    deviceId: s.deviceId,
    name: x.device.name ?? null,
    storeId: x.device.storeId ?? null,
    params: { ...x.device },
    appVersion: x.appVersion,
    state: x.state ?? s.state,
    enabled: s.enabled,
    lag: { push: lag(s.lag.push), pull: lag(s.lag.pull) },
    outbox: { depth: s.outbox.depth, oldestPendingAgeMs: s.outbox.oldestPendingAgeMs },
    conflictsLastHour: x.recent?.conflicts ?? null,
    setAside: { count: s.quarantine.count, lastHour: x.recent?.setAside ?? null },
    clockOffsetMs: x.clockOffsetMs,
    oplogHeadroomHours: s.oplogHeadroomHours,
    lastError: s.lastError,
    lastSyncedAt: s.lastSyncedAt,
    warnings: s.warnings,
    reconciliation: s.reconciliation,
    beatEveryMs: x.beatEveryMs,
  };
}

/** Synced and syncing are one for the fleet: a change between them is no news. */
function stateClass(state: SyncState): string {
  return state === 'synced' || state === 'syncing' ? 'working' : state;
}

/** Records kept with a time (the till's conflict log, its set-aside changes). */
interface Countable {
  countSince(since: Date): Promise<number>;
}

/** Counts over the till's conflict log and set-aside changes (the TillStore has both). */
export async function countRecent(store: { conflicts: Countable; quarantine: Countable }, since: Date): Promise<RecentCounts> {
  const [conflicts, setAside] = await Promise.all([store.conflicts.countSince(since), store.quarantine.countSince(since)]);
  return { conflicts, setAside };
}

export class Heartbeat {
  readonly #o: HeartbeatOptions;
  readonly #log: Logger;
  readonly #appVersion: string;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<boolean> | undefined;
  /** A state change arrived while a beat was out: beat again when it returns. */
  #again = false;
  #lastClass: string | undefined;
  #failing = false;
  #stopped = false;

  constructor(options: HeartbeatOptions) {
    this.#o = options;
    this.#log = (options.log ?? silentLogger).child({ component: 'heartbeat' });
    this.#appVersion = options.appVersion ?? appVersion();
  }

  /** Beats now and every `everyMs` until `stop`. */
  start(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setInterval(() => void this.beat(), this.#o.everyMs ?? HEARTBEAT_EVERY_MS);
    this.#timer.unref();
    void this.beat();
  }

  /** Call when the engine's state changes: beats at once if the fleet would see a difference. */
  stateChanged(state: SyncState): void {
    if (this.#stopped || !this.#timer || stateClass(state) === this.#lastClass) return;
    if (this.#inFlight) this.#again = true;
    else void this.beat();
  }

  /**
   * Writes one beat; resolves to whether the hub took it. Never throws and
   * never waits for a hub that does not answer: after the timeout it resolves
   * false and the write, if it ever lands, is harmless.
   */
  beat(state?: HeartbeatState, timeoutMs = this.#o.timeoutMs ?? BEAT_TIMEOUT_MS): Promise<boolean> {
    if (this.#inFlight) return this.#inFlight;
    const db = this.#o.hub();
    if (!db) return Promise.resolve(false);
    const run = this.#write(db, timeoutMs, state);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => {
        this.#failed(new Error(`the hub did not answer within ${timeoutMs / 1000} s`));
        resolve(false);
      }, timeoutMs);
      timer.unref();
    });
    const beat = Promise.race([run, timedOut]).finally(() => {
      clearTimeout(timer);
      this.#inFlight = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.beat();
      }
    });
    this.#inFlight = beat;
    return beat;
  }

  /**
   * Beats with the state as it is now, for a caller that waits (pause, stop):
   * after a beat still out (or a moment), with a short timeout of its own.
   */
  async beatNow(state?: HeartbeatState): Promise<boolean> {
    if (this.#inFlight) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.#inFlight, new Promise((resolve) => (timer = setTimeout(resolve, WAITED_BEAT_TIMEOUT_MS)))]);
      clearTimeout(timer);
      if (this.#busy()) return false; // the hub is not answering: do not hold the caller up longer
    }
    return this.beat(state, WAITED_BEAT_TIMEOUT_MS);
  }

  #busy(): boolean {
    return this.#inFlight !== undefined;
  }

  async #write(db: Db, timeoutMs: number, state: HeartbeatState | undefined): Promise<boolean> {
    try {
      const status = this.#o.status();
      const recent = this.#o.recent ? await this.#o.recent(new Date(Date.now() - HOUR_MS)).catch(() => null) : null;
      const fields = heartbeatFields(status, {
        device: this.#o.device ?? {},
        appVersion: this.#appVersion,
        clockOffsetMs: this.#o.clockOffsetMs?.() ?? null,
        recent,
        beatEveryMs: this.#o.everyMs ?? HEARTBEAT_EVERY_MS,
        state,
      });
      if (!fields.deviceId) return false; // not started far enough to know who it is
      await db
        .collection<{ _id: string }>(DEVICES_COLLECTION)
        .updateOne({ _id: fields.deviceId }, { $set: fields, $currentDate: { lastSeen: true } }, { upsert: true, maxTimeMS: timeoutMs });
      this.#lastClass = stateClass(status.state);
      if (this.#failing) {
        this.#failing = false;
        this.#log.info({ event: 'heartbeat.recovered' }, 'the hub takes this till’s heartbeat again');
      }
      return true;
    } catch (err) {
      this.#failed(err);
      return false;
    }
  }

  /** Logged once per run of failures, never per beat. */
  #failed(err: unknown): void {
    if (this.#failing) return;
    this.#failing = true;
    this.#log.warn(
      { event: 'heartbeat.failed', error: String(err) },
      'could not write this till’s heartbeat to the hub (head office’s fleet view); sync goes on',
    );
  }

  /** Stops beating; says goodbye (state `stopped`) if the hub is still connected, waiting at most a moment. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#stopped = true;
    await this.beatNow('stopped');
  }
}

let cachedVersion: string | undefined;

/** The version in TillSync's package.json, looked for above this file (source tree, bundle or packaged app). */
export function appVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  cachedVersion = 'unknown';
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i += 1, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    try {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'tillsync' && typeof pkg.version === 'string') {
        cachedVersion = pkg.version;
        break;
      }
    } catch {
      // not ours; keep looking
    }
  }
  return cachedVersion;
}
