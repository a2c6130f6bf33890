/**
 * The sync engine: capture, push and pull wired together, with state, status
 * and events. Free of Electron: the desktop app and the headless agent both
 * use `createSyncEngine`.
 */
import { EventEmitter } from 'node:events';
import { MongoClient, ObjectId, type Document } from 'mongodb';
import type { SyncErrorInfo, SyncState, SyncStatus } from '../../src-shared/status.ts';
import { abortAbandonedTransactions } from './abandoned.ts';
import { Backoff } from './backoff.ts';
import { Capture } from './capture.ts';
import type { SyncConfig } from './config.ts';
import { describeError, isUnreachable, SyncError } from './errors.ts';
import { decodeVersion, HybridClock, maxVersion, type Version } from './hlc.ts';
import { Hub } from './hub.ts';
import { LocalStore, type ConflictRecord, type QuarantineRecord } from './local-store.ts';
import { silentLogger, type Logger } from './log.ts';
import { oplogHeadroomHours } from './oplog-headroom.ts';
import { PolicyTable, type CollectionPolicy } from './policy.ts';
import { Pull } from './pull.ts';
import { Push } from './push.ts';
import { OutboxWatch } from './outbox-watch.ts';
import { StatusTracker, type HubPart } from './status-tracker.ts';
import { ClockOffsets } from './clock-offset.ts';
import { countRecent, Heartbeat } from './heartbeat.ts';

export interface SyncEngineEvents {
  status: [SyncStatus];
  state: [SyncState, SyncState];
  conflict: [ConflictRecord];
  /** A problem the engine recovers from (named so, not 'error', so an unheard one never throws). */
  'sync-error': [SyncErrorInfo];
  quarantine: [QuarantineRecord];
}

export interface ConflictQuery {
  collection?: string;
  /** 0-based page, newest first. */
  page?: number;
  pageSize?: number;
}

export interface ConflictPage {
  total: number;
  items: ConflictRecord[];
}

export interface SyncEngineOptions {
  log?: Logger;
}

/** The till-side client's appName: one engine per till, so a later run can find an earlier run's transactions. */
const LOCAL_APP_NAME = 'tillsync-engine';
const HUB_APP_NAME_PREFIX = 'tillsync-engine-';

/** A hub unreachable this long gets a fresh client: a driver stuck on dead connections recovers. */
const HUB_RECONNECT_AFTER_MS = 30_000;

/** The oplog window changes slowly; measuring it is a few queries. */
const OPLOG_CHECK_EVERY_MS = 30_000;
const HUB_CLOCK_CHECK_EVERY_MS = 5_000;
const HUB_CLOCK_SAVE_EVERY_MS = 60_000;
/** A till clock this far from the hub's gets a warning in the status. */
const CLOCK_WARN_MS = 60_000;

