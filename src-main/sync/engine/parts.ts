/**
 * The running parts of an engine on one connection to its till's database:
 * the clock, capture, push, pull and the hub link, wired to each other and to
 * the engine through `PartsHooks`. Built when the engine starts, and again
 * when it has to reconnect to the till's database from scratch.
 */
import { MongoClient, type MongoClientOptions } from 'mongodb';
import { cleanUpAfterCrash } from '../abandoned.ts';
import type { ClockOffsets } from '../clock-offset.ts';
import type { ClockWatch } from '../clock-watch.ts';
import type { SyncConfig } from '../config.ts';
import { decodeVersion, HybridClock, maxVersion, type Version } from '../core/hlc.ts';
import { PolicyTable, widened } from '../core/policy.ts';
import { Capture } from '../flows/capture.ts';
import { Pull } from '../flows/pull.ts';
import type { ReconcileSummary } from '../flows/reconcile.ts';
import { Push } from '../flows/push.ts';
import { HubLink } from '../hub-link.ts';
import type { Logger } from '../log.ts';
import { OutboxWatch } from '../outbox-watch.ts';
import type { HubPart, StatusTracker } from '../status-tracker.ts';
import type { ConflictRecord, QuarantineRecord } from '../till/records.ts';
import { TillStore } from '../till/store.ts';

export const HUB_APP_NAME_PREFIX = 'tillsync-engine-';
/** The till-side client's appName: one engine per till, so a later run can find an earlier run's transactions. */
const LOCAL_APP_NAME = 'tillsync-engine';

/** The till-side client's options (also what `npm run bench:idle` measures the driver's own cost at rest with). */
export const LOCAL_CLIENT_OPTIONS: MongoClientOptions = {
  appName: LOCAL_APP_NAME,
  serverSelectionTimeoutMS: 10_000,
  socketTimeoutMS: 30_000,
};

/**
 * A client for the till's database (with a socket timeout: an answer that never comes fails the
 * operation, and sync retries), and the till side on it.
 */
export async function connectLocal(config: SyncConfig): Promise<{ local: MongoClient; store: TillStore }> {
  const local = new MongoClient(config.local.uri, LOCAL_CLIENT_OPTIONS);
  await local.connect();
  const store = new TillStore(local, config.database, config.engineDatabase);
  await store.init();
  return { local, store };
}

export interface Parts {
  local: MongoClient;
  store: TillStore;
  clock: HybridClock;
  capture: Capture;
  push: Push;
  pull: Pull;
  link: HubLink;
}

/** What the parts need of the engine. */
export interface PartsHooks {
  config: SyncConfig;
  deviceId: string;
  log: Logger;
  tracker: StatusTracker;
  offsets: ClockOffsets;
  clockWatch: ClockWatch;
  policies(): PolicyTable;
  /** Whether the hub link should be up: sync enabled and the engine not stopping. */
  linkWanted(): boolean;
  backoff(): (attempt: number) => Promise<void>;
  onError(err: unknown, side: 'hub' | 'local', blocking?: string, part?: HubPart): void;
  onConflicts(conflicts: ConflictRecord[]): void;
  onQuarantined(records: QuarantineRecord[]): void;
  onReconciled(summary: ReconcileSummary): void;
  refresh(): void;
}

/**
 * Builds and starts capture (the hub-facing loops start when the link connects). Called only while
 * this engine holds the till's lease: first it ends what an earlier run (this one's, or one that died
 * holding the lease) left open, which holds locks the parts need.
 */
