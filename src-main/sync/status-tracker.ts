/**
 * Everything the engine knows about how sync is going, kept as it happens, and
 * turned into the `SyncStatus` the agent, the tray and the dashboard show.
 * Pure apart from the time it is given.
 */
import type { HistoryReach, LagPoint, SyncErrorInfo, SyncState, SyncStatus, SyncWarning } from '../../src-shared/status.ts';
import { LagSeries, LagWindow, RateMeter } from './lag-window.ts';

const QUARANTINE_SHOWN = 5;

export interface StatusInputs {
  enabled: boolean;
  started: boolean;
  hubConnected: boolean;
  /** Local changes are waiting to be captured. */
  captureBusy: boolean;
}

/** The parts of sync that talk to the hub, each of which can find it unreachable. */
export type HubPart = 'connect' | 'push' | 'pull';

export class StatusTracker {
  readonly deviceId: string;
  readonly #pushLag = new LagWindow();
  readonly #pullLag = new LagWindow();
  readonly #series = new LagSeries();
  readonly #pushRate = new RateMeter();
  readonly #pullRate = new RateMeter();
  /**
   * Parts that last found the hub unreachable, with since when. Only a real
   * answer from the hub clears a part (a batch pushed, a change-stream
   * response), never a quiet moment: a stream the driver is silently resuming
   * looks just like one with nothing to say.
   */
  readonly #unreachable = new Map<HubPart, number>();
  /** Problems sync cannot get past by itself, by where they are (local database, capture, pull). */
  readonly #fatal = new Map<string, SyncErrorInfo>();
  #lastError: SyncErrorInfo | null = null;
  #pullCaughtUp = false;
  #outboxDepth = 0;
  #oldestPending: number | null = null;
  /** Outbox changes counted so far (see `outbox`). */
  #outboxChanges = 0;
  #lastSyncedAt: number | null = null;
  #conflictCount = 0;
  #quarantine: SyncStatus['quarantine'] = { count: 0, latest: [] };
  /** Conflicts and set-aside changes recorded so far (see `recordsReadStarted`). */
  #recordEvents = 0;
  #correction = false;
  #history: HistoryReach | undefined;
  #checkpointAt: { capture: number | null; pull: number | null } = { capture: null, pull: null };
  #oplogHeadroomHours: number | null = null;
  readonly #warnings = new Map<string, { message: string; detail?: Omit<SyncWarning, 'message'> }>();
  #reconciliation: { compared: number; total: number } | null = null;

  constructor(deviceId: string) {
    this.deviceId = deviceId;
  }

  pushed(wallTimes: number[], now: number): void {
    for (const wall of wallTimes) {
      this.#pushLag.record(now - wall, now);
      this.#series.record('push', now - wall, now);
    }
    this.#pushRate.add(wallTimes.length, now);
    this.#checkpointAt.capture ??= now;
    this.reachable('push');
  }

  pulled(wallTimes: number[], now: number): void {
    for (const wall of wallTimes) {
      this.#pullLag.record(now - wall, now);
      this.#series.record('pull', now - wall, now);
    }
    this.#pullRate.add(wallTimes.length, now);
    this.#checkpointAt.pull = now;
    this.reachable('pull');
  }

  captured(now: number): void {
    this.#checkpointAt.capture = now;
  }

  caughtUp(value: boolean, now: number): void {
    this.#pullCaughtUp = value;
    if (value) this.#checkpointAt.pull ??= now;
  }

  /** `part` got an answer from the hub (or, for push, has nothing left to send). */
  reachable(part: HubPart): void {
    this.#unreachable.delete(part);
  }

