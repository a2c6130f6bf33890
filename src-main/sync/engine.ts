/**
 * The sync engine: the composition root. It opens the till's database, builds
 * the clock and the status tracker, and wires capture, push and pull (the
 * flows) to the till side, the hub link and each other. Free of Electron: the
 * desktop app and the headless agent both use `createSyncEngine`.
 */
import { EventEmitter } from 'node:events';
import { MongoClient } from 'mongodb';
import type { SyncErrorInfo, SyncState, SyncStatus } from '../../src-shared/status.ts';
import { abortAbandonedTransactions } from './abandoned.ts';
import { Backoff } from './backoff.ts';
import { ClockOffsets } from './clock-offset.ts';
import { ClockWatch } from './clock-watch.ts';
import type { SyncConfig } from './config.ts';
import { decodeVersion, HybridClock, maxVersion, type Version } from './core/hlc.ts';
import { PolicyTable, type CollectionPolicy } from './core/policy.ts';
import { describeError, isUnreachable, SyncError } from './errors.ts';
import { Capture } from './flows/capture.ts';
import { Pull } from './flows/pull.ts';
import { Push } from './flows/push.ts';
import { countRecent, Heartbeat } from './heartbeat.ts';
import { HubLink } from './hub-link.ts';
import { silentLogger, type Logger } from './log.ts';
import { oplogHeadroomHours } from './oplog-headroom.ts';
import { OutboxWatch } from './outbox-watch.ts';
import { StatusTracker, type HubPart } from './status-tracker.ts';
import { diskRoom, OFFLINE_DAYS, readDiskFacts } from './till/disk.ts';
import type { ConflictPage, ConflictQuery, ConflictRecord, QuarantineRecord } from './till/records.ts';
import { TillHistory } from './till/retention.ts';
import { TillStore } from './till/store.ts';

export type { ConflictPage, ConflictQuery } from './till/records.ts';

export interface SyncEngineEvents {
  status: [SyncStatus];
  state: [SyncState, SyncState];
  conflict: [ConflictRecord];
  /** A problem the engine recovers from (named so, not 'error', so an unheard one never throws). */
  'sync-error': [SyncErrorInfo];
  quarantine: [QuarantineRecord];
}

export interface SyncEngineOptions {
  log?: Logger;
}

/** The till-side client's appName: one engine per till, so a later run can find an earlier run's transactions. */
const LOCAL_APP_NAME = 'tillsync-engine';
const HUB_APP_NAME_PREFIX = 'tillsync-engine-';
/**
 * The status tick reads nothing from the database: the outbox depth, the conflict and set-aside counts
 * are kept from the engine's own events. This often, a read corrects them (and measures the oplog
 * window, which changes slowly), in case anything moved that no event told of.
 */
const CORRECT_EVERY_MS = 60_000;
/** Housekeeping that finds sync busy tries again this much later. */
const HOUSEKEEPING_BUSY_RETRY_MS = 60_000;
/** At most how often versions refused as too far ahead are compared again (a full reconciliation). */
const AHEAD_RECHECK_MAX_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** What exists once the engine has started. */
interface Running {
  local: MongoClient;
  store: TillStore;
  tracker: StatusTracker;
  capture: Capture;
  push: Push;
  pull: Pull;
  link: HubLink;
  heartbeat: Heartbeat;
  history: TillHistory;
}

