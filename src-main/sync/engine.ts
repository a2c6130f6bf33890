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
import { PolicyTable, widened, type CollectionPolicy } from './core/policy.ts';
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
import type { ConflictPage, ConflictQuery, ConflictRecord, QuarantineRecord } from './till/records.ts';
import type { Lease, LeaseHolder } from './till/lease.ts';
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
/** The oplog window changes slowly; measuring it is a few queries. */
const OPLOG_CHECK_EVERY_MS = 30_000;
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
}

export class SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly config: SyncConfig;
  readonly #log: Logger;
  #run: Running | undefined;
  /** Made once the device id is known; kept after stop for the last status. */
  #tracker: StatusTracker | undefined;
  #lease: Lease | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  /** Wakes a wait for the lease (stop). */
  #wakeLeaseWait: (() => void) | undefined;
  /** Between start and stop (after stop, `#run` stays for the last status). */
  #started = false;
  #deviceId = '';
  #policies: PolicyTable;
  #enabled = true;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #state: SyncState = 'starting';
  #lastStatus: SyncStatus | undefined;
  #captureCommits = 0;
  readonly #offsets = new ClockOffsets();
  #clockWatch: ClockWatch;
  #leaseLost = false;
  #oplogCheckedAt = 0;
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
    this.#deviceId = await store.deviceId(this.config.deviceId);
    if (this.config.deviceId && this.config.deviceId !== this.#deviceId) {
      this.#log.warn(
        { event: 'engine.device-id-kept', configured: this.config.deviceId, kept: this.#deviceId },
        'this till already has a device id; keeping it',
      );
    }
    this.#enabled = await store.loadEnabled();
    this.#tracker = new StatusTracker(this.#deviceId);
    const lease = store.lease(this.#deviceId, this.config.leaseTtlMs);
    this.#lease = lease;
    if (!(await this.#waitForLease(lease))) {
      await local.close();
      return;
    }
    const offsets = this.#offsets;
    const kept = await store.loadHubClockOffset();
    if (kept !== null) offsets.seedHub(kept);
    await offsets.measureLocal(local);
    const clock = new HybridClock(this.#deviceId, {
      maxDriftMs: this.config.maxClockDriftMs,
      last: await this.#restoredClock(store),
      now: () => offsets.hubNow(),
    });
    const tracker = this.#tracker;
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
    // Policies changed while the engine was stopped (a new config file): a widened collection is compared.
    const applied = await store.loadPolicies();
    if (applied) {
      const before = new PolicyTable(applied);
      await this.#compareWidened({ store, pull }, before, [...Object.keys(applied), ...Object.keys(this.config.collections)]);
    }
    await store.savePolicies(Object.fromEntries(this.#policies.entries()));
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
    this.#run = { local, store, tracker, capture, push, pull, link, heartbeat };
    this.#started = true;
    this.#log.info(
      { event: 'engine.started', device: this.#deviceId, enabled: this.#enabled, database: this.config.database },
      'sync engine started',
    );
    if (this.#enabled) link.connect();
    heartbeat.start();
    this.#leaseTimer = setInterval(() => void this.#renewLease(), Math.max(250, Math.floor(lease.ttlMs / 3)));
    this.#leaseTimer.unref();
    this.#timer = setInterval(() => void this.#refresh(), this.config.statusIntervalMs);
    this.#timer.unref();
    await this.#refresh();
  }

  /**
   * Takes the one-engine-per-till lease, waiting (and saying who holds it) while another engine on
   * this till holds it. False when stopped while waiting.
   */
  async #waitForLease(lease: Lease): Promise<boolean> {
    let told: string | undefined;
    for (;;) {
      const attempt = await lease.acquire();
      if (attempt.held) {
        this.#tracker?.warn('another-engine', null);
        if (told) this.#log.info({ event: 'engine.lease-taken' }, 'the other TillSync stopped; this one syncs this till now');
        return true;
      }
      if (this.#stopping) return false;
      const by = attempt.by;
      if (told !== by.holder) {
        told = by.holder;
        this.#log.warn(
          { event: 'engine.lease-held', device: by.device, host: by.host, pid: by.pid, since: by.since },
          'another TillSync is syncing this till; waiting',
        );
      }
      this.#tracker?.warn('another-engine', anotherEngineWords(by));
      this.emit('status', this.status());
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(5_000, Math.max(200, Math.floor(lease.ttlMs / 2))));
        this.#wakeLeaseWait = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeLeaseWait = undefined;
      if (this.#stopping) return false;
    }
  }

  /**
   * Keeps the lease. Lost (it lapsed while this engine could not renew it, and another engine took
   * over): this engine stops syncing at once and waits to take it back.
   */
  async #renewLease(): Promise<void> {
    const run = this.#run;
    const lease = this.#lease;
    if (!run || !lease || this.#stopping || this.#leaseLost) return;
    let held: boolean;
    try {
      held = await lease.renew();
    } catch {
      return; // the till's database did not answer: nobody else can take the lease before it lapses
    }
    if (held) return;
    this.#leaseLost = true;
    this.#log.error({ event: 'engine.lease-lost' }, 'another TillSync took over this till; this one stops syncing and waits');
    await run.link.disconnect();
    await run.capture.stop();
    if (!(await this.#waitForLease(lease))) return;
    this.#leaseLost = false;
    await run.capture.start();
    if (this.#enabled) run.link.connect();
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
    for (const r of records) {
      this.#log.warn(
        { event: 'engine.quarantined', collection: r.collection, reason: r.reason },
        'a change could not be applied and was set aside',
      );
      this.emit('quarantine', r);
    }
  }

  /** The status tick: reads what the status needs, does the slow housekeeping when due, and reports. */
  async #refresh(): Promise<void> {
    const run = this.#run;
    if (!run) return;
    const { store, tracker, link } = run;
    try {
      const readStarted = tracker.outboxReadStarted();
      const { depth, oldest } = await store.outbox.stats();
      tracker.outbox(depth, oldest?.getTime() ?? null, readStarted);
      tracker.conflicts(await store.conflicts.count());
      const quarantineCount = await store.quarantine.count();
      const latest = quarantineCount === 0 ? [] : await store.quarantine.latest(5);
      tracker.quarantined({
        count: quarantineCount,
        latest: latest.map((q) => ({
          collection: q.collection,
          documentId: JSON.stringify(q.documentId),
          reason: q.reason,
          at: q.at.getTime(),
        })),
      });
      // Versions refused as too far ahead are compared again now and then, so none stays set aside for good.
      const recheckMs = Math.min(AHEAD_RECHECK_MAX_MS, Math.max(2_000, this.config.maxClockDriftMs));
      if (this.#aheadSince !== undefined && Date.now() - this.#aheadCheckedAt > recheckMs && !this.status().reconciliation) {
        this.#aheadCheckedAt = Date.now();
        run.pull.requestReconcile();
      }
      if (Date.now() - this.#oplogCheckedAt > OPLOG_CHECK_EVERY_MS) {
        this.#oplogCheckedAt = Date.now();
        await this.#pruneTombstones();
        tracker.oplogHeadroom(await oplogHeadroomHours(store.client));
      }
      tracker.fatal('local', null);
    } catch (err) {
      this.#onError(err, 'local', 'local');
    }
    await this.#clockWatch.check(run.local, store, link.hub?.client, tracker, false);
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
      return (this.#tracker ?? new StatusTracker(this.#deviceId || 'unknown')).snapshot(
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

  /**
   * Changes collection policies; they take effect for the next change, without a restart. A
   * collection that now syncs further (local-only to both, say) is compared with the hub first, so
   * what was written before the change is not left behind.
   */
  async setPolicies(policies: Record<string, Partial<CollectionPolicy>>): Promise<void> {
    const before = this.#policies;
    this.#policies = before.with(policies);
    const run = this.#run;
    if (!run) return;
    await run.store.savePolicies(Object.fromEntries(this.#policies.entries()));
    await this.#compareWidened(run, before, Object.keys(policies));
  }

  /** Owes (durably) and asks for a comparison of the collections `before` synced less than the policies now. */
  async #compareWidened(run: Pick<Running, 'store' | 'pull'>, before: PolicyTable, collections: Iterable<string>): Promise<void> {
    const more = widened(before, this.#policies, collections);
    if (more.length === 0) return;
    this.#log.info({ event: 'engine.policy-widened', collections: more }, 'collections sync further now; comparing them with the hub');
    await run.store.checkpoints.oweComparison(more);
    run.pull.requestCompare(more);
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
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    this.#wakeLeaseWait?.();
    const run = this.#run;
    if (run) {
      await run.heartbeat.stop(); // a last beat saying "stopped", while the hub is still connected
      await run.link.disconnect();
      await run.capture.stop();
      await this.#lease?.release().catch(() => undefined); // a waiting engine takes over at once
      await run.local.close();
    }
    this.#started = false;
    this.#log.info({ event: 'engine.stopped' }, 'sync engine stopped');
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

export function createSyncEngine(config: SyncConfig, options: SyncEngineOptions = {}): SyncEngine {
  return new SyncEngine(config, options);
}
