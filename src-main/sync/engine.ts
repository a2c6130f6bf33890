/**
 * The sync engine: the composition root. It connects to the till's database,
 * takes the one-engine-per-till lease, builds the running parts (capture, push,
 * pull and the hub link: engine/parts.ts) and keeps the status (the tick:
 * engine/status-tick.ts). Free of
 * Electron: the desktop app and the headless agent both use `createSyncEngine`.
 *
 * The driver can stay stuck on dead connections after the server dropped them
 * (it keeps failing server selection while a fresh client connects at once).
 * The hub link replaces its client when the hub stays unreachable; the engine
 * does the same for the till's database: when it has been unreachable for a
 * while but a fresh connection answers, the parts are rebuilt on a new one
 * (engine/rebuild.ts, which also rebuilds them once a lost lease is back).
 */
import { EventEmitter } from 'node:events';
import type { SyncErrorInfo, SyncState, SyncStatus } from '../../src-shared/status.ts';
import { Backoff } from './backoff.ts';
import { ClockOffsets } from './clock-offset.ts';
import { ClockWatch } from './clock-watch.ts';
import type { SyncConfig } from './config.ts';
import { PolicyTable, type CollectionPolicy } from './core/policy.ts';
import type { EngineView } from './engine/engine-view.ts';
import { compareWidened, connectLocal, openParts, type Parts } from './engine/parts.ts';
import { LeaseKeeper } from './engine/lease-keeper.ts';
import { Rebuilder } from './engine/rebuild.ts';
import { StaffActions } from './engine/staff-actions.ts';
import { Housekeeping } from './engine/housekeeping.ts';
import { Reports } from './engine/reports.ts';
import { StatusTick } from './engine/status-tick.ts';
import { SyncError } from './errors.ts';
import { countRecent, Heartbeat } from './heartbeat.ts';
import { silentLogger, type Logger } from './log.ts';
import { StatusTracker } from './status-tracker.ts';
import type { ConflictPage, ConflictQuery, ConflictRecord, QuarantineRecord } from './till/records.ts';
import { TillHistory } from './till/retention.ts';

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

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly config: SyncConfig;
  readonly #log: Logger;
  #run: Parts | undefined;
  /** Made once the device id is known; kept after stop for the last status. */
  #tracker: StatusTracker | undefined;
  #lease: LeaseKeeper | undefined;
  #heartbeat: Heartbeat | undefined;
  /** Between start and stop. */
  #started = false;
  #deviceId = '';
  #policies: PolicyTable;
  #enabled = true;
  #stopping = false;
  #timers: NodeJS.Timeout[] = [];
  readonly #offsets = new ClockOffsets();
  readonly #clockWatch: ClockWatch;
  /** Rebuilds the parts on a new connection to the till's database (lease lost and taken back, or a stuck connection). */
  readonly #rebuilder: Rebuilder;
  readonly #housekeeping: Housekeeping;
  readonly #reports: Reports;
  readonly #staff: StaffActions;
  readonly #tick: StatusTick;

  constructor(config: SyncConfig, options: SyncEngineOptions = {}) {
    super();
    this.config = config;
    this.#log = (options.log ?? silentLogger).child({ component: 'sync-engine' });
    this.#reports = new Reports({
      tracker: () => this.#tracker,
      log: this.#log,
      syncError: (info) => this.emit('sync-error', info),
      conflict: (record) => this.emit('conflict', record),
      quarantine: (record) => this.emit('quarantine', record),
    });
    this.#policies = new PolicyTable(config.collections);
    this.#clockWatch = new ClockWatch(this.#offsets, this.#log);
    const view: EngineView = {
      config,
      log: this.#log,
      reports: this.#reports,
      parts: () => this.#run,
      tracker: () => this.#tracker,
      stopping: () => this.#stopping,
    };
    this.#housekeeping = new Housekeeping({
      ...view,
      parts: () => (this.#rebuilder.underway ? undefined : this.#run),
      busy: () => this.#rebuilder.underway !== undefined || (this.#run?.capture.busy ?? true) || this.status().state === 'syncing',
    });
    this.#rebuilder = new Rebuilder({
      ...view,
      lease: () => this.#lease,
      setParts: (parts) => (this.#run = parts),
      hooks: (tracker) => this.#hooks(tracker),
      enabled: () => this.#enabled,
      backoff: () => this.#backoff(),
      statusChanged: () => this.emit('status', this.status()),
    });
    this.#staff = new StaffActions({
      running: () => this.#running(),
      parts: () => this.#run,
      log: this.#log,
      refresh: () => this.#tick.run(true),
    });
    this.#tick = new StatusTick({
      ...view,
      housekeeping: this.#housekeeping,
      clockWatch: this.#clockWatch,
      rebuilder: this.#rebuilder,
      heartbeat: () => this.#heartbeat,
      status: () => this.status(),
      emitStatus: (status) => this.emit('status', status),
      emitState: (state, previous) => this.emit('state', state, previous),
    });
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
    const { local, store } = await connectLocal(this.config);
    await new TillHistory(store, this.config).init();
    this.#deviceId = await store.deviceId(this.config.deviceId);
    if (this.config.deviceId && this.config.deviceId !== this.#deviceId) {
      this.#log.warn(
        { event: 'engine.device-id-kept', configured: this.config.deviceId, kept: this.#deviceId },
        'this till already has a device id; keeping it',
      );
    }
    this.#enabled = await store.loadEnabled();
    const tracker = (this.#tracker = new StatusTracker(this.#deviceId));
    const lease = (this.#lease = new LeaseKeeper(this.#deviceId, this.config.leaseTtlMs, this.#log));
    if (!(await lease.take(store, tracker, () => this.emit('status', this.status())))) {
      await local.close();
      return;
    }
    this.#run = await openParts(local, store, this.#hooks(tracker));
    this.#started = true;
    this.#log.info(
      { event: 'engine.started', device: this.#deviceId, enabled: this.#enabled, database: this.config.database },
      'sync engine started',
    );
    if (this.#enabled) this.#run.link.connect();
    // One small document per till on the hub for head office's fleet view; it never delays sync.
    this.#heartbeat = new Heartbeat({
      hub: () => this.#run?.link.hub?.db,
      status: () => this.status(),
      device: this.config.device,
      log: this.#log,
      recent: async (since) => (this.#run ? countRecent(this.#run.store, since) : { conflicts: 0, setAside: 0 }),
      clockOffsetMs: () => -this.#offsets.localMs,
      everyMs: this.config.heartbeatIntervalMs,
    });
    this.#heartbeat.start();
    this.#every(lease.renewEveryMs, () => this.#rebuilder.renewLease());
    this.#every(this.config.statusIntervalMs, () => this.#tick.run());
    await this.#tick.run(true);
    await this.#housekeeping.start();
  }

  #every(ms: number, fn: () => Promise<void>): void {
    const timer = setInterval(() => void fn(), ms);
    timer.unref();
    this.#timers.push(timer);
  }

  #hooks(tracker: StatusTracker): Parameters<typeof openParts>[2] {
    return {
      config: this.config,
      deviceId: this.#deviceId,
      log: this.#log.child({ device: this.#deviceId }),
      tracker,
      offsets: this.#offsets,
      clockWatch: this.#clockWatch,
      policies: () => this.#policies,
      linkWanted: () => this.#enabled && !this.#stopping,
      backoff: () => this.#backoff(),
      onError: (err, side, blocking, part) => this.#reports.error(err, side, blocking, part),
      onConflicts: (conflicts) => this.#reports.conflicts(conflicts),
      onQuarantined: (records) => this.#reports.quarantined(records),
      onReconciled: (summary) => this.#reports.reconciled(summary),
      refresh: () => void this.#tick.run(),
    };
  }

  status(): SyncStatus {
    const run = this.#run;
    const tracker = this.#tracker ?? new StatusTracker(this.#deviceId || 'unknown');
    return tracker.snapshot(
      {
        enabled: this.#enabled,
        started: this.#started && run !== undefined,
        hubConnected: run?.link.hub !== undefined,
        captureBusy: run?.capture.busy ?? false,
      },
      Date.now(),
    );
  }

  get lastStatus(): SyncStatus | undefined {
    return this.#tick.lastStatus;
  }

  /** The running parts; while they are being rebuilt, once they are up again. */
  async #running(): Promise<Parts> {
    if (this.#rebuilder.underway) await this.#rebuilder.underway;
    if (!this.#run || !this.#started) throw new SyncError('internal', 'the engine is not started');
    return this.#run;
  }

  /** Turns hub traffic on or off; the choice is kept across restarts. Capture goes on either way. */
  async setEnabled(enabled: boolean): Promise<void> {
    const { store, link } = await this.#running();
    await store.saveEnabled(enabled);
    this.#enabled = enabled;
    if (!enabled) await this.#heartbeat?.beatNow(); // the fleet sees "paused" before the hub goes
    this.#log.info({ event: 'engine.enabled', enabled }, enabled ? 'sync enabled' : 'sync paused');
    if (enabled) link.connect();
    else await link.disconnect();
    await this.#tick.run(true);
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Changes collection policies; they take effect for the next change, without a restart. A
   * collection that now syncs further (local-only to both, say) is compared with the hub first, so
   * what was written before the change is not left behind.
   */
  async setPolicies(policies: Record<string, Partial<CollectionPolicy>>): Promise<void> {
    const before = this.#policies;
    this.#policies = before.with(policies);
    if (!this.#run) return;
    const { store, pull } = await this.#running();
    await store.savePolicies(Object.fromEntries(this.#policies.entries()));
    await compareWidened(store, pull, before, this.#policies, Object.keys(policies), this.#log);
  }

  get policies(): PolicyTable {
    return this.#policies;
  }

  /** The conflict log, a page at a time (engine/staff-actions.ts). */
  listConflicts(query: ConflictQuery = {}): Promise<ConflictPage> {
    return this.#staff.listConflicts(query);
  }

  /** One conflict by its id (the hex string of its `_id`); null when there is none. */
  getConflict(id: string): Promise<ConflictRecord | null> {
    return this.#staff.getConflict(id);
  }

  /**
   * Applies a conflict's losing version as a new write on this till, so it wins everywhere once
   * pushed (engine/staff-actions.ts). Returns the updated record.
   */
  reapplyConflictLoser(id: string): Promise<ConflictRecord> {
    return this.#staff.reapplyConflictLoser(id);
  }

  /** Tries a change set aside again, once its cause is fixed (engine/staff-actions.ts). */
  retrySetAside(id: string): Promise<void> {
    return this.#staff.handleSetAside(id, 'retry');
  }

  /** Discards a change set aside (engine/staff-actions.ts). */
  discardSetAside(id: string): Promise<void> {
    return this.#staff.handleSetAside(id, 'discard');
  }

  /** Stops cleanly: streams closed, checkpoints written, connections closed. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#housekeeping.stop();
    await this.#rebuilder.underway;
    const run = this.#run;
    await this.#heartbeat?.stop(); // a last beat saying "stopped", while the hub is still connected
    if (run) {
      await run.link.disconnect();
      await run.capture.stop();
    }
    await this.#lease?.release(run?.store); // a waiting engine takes over at once
    await run?.local.close();
    this.#started = false;
    this.#log.info({ event: 'engine.stopped' }, 'sync engine stopped');
  }
}

export function createSyncEngine(config: SyncConfig, options: SyncEngineOptions = {}): SyncEngine {
  return new SyncEngine(config, options);
}