export class SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly config: SyncConfig;
  readonly #log: Logger;
  #run: Running | undefined;
  /** Between start and stop (after stop, `#run` stays for the last status). */
  #started = false;
  #deviceId = '';
  #policies: PolicyTable;
  #enabled = true;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #housekeepingTimer: NodeJS.Timeout | undefined;
  #state: SyncState = 'starting';
  #lastStatus: SyncStatus | undefined;
  #captureCommits = 0;
  readonly #offsets = new ClockOffsets();
  #clockWatch: ClockWatch;
  #correctedAt = 0;
  #diskLow = false;
  /** Since when hub versions too far ahead of this till's clock wait to be compared again. */
  #aheadSince: number | undefined;
  #aheadCheckedAt = 0;

  constructor(config: SyncConfig, options: SyncEngineOptions = {}) {
    super();
    this.config = config;
    this.#log = (options.log ?? silentLogger).child({ component: 'sync-engine' });
    this.#policies = new PolicyTable(config.collections);
    this.#clockWatch = new ClockWatch(this.#offsets, this.#log);
  }

  get deviceId(): string {
    return this.#deviceId;
  }

  #backoff(): (attempt: number) => Promise<void> {
    const backoff = new Backoff({ initialMs: this.config.retry.initialMs, maxMs: this.config.retry.maxMs });
    return async (attempt: number) => {
      if (attempt === 0) backoff.reset();
      await sleep(backoff.next());
    };
  }

  async start(): Promise<void> {
    if (this.#run || this.#stopping) return;
    // A socket timeout so an answer that never comes (a server that hung or dropped the request) fails
    // the operation and sync retries, instead of waiting for ever; no engine operation takes near as long.
    const local = new MongoClient(this.config.local.uri, {
      appName: LOCAL_APP_NAME,
      serverSelectionTimeoutMS: 10_000,
      socketTimeoutMS: 30_000,
    });
    await local.connect();
    await this.#cleanUpAfterCrash(local, LOCAL_APP_NAME);
    const store = new TillStore(local, this.config.database, this.config.engineDatabase);
    await store.init();
    const history = new TillHistory(store, this.config);
    await history.init();
    this.#deviceId = await store.deviceId(this.config.deviceId);
    if (this.config.deviceId && this.config.deviceId !== this.#deviceId) {
      this.#log.warn(
        { event: 'engine.device-id-kept', configured: this.config.deviceId, kept: this.#deviceId },
        'this till already has a device id; keeping it',
      );
    }
    this.#enabled = await store.loadEnabled();
    const offsets = this.#offsets;
    const kept = await store.loadHubClockOffset();
    if (kept !== null) offsets.seedHub(kept);
    await offsets.measureLocal(local);
    const clock = new HybridClock(this.#deviceId, {
      maxDriftMs: this.config.maxClockDriftMs,
      last: await this.#restoredClock(store),
      now: () => offsets.hubNow(),
    });
    const tracker = new StatusTracker(this.#deviceId);
    const log = this.#log.child({ device: this.#deviceId });
    const outboxWatch = new OutboxWatch();
    const common = { store, outboxWatch, policies: () => this.#policies, log, batchSize: this.config.batchSize };
    const capture = new Capture({
      ...common,
      clock,
      offsets,
      deviceId: this.#deviceId,
      onConflicts: (conflicts) => this.#onConflicts(conflicts),
      onCommitted: (count, wallTimes) => {
        this.#captureCommits += 1;
        tracker.fatal('capture', null);
        tracker.captured(Date.now());
        if (count > 0) tracker.outboxGrew(count, Math.min(...wallTimes.map((w) => w.getTime())));
        if (count > 0) push.wake();
      },
      onError: (err, fatal) => this.#onError(err, 'local', fatal ? 'capture' : undefined),
      delay: this.#backoff(),
      onHistoryLost: () => {
        tracker.fatal('capture', null);
        pull.requestReconcile();
      },
    });
    const link = new HubLink({
      uri: this.config.hub.uri,
      database: this.config.database,
      appName: `${HUB_APP_NAME_PREFIX}${this.#deviceId}`,
      log: this.#log,
      wanted: () => this.#enabled && !this.#stopping,
      delay: this.#backoff(),
      onConnected: async (hub) => {
        await this.#cleanUpAfterCrash(hub.client, `${HUB_APP_NAME_PREFIX}${this.#deviceId}`);
        tracker.reachable('connect');
        await this.#clockWatch.check(local, store, hub.client, tracker, true);
        this.#log.info({ event: 'engine.hub-connected' }, 'connected to the hub');
        await pull.start();
        push.start();
        push.wake();
      },
      onDisconnecting: async () => {
        await Promise.all([push.stop(), pull.stop()]);
      },
      onError: (err) => this.#onError(err, 'hub', undefined, 'connect'),
      onSettled: () => void this.#refresh(),
    });
    const push = new Push({
      ...common,
      deviceId: this.#deviceId,
      hub: () => link.hub,
      onPushed: (accepted, settled) => {
        tracker.pushed(
          accepted.map((e) => e.wall.getTime()),
          Date.now(),
        );
        tracker.outboxShrank(settled);
      },
      onConflicts: (conflicts) => this.#onConflicts(conflicts),
      onError: (err) => this.#onError(err, 'hub', undefined, 'push'),
      // Nothing left to send: push has no complaint about the hub (pull speaks for itself).
      onIdle: () => tracker.reachable('push'),
      delay: this.#backoff(),
    });
    const pull = new Pull({
      ...common,
      deviceId: this.#deviceId,
      clock,
      hub: () => link.hub,
      captureSettled: () => this.#captureSettled(),
      onApplied: (ops) => {
        tracker.fatal('pull', null);
        tracker.pulled(
          ops.map((op) => op.wall.getTime()),
          Date.now(),
        );
      },
      // Not a sign the hub client is healthy: the pull's stream can keep working while every push fails.
      onCaughtUp: (value) => tracker.caughtUp(value, Date.now()),
      onConflicts: (conflicts) => this.#onConflicts(conflicts),
      onQuarantined: (records) => this.#onQuarantined(records),
      onError: (err, fatal) => this.#onError(err, 'hub', fatal ? 'pull' : undefined, 'pull'),
      onHubResponse: () => tracker.reachable('pull'),
      delay: this.#backoff(),
      onReconciled: ({ aheadRefused }) => {
        if (aheadRefused > 0 || this.#aheadSince === undefined) return;
        this.#aheadSince = undefined;
        tracker.warn('clock-drift', null);
        this.#log.info({ event: 'engine.clock-drift-cleared' }, 'changes set aside for clock drift are applied');
      },
      onReconcile: (progress) => {
        tracker.reconciling(progress);
        if (progress?.compared === 0) this.#log.info({ event: 'engine.reconcile-started' }, 'comparing this till with the hub');
      },
      enqueuePush: (changes) => capture.enqueue(changes),
    });
    await capture.start();
    // One small document per till on the hub for head office's fleet view; it never delays sync.
    const heartbeat = new Heartbeat({
      hub: () => link.hub?.db,
      status: () => this.status(),
      device: this.config.device,
      log,
      recent: (since) => countRecent(store, since),
      clockOffsetMs: () => -offsets.localMs,
      everyMs: this.config.heartbeatIntervalMs,
    });
    this.#run = { local, store, tracker, capture, push, pull, link, heartbeat, history };
    this.#started = true;
    this.#log.info(
      { event: 'engine.started', device: this.#deviceId, enabled: this.#enabled, database: this.config.database },
      'sync engine started',
    );
    if (this.#enabled) link.connect();
    heartbeat.start();
    this.#timer = setInterval(() => void this.#refresh(), this.config.statusIntervalMs);
    this.#timer.unref();
    await this.#refresh();
    await this.#updateHistoryReach();
    this.#scheduleHousekeeping(Math.min(this.config.housekeepingIntervalMs, HOUSEKEEPING_BUSY_RETRY_MS));
  }

  /** The newest clock either checkpoint saved, so a restart never hands out an older version. */
  async #restoredClock(store: TillStore): Promise<Version | undefined> {
    let last: Version | undefined;
    for (const name of ['capture', 'pull'] as const) {
      const clock = (await store.checkpoints.load(name))?.clock;
      if (clock) last = last ? maxVersion(last, decodeVersion(clock)) : decodeVersion(clock);
    }
    return last && { ...last, device: this.#deviceId };
  }

  async #cleanUpAfterCrash(client: MongoClient, appName: string): Promise<void> {
    try {
      const ended = await abortAbandonedTransactions(client, appName);
      if (ended > 0)
        this.#log.info(
          { event: 'engine.abandoned-transactions-ended', count: ended, appName },
          'ended transactions an earlier run left open',
        );
    } catch (err) {
      this.#log.warn(
        { event: 'engine.abandoned-transactions-unknown', error: String(err) },
        'could not look for transactions an earlier run left open',
      );
    }
  }

  /** Waits a moment so capture can take local changes made just before. */
  async #captureSettled(): Promise<void> {
    const before = this.#captureCommits;
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && this.#captureCommits === before) await sleep(20);
  }

  /**
   * Records a problem; `blocking` names the part that cannot go on until it
   * clears (state 'error'); `part` which hub-facing part met it.
   */
  #onError(err: unknown, side: 'hub' | 'local', blocking?: string, part?: HubPart): void {
    const info = (err instanceof SyncError ? err : describeError(err, side)).toInfo();
    const tracker = this.#run?.tracker;
    if (side === 'hub' && part && isUnreachable(err)) tracker?.unreachable(part, info, Date.now());
    else if (blocking) tracker?.fatal(blocking, info);
    else tracker?.failed(info);
    this.#log.warn({ event: 'engine.error', side, reason: info.reason, error: String(err) }, info.message);
    this.emit('sync-error', info);
  }

  #onConflicts(conflicts: ConflictRecord[]): void {
    const tracker = this.#run?.tracker;
    if (tracker && conflicts.length > 0) {
      tracker.conflictsRecorded(conflicts.length);
      const reach = tracker.historyReach;
      if (reach && reach.conflictsSince === null)
        tracker.history({ ...reach, conflictsSince: Math.min(...conflicts.map((c) => c.at.getTime())) });
    }
    for (const c of conflicts) {
      this.#log.info({ event: 'engine.conflict', collection: c.collection, winner: c.winner, rule: c.rule }, 'conflict resolved');
      this.emit('conflict', c);
    }
  }

  #onQuarantined(records: QuarantineRecord[]): void {
    const ahead = records.filter((r) => r.kind === 'clock-drift');
    if (ahead.length > 0) {
      this.#aheadSince ??= Date.now();
      this.#run?.tracker.warn(
        'clock-drift',
        `Some changes from another till or head office carry a time ahead of this till's clock (${ahead[0]?.reason}). ` +
          'They are kept and will be applied once the clocks agree. Check the date and time on the tills.',
      );
    }
    this.#run?.tracker.quarantineRecorded(records.map(quarantineSummary));
    for (const r of records) {
      this.#log.warn(
        { event: 'engine.quarantined', collection: r.collection, reason: r.reason },
        'a change could not be applied and was set aside',
      );
      this.emit('quarantine', r);
    }
  }

  /**
   * The status tick: no database reads of its own (the counts move with the engine's events; a read
   * corrects them now and then), the clock readings, and the report.
   */
  async #refresh(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    const { store, tracker, link } = run;
    if (Date.now() - this.#correctedAt >= CORRECT_EVERY_MS) {
      this.#correctedAt = Date.now();
      await this.#correctCounts(run);
    }
    // Versions refused as too far ahead are compared again now and then, so none stays set aside for good.
    const recheckMs = Math.min(AHEAD_RECHECK_MAX_MS, Math.max(2_000, this.config.maxClockDriftMs));
    if (this.#aheadSince !== undefined && Date.now() - this.#aheadCheckedAt > recheckMs && !this.status().reconciliation) {
      this.#aheadCheckedAt = Date.now();
      run.pull.requestReconcile();
    }
    // The till's clock reading is also the tick's sign that its database answers.
    const localError = await this.#clockWatch.check(run.local, store, link.hub?.client, tracker, false);
    if (localError === undefined) tracker.fatal('local', null);
    else this.#onError(localError, 'local', 'local');
    if (!this.#stopping) await link.renewIfStuck(tracker.unreachableSince());
    const status = this.status();
    this.#lastStatus = status;
    if (status.state !== this.#state) {
      const previous = this.#state;
      this.#state = status.state;
      this.#log.info({ event: 'engine.state', from: previous, to: status.state, outbox: status.outbox.depth }, `sync is ${status.state}`);
      this.emit('state', status.state, previous);
      this.#run?.heartbeat.stateChanged(status.state);
    }
    this.emit('status', status);
  }

  /** Reads the outbox depth, the conflict and set-aside counts and the oplog window (see CORRECT_EVERY_MS). */
  async #correctCounts(run: Running): Promise<void> {
    const { store, tracker } = run;
    try {
      const outboxRead = tracker.outboxReadStarted();
      const { depth, oldest } = await store.outbox.stats();
      tracker.outbox(depth, oldest?.getTime() ?? null, outboxRead);
      const recordsRead = tracker.recordsReadStarted();
      const conflicts = await store.conflicts.count();
      const quarantineCount = await store.quarantine.count();
      const latest = quarantineCount === 0 ? [] : await store.quarantine.latest(5);
      tracker.conflicts(conflicts, recordsRead);
      tracker.quarantined({ count: quarantineCount, latest: latest.map(quarantineSummary) }, recordsRead);
      tracker.oplogHeadroom(await oplogHeadroomHours(store.client));
      tracker.fatal('local', null);
    } catch (err) {
      this.#onError(err, 'local', 'local');
    }
  }

  #scheduleHousekeeping(delayMs: number): void {
    if (this.#stopping) return;
    this.#housekeepingTimer = setTimeout(() => void this.#housekeeping(), delayMs);
    this.#housekeepingTimer.unref();
  }

  /**
   * Keeps the till's history within its rules (till/retention.ts), forgets old deletes on the hub,
   * and checks the disk has room for the offline promise. Off the hot path: every few minutes, in
   * small batches, and put off while sync is busy.
   */
  async #housekeeping(): Promise<void> {
    const run = this.#run;
    if (!run || this.#stopping) return;
    if (run.capture.busy || this.status().state === 'syncing') {
      this.#scheduleHousekeeping(Math.min(this.config.housekeepingIntervalMs, HOUSEKEEPING_BUSY_RETRY_MS));
      return;
    }
    try {
      const pruned = await run.history.prune();
      if (pruned.conflicts + pruned.deleteTraces > 0)
        this.#log.info(
          { event: 'engine.history-pruned', conflicts: pruned.conflicts, deleteTraces: pruned.deleteTraces },
          'forgot history older than the retention rules',
        );
      await this.#pruneTombstones();
      await this.#updateHistoryReach();
      this.#correctedAt = Date.now();
      await this.#correctCounts(run);
      await this.#checkDisk(run);
    } catch (err) {
      this.#log.warn({ event: 'engine.housekeeping-failed', error: String(err) }, 'housekeeping failed; will try again later');
    }
    this.#scheduleHousekeeping(this.config.housekeepingIntervalMs);
  }

  async #updateHistoryReach(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    const reach = await run.history.reach();
    run.tracker.history({ ...reach, keepDays: this.config.conflictRetentionDays, keepEntries: this.config.conflictRetentionEntries });
  }

  /** Warns, in words, when the till's disk has no room left for a week offline. */
  async #checkDisk(run: Running): Promise<void> {
    const facts = await readDiskFacts(run.local, this.config.engineDatabase);
    const room = facts && diskRoom(facts);
    const was = this.#diskLow;
    this.#diskLow = room !== null && !room.enough;
    if (!room || room.enough) {
      run.tracker.warn('disk-low', null);
      if (was) this.#log.info({ event: 'engine.disk-ok' }, "this till's disk has room again");
      return;
    }
    const gb = (mb: number): string => `${(mb / 1024).toFixed(1)} GB`;
    run.tracker.warn(
      'disk-low',
      `This till's disk has ${gb(room.freeMB)} free; ${OFFLINE_DAYS} days without the hub need about ${gb(room.neededMB)} ` +
        "at today's rate of changes. Free some space on this till's disk before it fills up.",
      { code: 'disk-low', params: { freeMb: room.freeMB, neededMb: room.neededMB, offlineDays: OFFLINE_DAYS } },
    );
    if (!was) this.#log.warn({ event: 'engine.disk-low', freeMb: room.freeMB, neededMb: room.neededMB }, "this till's disk is nearly full");
  }

  /** Forgets hub deletes older than the retention (any till may do it; it is idempotent). */
  async #pruneTombstones(): Promise<void> {
    const hub = this.#run?.link.hub;
    if (!hub) return;
    try {
      const count = await hub.pruneTombstones(new Date(Date.now() - this.config.tombstoneRetentionDays * 86_400_000));
      if (count > 0) this.#log.info({ event: 'engine.tombstones-pruned', count }, 'forgot old deletes on the hub');
    } catch (err) {
      this.#log.debug({ event: 'engine.tombstone-prune-failed', error: String(err) }, 'could not prune tombstones; will try later');
    }
  }

  status(): SyncStatus {
    const run = this.#run;
    if (!run) {
      return new StatusTracker(this.#deviceId || 'unknown').snapshot(
        { enabled: this.#enabled, started: false, hubConnected: false, captureBusy: false },
        Date.now(),
      );
    }
    return run.tracker.snapshot(
      { enabled: this.#enabled, started: this.#started, hubConnected: run.link.hub !== undefined, captureBusy: run.capture.busy },
      Date.now(),
    );
  }

  get lastStatus(): SyncStatus | undefined {
    return this.#lastStatus;
  }

  #running(): Running {
    if (!this.#run || !this.#started) throw new SyncError('internal', 'the engine is not started');
    return this.#run;
  }

  /** Turns hub traffic on or off; the choice is kept across restarts. Capture goes on either way. */
  async setEnabled(enabled: boolean): Promise<void> {
    const { store, link, heartbeat } = this.#running();
    await store.saveEnabled(enabled);
    this.#enabled = enabled;
    if (!enabled) await heartbeat.beatNow(); // the fleet sees "paused" before the hub goes
    this.#log.info({ event: 'engine.enabled', enabled }, enabled ? 'sync enabled' : 'sync paused');
    if (enabled) link.connect();
    else await link.disconnect();
    await this.#refresh();
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Changes collection policies; they take effect for the next change, without a restart. */
  setPolicies(policies: Record<string, Partial<CollectionPolicy>>): void {
    this.#policies = this.#policies.with(policies);
  }

  get policies(): PolicyTable {
    return this.#policies;
  }

  async listConflicts(query: ConflictQuery = {}): Promise<ConflictPage> {
    return this.#running().store.conflicts.list(query);
  }

  /** One conflict by its id (the hex string of its `_id`); null when there is none. */
  async getConflict(id: string): Promise<ConflictRecord | null> {
    return this.#running().store.conflicts.get(id);
  }

  /**
   * Applies a conflict's losing version as a new write on this till: capture
   * gives it a new version, so it wins everywhere once pushed. A losing delete
   * deletes the document. Returns the updated record.
   */
  async reapplyConflictLoser(id: string): Promise<ConflictRecord> {
    const { store } = this.#running();
    const conflict = await store.conflicts.get(id);
    if (!conflict) throw new SyncError('not-found', `no conflict with id "${id}"`);
    const loser = conflict.winner === 'hub' ? conflict.local : conflict.hub;
    await store.writeAsLocal([{ c: conflict.collection, id: conflict.documentId, doc: loser.document }]);
    const reappliedAt = new Date();
    await store.conflicts.markReapplied(conflict._id, reappliedAt);
    this.#log.info({ event: 'engine.conflict-reapplied', collection: conflict.collection }, 'losing version applied again');
    return { ...conflict, reappliedAt };
  }

  /** Stops cleanly: streams closed, checkpoints written, connections closed. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#housekeepingTimer) clearTimeout(this.#housekeepingTimer);
    const run = this.#run;
    if (run) {
      await run.heartbeat.stop(); // a last beat saying "stopped", while the hub is still connected
      await run.link.disconnect();
      await run.capture.stop();
      await run.local.close();
    }
    this.#started = false;
    this.#log.info({ event: 'engine.stopped' }, 'sync engine stopped');
  }
}

/** A set-aside change as the status shows it. */
function quarantineSummary(q: QuarantineRecord): SyncStatus['quarantine']['latest'][number] {
  return { collection: q.collection, documentId: JSON.stringify(q.documentId), reason: q.reason, at: q.at.getTime() };
}

export function createSyncEngine(config: SyncConfig, options: SyncEngineOptions = {}): SyncEngine {
  return new SyncEngine(config, options);
}