export async function openParts(local: MongoClient, store: TillStore, h: PartsHooks): Promise<Parts> {
  const { tracker, offsets, log, deviceId } = h;
  await cleanUpAfterCrash(local, LOCAL_APP_NAME, log);
  const kept = await store.loadHubClockOffset();
  if (kept !== null) offsets.seedHub(kept);
  await offsets.measureLocal(local);
  const clock = new HybridClock(deviceId, {
    maxDriftMs: h.config.maxClockDriftMs,
    last: await restoredClock(store, deviceId),
    now: () => offsets.hubNow(),
  });
  let captureCommits = 0;
  /** Waits a moment so capture can take local changes made just before. */
  const captureSettled = async (): Promise<void> => {
    const before = captureCommits;
    const deadline = Date.now() + 1_000;
    while (Date.now() < deadline && captureCommits === before) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  const outboxWatch = new OutboxWatch();
  const common = { store, outboxWatch, policies: h.policies, log, batchSize: h.config.batchSize };
  const capture = new Capture({
    ...common,
    clock,
    offsets,
    deviceId,
    onConflicts: h.onConflicts,
    onQuarantined: h.onQuarantined,
    onCommitted: (count, wallTimes) => {
      captureCommits += 1;
      tracker.fatal('capture', null);
      tracker.captured(Date.now());
      if (count > 0) tracker.outboxGrew(count, Math.min(...wallTimes.map((w) => w.getTime())));
      if (count > 0) push.wake();
    },
    onError: (err, fatal) => h.onError(err, 'local', fatal ? 'capture' : undefined),
    delay: h.backoff(),
    onHistoryLost: () => {
      tracker.fatal('capture', null);
      pull.requestReconcile();
    },
  });
  const hubAppName = `${HUB_APP_NAME_PREFIX}${deviceId}`;
  const link = new HubLink({
    uri: h.config.hub.uri,
    database: h.config.database,
    appName: hubAppName,
    log,
    wanted: h.linkWanted,
    delay: h.backoff(),
    onConnected: async (hub) => {
      await cleanUpAfterCrash(hub.client, hubAppName, log);
      await hub.forgetPushed(deviceId);
      tracker.reachable('connect');
      await h.clockWatch.check(local, store, hub.client, tracker, { local: false, hub: true });
      log.info({ event: 'engine.hub-connected' }, 'connected to the hub');
      await pull.start();
      push.start();
      push.wake();
    },
    onDisconnecting: async () => {
      await Promise.all([push.stop(), pull.stop()]);
    },
    onError: (err) => h.onError(err, 'hub', undefined, 'connect'),
    onSettled: h.refresh,
  });
  const push = new Push({
    ...common,
    deviceId,
    hub: () => link.hub,
    onPushed: (accepted, settled) => {
      tracker.pushed(
        accepted.map((e) => e.wall.getTime()),
        Date.now(),
      );
      tracker.outboxShrank(settled);
    },
    onConflicts: h.onConflicts,
    onQuarantined: h.onQuarantined,
    recheck: (docs) => pull.recheck(docs),
    onError: (err) => h.onError(err, 'hub', undefined, 'push'),
    // Nothing left to send: push has no complaint about the hub (pull speaks for itself).
    onIdle: () => tracker.reachable('push'),
    delay: h.backoff(),
  });
  let reconciling = false;
  const pull = new Pull({
    ...common,
    deviceId,
    clock,
    hub: () => link.hub,
    captureSettled,
    onApplied: (ops) => {
      tracker.fatal('pull', null);
      tracker.pulled(
        ops.map((op) => op.wall.getTime()),
        Date.now(),
      );
    },
    // Not a sign the hub client is healthy: the pull's stream can keep working while every push fails.
    onCaughtUp: (value) => tracker.caughtUp(value, Date.now()),
    onConflicts: h.onConflicts,
    onQuarantined: h.onQuarantined,
    onError: (err, fatal) => h.onError(err, 'hub', fatal ? 'pull' : undefined, 'pull'),
    onHubResponse: () => tracker.reachable('pull'),
    delay: h.backoff(),
    onReconciled: h.onReconciled,
    onReconcile: (progress) => {
      // Announced once, when a comparison begins (its first progress report comes next, with the total).
      if (progress && !reconciling) log.info({ event: 'engine.reconcile-started' }, 'comparing this till with the hub');
      reconciling = progress !== null;
      tracker.reconciling(progress);
    },
    enqueuePush: (changes) => capture.enqueue(changes),
  });
  // Policies changed while the engine was stopped (a new configuration): a widened collection is compared.
  const applied = await store.loadPolicies();
  if (applied) {
    await compareWidened(
      store,
      pull,
      new PolicyTable(applied),
      h.policies(),
      [...Object.keys(applied), ...Object.keys(h.config.collections)],
      log,
    );
  }
  await store.savePolicies(Object.fromEntries(h.policies().entries()));
  await capture.start();
  return { local, store, clock, capture, push, pull, link };
}

/** Stops the parts: the hub link (and with it push and pull), then capture, then the connection. */
export async function closeParts(parts: Parts, force = false): Promise<void> {
  await parts.link.disconnect();
  await parts.capture.stop();
  await parts.local.close(force);
}

/** Owes (durably) and asks for a comparison of the collections `before` synced less than `after`. */
export async function compareWidened(
  store: TillStore,
  pull: Pull,
  before: PolicyTable,
  after: PolicyTable,
  collections: Iterable<string>,
  log: Logger,
): Promise<void> {
  const more = widened(before, after, collections);
  if (more.length === 0) return;
  log.info({ event: 'engine.policy-widened', collections: more }, 'collections sync further now; comparing them with the hub');
  await store.checkpoints.oweComparison(more);
  pull.requestCompare(more);
}

/** The newest clock either checkpoint saved, so a restart never hands out an older version. */
async function restoredClock(store: TillStore, deviceId: string): Promise<Version | undefined> {
  let last: Version | undefined;
  for (const name of ['capture', 'pull'] as const) {
    const clock = (await store.checkpoints.load(name))?.clock;
    if (clock) last = last ? maxVersion(last, decodeVersion(clock)) : decodeVersion(clock);
  }
  return last && { ...last, device: deviceId };
}