  unreachable(part: HubPart, error: SyncErrorInfo, now: number): void {
    if (!this.#unreachable.has(part)) this.#unreachable.set(part, now);
    this.#lastError = error;
  }

  /** Since when some part has found the hub unreachable; undefined while every part gets through. */
  unreachableSince(): number | undefined {
    return this.#unreachable.size === 0 ? undefined : Math.min(...this.#unreachable.values());
  }

  failed(error: SyncErrorInfo): void {
    this.#lastError = error;
  }

  /** Whether `where` is stopped by a problem (set by `fatal`, until cleared). */
  blocked(where: string): boolean {
    return this.#fatal.has(where);
  }

  fatal(where: string, error: SyncErrorInfo | null): void {
    if (error) {
      this.#fatal.set(where, error);
      this.#lastError = error;
    } else this.#fatal.delete(where);
  }

  /** Starts a read of the outbox's depth; pass the result to `outbox` with what it read. */
  outboxReadStarted(): number {
    return this.#outboxChanges;
  }

  /**
   * What a read of the outbox found. Ignored when entries came or went while it
   * ran (it may miss them); the counts from `outboxGrew` and `outboxShrank`
   * stand until a quiet read confirms them.
   */
  outbox(depth: number, oldestWall: number | null, readStarted: number): void {
    if (readStarted !== this.#outboxChanges) return;
    this.#outboxDepth = depth;
    this.#oldestPending = oldestWall;
  }

  /** Capture committed `count` entries: counted at once, so the till is never "synced" with changes waiting. */
  outboxGrew(count: number, oldestWall: number): void {
    this.#outboxChanges += 1;
    this.#outboxDepth += count;
    this.#oldestPending ??= oldestWall;
  }

  /** The push settled `count` entries (removed from the outbox). */
  outboxShrank(count: number): void {
    this.#outboxChanges += 1;
    this.#outboxDepth = Math.max(0, this.#outboxDepth - count);
    if (this.#outboxDepth === 0) this.#oldestPending = null;
  }

  /** Starts a read of the conflict and set-aside counts; pass the result to `conflicts` and `quarantined` with what it read. */
  recordsReadStarted(): number {
    return this.#recordEvents;
  }

  /**
   * The conflict log's size, as read. Ignored when conflicts were recorded
   * while the read ran (it may have missed them); `conflictsRecorded` keeps
   * the count meanwhile, so the status tick needs no read.
   */
  conflicts(count: number, readStarted?: number): void {
    if (readStarted !== undefined && readStarted !== this.#recordEvents) return;
    this.#conflictCount = count;
  }

  conflictsRecorded(count: number): void {
    this.#recordEvents += 1;
    this.#conflictCount += count;
  }

  /** Set-aside changes as read (newest first); ignored like `conflicts` when some were recorded meanwhile. */
  quarantined(summary: SyncStatus['quarantine'], readStarted?: number): void {
    if (readStarted !== undefined && readStarted !== this.#recordEvents) return;
    this.#quarantine = { count: summary.count, latest: summary.latest.slice(0, QUARANTINE_SHOWN) };
  }

  /**
   * Changes just set aside (in the order recorded): counted, and the newest shown first. A record
   * kept per document and side can come again (the same change retried, or a newer one replacing
   * it): one already shown is not counted twice, and a read is asked for (`takeCorrection`) to
   * settle the count of any other.
   */
  quarantineRecorded(latest: SyncStatus['quarantine']['latest']): void {
    this.#recordEvents += 1;
    this.#correction = true;
    const shown = new Set(this.#quarantine.latest.map((q) => q.id));
    const fresh = latest.filter((q) => q.id === undefined || !shown.has(q.id));
    const incoming = new Set(latest.map((q) => q.id));
    this.#quarantine = {
      count: this.#quarantine.count + fresh.length,
      latest: [...latest]
        .reverse()
        .concat(this.#quarantine.latest.filter((q) => q.id === undefined || !incoming.has(q.id)))
        .slice(0, QUARANTINE_SHOWN),
    };
  }

  /** Whether the counts should be read again soon (changes were set aside since the last time asked). */
  takeCorrection(): boolean {
    const wanted = this.#correction;
    this.#correction = false;
    return wanted;
  }

  hasWarning(key: string): boolean {
    return this.#warnings.has(key);
  }

  history(reach: HistoryReach): void {
    this.#history = reach;
  }

  get historyReach(): HistoryReach | undefined {
    return this.#history;
  }

  oplogHeadroom(hours: number | null): void {
    this.#oplogHeadroomHours = hours;
  }

  /** A warning by key, in words and (for the dashboard's languages) as a code with its params; null clears it. */
  warn(key: string, message: string | null, detail?: Omit<SyncWarning, 'message'>): void {
    if (message === null) this.#warnings.delete(key);
    else this.#warnings.set(key, detail ? { message, detail } : { message });
  }

  reconciling(progress: { compared: number; total: number } | null): void {
    this.#reconciliation = progress;
  }

  state(inputs: StatusInputs): SyncState {
    if (!inputs.enabled) return 'disabled';
    if (this.#fatal.size > 0) return 'error';
    if (!inputs.started) return 'starting';
    if (!inputs.hubConnected || this.#unreachable.size > 0) return 'offline';
    if (this.#reconciliation || inputs.captureBusy || this.#outboxDepth > 0 || !this.#pullCaughtUp) return 'syncing';
    return 'synced';
  }

  snapshot(inputs: StatusInputs, now: number): SyncStatus {
    const state = this.state(inputs);
    if (state === 'synced') this.#lastSyncedAt = now;
    const series: LagPoint[] = this.#series.points(now);
    return {
      state,
      deviceId: this.deviceId,
      enabled: inputs.enabled,
      lastSyncedAt: this.#lastSyncedAt,
      lag: { push: this.#pushLag.stats(now), pull: this.#pullLag.stats(now) },
      lagSeries: series,
      outbox: {
        depth: this.#outboxDepth,
        oldestPendingAgeMs: this.#oldestPending === null ? null : Math.max(0, now - this.#oldestPending),
      },
      rates: { pushPerSec: this.#pushRate.perSecond(now), pullPerSec: this.#pullRate.perSecond(now) },
      conflicts: { count: this.#conflictCount },
      lastError: this.#lastError,
      checkpointAgeMs: {
        capture: this.#checkpointAt.capture === null ? null : now - this.#checkpointAt.capture,
        pull: this.#checkpointAt.pull === null ? null : now - this.#checkpointAt.pull,
      },
      oplogHeadroomHours: this.#oplogHeadroomHours,
      quarantine: this.#quarantine,
      warnings: [...this.#warnings.values()].map((w) => w.message),
      ...this.#warningDetails(),
      reconciliation: this.#reconciliation,
      ...(this.#history ? { history: this.#history } : {}),
    };
  }

  /** The warnings as data, only when every one has its data (the dashboard then shows these instead of the words). */
  #warningDetails(): Pick<SyncStatus, 'warningDetails'> {
    const all = [...this.#warnings.values()];
    if (all.length === 0 || !all.every((w) => w.detail)) return {};
    return { warningDetails: all.map((w) => ({ ...(w.detail as Omit<SyncWarning, 'message'>), message: w.message })) };
  }
}