/** At most how often versions refused as too far ahead are compared again (a full reconciliation). */
const AHEAD_RECHECK_MAX_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SyncEngine extends EventEmitter<SyncEngineEvents> {
  readonly config: SyncConfig;
  readonly #log: Logger;
  #local: MongoClient | undefined;
  #store: LocalStore | undefined;
  #deviceId = '';
  #clock: HybridClock | undefined;
  #policies: PolicyTable;
  #tracker: StatusTracker | undefined;
  #capture: Capture | undefined;
  #push: Push | undefined;
  #pull: Pull | undefined;
  #hub: Hub | undefined;
  #hubConnecting: Promise<void> | undefined;
  #enabled = true;
  #started = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #state: SyncState = 'starting';
  #lastStatus: SyncStatus | undefined;
  #captureCommits = 0;
  readonly #offsets = new ClockOffsets();
  #hubClockCheckedAt = 0;
  #hubClockSavedAt = 0;
  #clockWarned = false;
  /** When the hub client was last replaced because the hub stayed unreachable. */
  #hubRenewedAt = 0;
  #oplogCheckedAt = 0;
  /** Since when hub versions too far ahead of this till's clock wait to be compared again. */
  #aheadSince: number | undefined;
  #aheadCheckedAt = 0;
  #heartbeat: Heartbeat | undefined;

  constructor(config: SyncConfig, options: SyncEngineOptions = {}) {
    super();
    this.config = config;
    this.#log = (options.log ?? silentLogger).child({ component: 'sync-engine' });
    this.#policies = new PolicyTable(config.collections);
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
    if (this.#started || this.#local) return;
    // A socket timeout so an answer that never comes (a server that hung or dropped the request) fails
    // the operation and sync retries, instead of waiting for ever; no engine operation takes near as long.
    const local = new MongoClient(this.config.local.uri, {
      appName: LOCAL_APP_NAME,
      serverSelectionTimeoutMS: 10_000,
      socketTimeoutMS: 30_000,
    });
    await local.connect();
    this.#local = local;
    await this.#cleanUpAfterCrash(local, LOCAL_APP_NAME);
    const store = new LocalStore(local, this.config.database, this.config.engineDatabase);
    await store.init();
    this.#store = store;
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
    this.#clock = new HybridClock(this.#deviceId, {
      maxDriftMs: this.config.maxClockDriftMs,
      last: await this.#restoredClock(store),
      now: () => offsets.hubNow(),
    });
    const tracker = new StatusTracker(this.#deviceId);
    this.#tracker = tracker;
    const log = this.#log.child({ device: this.#deviceId });
    const outboxWatch = new OutboxWatch();
    this.#capture = new Capture({
      store,
      outboxWatch,
      clock: this.#clock,
      offsets,
      deviceId: this.#deviceId,
      policies: () => this.#policies,
      log,
      batchSize: this.config.batchSize,
      onCommitted: (count, wallTimes) => {
        this.#captureCommits += 1;
        tracker.fatal('capture', null);
        tracker.captured(Date.now());
        if (count > 0) tracker.outboxGrew(count, Math.min(...wallTimes.map((w) => w.getTime())));
        if (count > 0) this.#push?.wake();
      },
      onError: (err, fatal) => this.#onError(err, 'local', fatal ? 'capture' : undefined),
      delay: this.#backoff(),
      onHistoryLost: () => {
        tracker.fatal('capture', null);
        this.#pull?.requestReconcile();
      },
    });
    this.#push = new Push({
      store,
      outboxWatch,
      deviceId: this.#deviceId,
      policies: () => this.#policies,
      log,
      batchSize: this.config.batchSize,
      hub: () => this.#hub,
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
    this.#pull = new Pull({
      store,
      outboxWatch,
      deviceId: this.#deviceId,
      clock: this.#clock,
      policies: () => this.#policies,
      log,
      batchSize: this.config.batchSize,
      hub: () => this.#hub,
      captureSettled: () => this.#captureSettled(),
      onApplied: (ops) => {
        tracker.fatal('pull', null);
        tracker.pulled(
          ops.map((op) => op.wall.getTime()),
          Date.now(),
        );
      },
      onCaughtUp: (value) => {
        // Not a sign the hub client is healthy: the pull's stream can keep working while every push fails.
        tracker.caughtUp(value, Date.now());
      },
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
      enqueuePush: async (changes) => {
        if (!this.#capture) throw new SyncError('internal', 'capture is not running');
        await this.#capture.enqueue(changes);
      },
    });
    await this.#capture.start();
    this.#started = true;
    this.#log.info(
      { event: 'engine.started', device: this.#deviceId, enabled: this.#enabled, database: this.config.database },
      'sync engine started',
    );
    if (this.#enabled) this.#connectHub();
    this.#heartbeat = new Heartbeat({
      hub: () => this.#hub?.db,
      status: () => this.status(),
      device: this.config.device,
      log,
      recent: (since) => countRecent(store, since),
      clockOffsetMs: () => -offsets.localMs,
      everyMs: this.config.heartbeatIntervalMs,
    });
    this.#heartbeat.start();
    this.#timer = setInterval(() => void this.#refresh(), this.config.statusIntervalMs);
    this.#timer.unref();
    await this.#refresh();
  }

  /** Forgets hub deletes older than the retention (any till may do it; it is idempotent). */
  async #pruneTombstones(): Promise<void> {
    const hub = this.#hub;
    if (!hub) return;
    const before = new Date(Date.now() - this.config.tombstoneRetentionDays * 86_400_000);
    try {
      const { deletedCount } = await hub.tombstones.deleteMany({ at: { $lt: before } });
      if (deletedCount > 0) this.#log.info({ event: 'engine.tombstones-pruned', count: deletedCount }, 'forgot old deletes on the hub');
    } catch (err) {
      this.#log.debug({ event: 'engine.tombstone-prune-failed', error: String(err) }, 'could not prune tombstones; will try later');
    }
  }

  /**
   * Reads this till's clock (every refresh) and the hub's (every few seconds,
   * or now), keeps the hub reading for a restart, and warns when the till's
   * clock is far off.
   */
  async #checkClocks(hubNow: boolean): Promise<void> {
    const local = this.#local;
    const store = this.#store;
    if (!local || !store) return;
    try {
      await this.#offsets.measureLocal(local);
      const hub = this.#hub;
      if (hub && (hubNow || Date.now() - this.#hubClockCheckedAt > HUB_CLOCK_CHECK_EVERY_MS)) {
        this.#hubClockCheckedAt = Date.now();
        await this.#offsets.measureHub(hub.client);
        const reading = this.#offsets.hubReading;
        if (reading !== undefined && Date.now() - this.#hubClockSavedAt > HUB_CLOCK_SAVE_EVERY_MS) {
          this.#hubClockSavedAt = Date.now();
          await store.saveHubClockOffset(reading);
        }
      }
    } catch (err) {
      this.#log.debug({ event: 'engine.clock-check-failed', error: String(err) }, 'could not compare clocks; will try again');
    }
    const off = -this.#offsets.localMs; // this till's clock minus the hub's
    const was = this.#clockWarned;
    this.#clockWarned = Math.abs(off) >= CLOCK_WARN_MS;
    this.#tracker?.warn(
      'till-clock',
      this.#clockWarned
        ? `This till's clock is ${describeDuration(Math.abs(off))} ${off > 0 ? 'fast' : 'slow'} compared with head office. ` +
            "Sync uses head office's time, so changes still sync in the right order; set the till's date and time when you can."
        : null,
    );
    if (this.#clockWarned !== was) {
      this.#log.warn(
        { event: 'engine.till-clock', offsetMs: off },
        this.#clockWarned ? "this till's clock is off; using head office's time" : "this till's clock agrees with head office again",
      );
    }
  }

  /** The newest clock either checkpoint saved, so a restart never hands out an older version. */
  async #restoredClock(store: LocalStore): Promise<Version | undefined> {
    let last: Version | undefined;
    for (const name of ['capture', 'pull'] as const) {
      const clock = (await store.loadCheckpoint(name))?.clock;
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

  #connectHub(): void {
    if (this.#hubConnecting || this.#hub) return;
    const backoff = this.#backoff();
    this.#hubConnecting = (async () => {
      for (let attempt = 0; this.#enabled && !this.#stopping && !this.#hub; attempt += 1) {
        try {
          const appName = `${HUB_APP_NAME_PREFIX}${this.#deviceId}`;
          const hub = await Hub.connect(this.config.hub.uri, this.config.database, appName);
          await this.#cleanUpAfterCrash(hub.client, appName);
          if (!this.#enabled || this.#stopping) {
            await hub.close();
            break;
          }
          this.#hub = hub;
          this.#tracker?.reachable('connect');
          await this.#checkClocks(true);
          this.#log.info({ event: 'engine.hub-connected' }, 'connected to the hub');
          await this.#pull?.start();
          this.#push?.start();
          this.#push?.wake();
        } catch (err) {
          this.#onError(err, 'hub', undefined, 'connect');
          await backoff(attempt);
        }
      }
    })().finally(() => {
      this.#hubConnecting = undefined;
      void this.#refresh();
    });
  }

  async #disconnectHub(): Promise<void> {
    await this.#hubConnecting;
    const hub = this.#hub;
    this.#hub = undefined;
    // Closing first makes any hub operation in flight fail at once, so the loops stop promptly.
    const stopping = Promise.all([this.#push?.stop(), this.#pull?.stop()]);
    await hub?.close();
    await stopping;
  }

  /**
   * Records a problem; `blocking` names the part that cannot go on until it
   * clears (state 'error'); `part` which hub-facing part met it.
   */
  #onError(err: unknown, side: 'hub' | 'local', blocking?: string, part?: HubPart): void {
    const described = err instanceof SyncError ? err : describeError(err, side);
    const info = described.toInfo();
    if (side === 'hub' && part && isUnreachable(err)) {
      this.#tracker?.unreachable(part, info, Date.now());
    } else if (blocking) this.#tracker?.fatal(blocking, info);
    else this.#tracker?.failed(info);
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
      this.#tracker?.warn(
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

  async #refresh(): Promise<void> {
    const store = this.#store;
    const tracker = this.#tracker;
    if (!store || !tracker) return;
    try {
      const readStarted = tracker.outboxReadStarted();
      const { depth, oldest } = await store.outboxStats();
      tracker.outbox(depth, oldest?.getTime() ?? null, readStarted);
      tracker.conflicts(await store.conflicts.estimatedDocumentCount());
      const quarantineCount = await store.quarantine.estimatedDocumentCount();
      const latest = quarantineCount === 0 ? [] : await store.quarantine.find({}).sort({ at: -1 }).limit(5).toArray();
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
        this.#pull?.requestReconcile();
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
    await this.#checkClocks(false);
    const failingSince = tracker.unreachableSince();
    const now = Date.now();
    if (
      this.#hub &&
      failingSince !== undefined &&
      now - Math.max(failingSince, this.#hubRenewedAt) > HUB_RECONNECT_AFTER_MS &&
      !this.#stopping
    ) {
      this.#hubRenewedAt = now;
      this.#log.info({ event: 'engine.hub-reconnect' }, 'the hub has been unreachable for a while; reconnecting from scratch');
      await this.#disconnectHub();
      if (this.#enabled && !this.#stopping) this.#connectHub();
    }
    const status = this.status();
    this.#lastStatus = status;
    if (status.state !== this.#state) {
      const previous = this.#state;
      this.#state = status.state;
      this.#log.info({ event: 'engine.state', from: previous, to: status.state, outbox: status.outbox.depth }, `sync is ${status.state}`);
      this.emit('state', status.state, previous);
      this.#heartbeat?.stateChanged(status.state);
    }
    this.emit('status', status);
  }

  status(): SyncStatus {
    const tracker = this.#tracker;
    if (!tracker) {
      return new StatusTracker(this.#deviceId || 'unknown').snapshot(
        { enabled: this.#enabled, started: false, hubConnected: false, captureBusy: false },
        Date.now(),
      );
    }
    return tracker.snapshot(
      { enabled: this.#enabled, started: this.#started, hubConnected: this.#hub !== undefined, captureBusy: this.#capture?.busy ?? false },
      Date.now(),
    );
  }

  get lastStatus(): SyncStatus | undefined {
    return this.#lastStatus;
  }

  /** Turns hub traffic on or off; the choice is kept across restarts. Capture goes on either way. */
  async setEnabled(enabled: boolean): Promise<void> {
    if (!this.#store) throw new SyncError('internal', 'the engine is not started');
    await this.#store.saveEnabled(enabled);
    this.#enabled = enabled;
    if (!enabled) await this.#heartbeat?.beatNow(); // the fleet sees "paused" before the hub goes
    this.#log.info({ event: 'engine.enabled', enabled }, enabled ? 'sync enabled' : 'sync paused');
    if (enabled) this.#connectHub();
    else await this.#disconnectHub();
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
    if (!this.#store) throw new SyncError('internal', 'the engine is not started');
    const filter: Document = query.collection ? { collection: query.collection } : {};
    const pageSize = Math.min(Math.max(query.pageSize ?? 20, 1), 200);
    const page = Math.max(query.page ?? 0, 0);
    const [total, items] = await Promise.all([
      this.#store.conflicts.countDocuments(filter),
      this.#store.conflicts
        .find(filter)
        .sort({ at: -1, _id: -1 })
        .skip(page * pageSize)
        .limit(pageSize)
        .toArray(),
    ]);
    return { total: Number(total), items };
  }

  /** One conflict by its id (the hex string of its `_id`); null when there is none. */
  async getConflict(id: string): Promise<ConflictRecord | null> {
    if (!this.#store) throw new SyncError('internal', 'the engine is not started');
    if (!ObjectId.isValid(id) || id.length !== 24) return null;
    return this.#store.conflicts.findOne({ _id: new ObjectId(id) });
  }

  /**
   * Applies a conflict's losing version as a new write on this till: capture
   * gives it a new version, so it wins everywhere once pushed. A losing delete
   * deletes the document. Returns the updated record.
   */
  async reapplyConflictLoser(id: string): Promise<ConflictRecord> {
    const store = this.#store;
    if (!store) throw new SyncError('internal', 'the engine is not started');
    const conflict = await this.getConflict(id);
    if (!conflict) throw new SyncError('not-found', `no conflict with id "${id}"`);
    const loser = conflict.winner === 'hub' ? conflict.local : conflict.hub;
    const coll = store.posCollection(conflict.collection);
    if (loser.document) {
      const { _id: _ignored, ...fields } = loser.document;
      await coll.replaceOne({ _id: conflict.documentId }, fields, { upsert: true });
    } else {
      await coll.deleteOne({ _id: conflict.documentId });
    }
    const reappliedAt = new Date();
    await store.conflicts.updateOne({ _id: conflict._id }, { $set: { reappliedAt } });
    this.#log.info({ event: 'engine.conflict-reapplied', collection: conflict.collection }, 'losing version applied again');
    return { ...conflict, reappliedAt };
  }

  /** Stops cleanly: streams closed, checkpoints written, connections closed. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#heartbeat?.stop(); // a last beat saying "stopped", while the hub is still connected
    await this.#disconnectHub();
    await this.#capture?.stop();
    await this.#local?.close();
    this.#local = undefined;
    this.#started = false;
    this.#log.info({ event: 'engine.stopped' }, 'sync engine stopped');
  }
}

export function createSyncEngine(config: SyncConfig, options: SyncEngineOptions = {}): SyncEngine {
  return new SyncEngine(config, options);
}

/** "10 minutes", "45 seconds", "2 hours": a clock difference in words. */
function describeDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s} seconds`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} minutes`;
  return `${Math.round(m / 60)} hours`;
}
