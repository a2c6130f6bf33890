/**
 * What the dashboard talks to, free of Electron: the desktop app, the web
 * bridge and the demo all put `createIpcHandlers` over an `AppBackend`.
 *
 * The implementation owns one sync engine for the till and the settings
 * store. The engine needs a hub connection string; until one is set (or while
 * the till's database cannot be reached) the status says so in plain words.
 * Changing the hub connection string restarts the engine with the new config.
 */
import type {
  AppInfo,
  CommandArgs,
  ConflictPageView,
  ConflictView,
  EventPayloads,
  HubTestResult,
  Language,
  SettingsView,
} from '../../src-shared/ipc.ts';
import type { SyncErrorCode, SyncErrorInfo, SyncStatus } from '../../src-shared/status.ts';
import { ConfigError, parseSyncConfig, redactUri, type SyncConfig } from '../sync/config.ts';
import { createSyncEngine, type SyncEngine } from '../sync/engine.ts';
import { MemoryRelease } from '../sync/memory-release.ts';
import { describeError, SyncError } from '../sync/errors.ts';
import { silentLogger, type Logger } from '../sync/log.ts';
import { isEngineCollection } from '../sync/core/policy.ts';
import { AppError } from './app-error.ts';
import { toConflictView } from './conflict-view.ts';
import type { ConflictRecord } from '../sync/till/records.ts';
import { testHubConnection } from './hub-test.ts';
import { SettingsError, type SettingsStore } from './settings-store.ts';
import type { StartAtLogin } from './start-at-login.ts';
import { TypedEvents } from './typed-events.ts';

export interface AppBackend {
  info(): AppInfo;
  status(): SyncStatus;
  listConflicts(query: CommandArgs<'conflicts.list'>): Promise<ConflictPageView>;
  getConflict(id: string): Promise<ConflictView | null>;
  /** Writes the losing version again as a new change; the engine syncs it like any other. */
  applyLoser(id: string): Promise<ConflictView>;
  /** Tries a change set aside again, once its cause is fixed. */
  retrySetAside(id: string): Promise<SyncStatus>;
  /** Discards a change set aside. */
  discardSetAside(id: string): Promise<SyncStatus>;
  settings(): SettingsView;
  setEnabled(enabled: boolean): Promise<SettingsView>;
  setHubUri(uri: string): Promise<SettingsView>;
  testHub(uri?: string): Promise<HubTestResult>;
  setPolicy(policy: CommandArgs<'settings.setPolicy'>): Promise<SettingsView>;
  setStartAtLogin(enabled: boolean): Promise<SettingsView>;
  /** null: follow the till's locale. */
  setLanguage(language: Language | null): Promise<SettingsView>;
  on<E extends keyof EventPayloads>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
}

export interface EngineBackendOptions {
  settings: SettingsStore;
  /** The till's own mongod. */
  localUri: string;
  /** The POS database that syncs. */
  database: string;
  /** Extra engine settings (device id, retry delays, batch size...). */
  engine?: Record<string, unknown>;
  info: Omit<AppInfo, 'deviceId'>;
  log?: Logger;
  /**
   * The system's start-at-login (the autostart entry on Linux, the login item elsewhere); absent outside the
   * desktop app, where the setting is only remembered. When given, the settings show what it reads back.
   */
  startAtLogin?: StartAtLogin;
  /** How often status is pushed while no engine runs (the engine pushes its own). */
  statusEveryMs?: number;
  /** How long to wait before trying again when the engine could not start. */
  restartDelayMs?: number;
}

const NO_LAG = { lastMs: null, p50Ms: null, p95Ms: null };

function offStatus(deviceId: string, enabled: boolean, error: SyncErrorInfo | null): SyncStatus {
  // Built as a value first so a field the engine's status gains later (reconciliation) is no excess-property error meanwhile.
  const status = {
    state: (error ? 'error' : enabled ? 'starting' : 'disabled') as SyncStatus['state'],
    deviceId,
    enabled,
    lastSyncedAt: null,
    lag: { push: NO_LAG, pull: NO_LAG },
    lagSeries: [] as SyncStatus['lagSeries'],
    outbox: { depth: 0, oldestPendingAgeMs: null },
    rates: { pushPerSec: 0, pullPerSec: 0 },
    conflicts: { count: 0 },
    lastError: error,
    checkpointAgeMs: { capture: null, pull: null },
    oplogHeadroomHours: null,
    quarantine: { count: 0, latest: [] as SyncStatus['quarantine']['latest'] },
    warnings: [] as string[],
    reconciliation: null,
  };
  return status;
}

export class EngineBackend implements AppBackend {
  readonly #opts: EngineBackendOptions;
  readonly #log: Logger;
  readonly #events = new TypedEvents<EventPayloads>();
  #engine: SyncEngine | undefined;
  #detach: Array<() => void> = [];
  /** Why no engine runs, when none does. */
  #offReason: SyncErrorInfo | null = null;
  #deviceId = '';
  /** Engine restarts run one at a time, in order. */
  #restarting: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** What the system said about start-at-login when last asked (undefined: not asked, or no system to ask). */
  #startsAtLogin: boolean | undefined;
  /** What a burst of sync grew the heap to goes back once it is over. */
  readonly #memory: MemoryRelease;

  constructor(options: EngineBackendOptions) {
    this.#opts = options;
    this.#log = (options.log ?? silentLogger).child({ component: 'app-backend' });
    this.#memory = new MemoryRelease({ log: this.#log });
  }

  get engine(): SyncEngine | undefined {
    return this.#engine;
  }

  /** Reads start-at-login back from the system, then starts the engine (when a hub is set) and the status heartbeat. */
  async start(): Promise<void> {
    await this.#readStartAtLogin();
    this.#timer = setInterval(() => {
      if (!this.#engine?.lastStatus) this.#events.emit('status', this.status(), (err) => this.#listenerFailed(err));
    }, this.#opts.statusEveryMs ?? 1_000);
    this.#timer.unref();
    await this.#restart();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#memory.stop();
    await this.#restarting;
    await this.#stopEngine();
  }

  info(): AppInfo {
    return { ...this.#opts.info, deviceId: this.#engine?.deviceId || this.#deviceId };
  }

  status(): SyncStatus {
    const engine = this.#engine;
    if (engine) return engine.lastStatus ?? engine.status();
    return offStatus(this.#deviceId, this.#opts.settings.get().enabled, this.#offReason);
  }

  on<E extends keyof EventPayloads>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
    return this.#events.on(event, listener);
  }

  async listConflicts(query: CommandArgs<'conflicts.list'>): Promise<ConflictPageView> {
    const engine = this.#running();
    const page = await engine.listConflicts({ collection: query.collection, page: query.page, pageSize: query.pageSize });
    return { total: page.total, page: query.page, pageSize: query.pageSize, items: page.items.map(toConflictView) };
  }

  async getConflict(id: string): Promise<ConflictView | null> {
    const record = await this.#running().getConflict(id);
    return record ? toConflictView(record) : null;
  }

  async retrySetAside(id: string): Promise<SyncStatus> {
    await this.#setAsideAction(id, (engine) => engine.retrySetAside(id));
    return this.status();
  }

  async discardSetAside(id: string): Promise<SyncStatus> {
    await this.#setAsideAction(id, (engine) => engine.discardSetAside(id));
    return this.status();
  }

  async #setAsideAction(id: string, act: (engine: SyncEngine) => Promise<void>): Promise<void> {
    try {
      await act(this.#running());
    } catch (err) {
      if (err instanceof SyncError && err.reason === 'not-found') {
        throw new AppError('not-found', 'That change is no longer set aside (it may have been handled already).', 'id');
      }
      throw err;
    }
  }

  async applyLoser(id: string): Promise<ConflictView> {
    const engine = this.#running();
    if (!(await engine.getConflict(id)))
      throw new AppError('not-found', 'That conflict is not in this till’s history (it may have been cleared).', 'id');
    const record = await engine.reapplyConflictLoser(id);
    this.#log.info(
      { event: 'app.conflict-loser-reapplied', collection: record.collection },
      'the losing version of a conflict was applied again',
    );
    return toConflictView(record);
  }

  settings(): SettingsView {
    const view = this.#opts.settings.view();
    return this.#startsAtLogin === undefined ? view : { ...view, startAtLogin: this.#startsAtLogin };
  }

  async setEnabled(enabled: boolean): Promise<SettingsView> {
    await this.#save({ enabled });
    await this.#restarting;
    if (this.#engine && this.#engine.enabled !== enabled) await this.#engine.setEnabled(enabled);
    else if (!this.#engine) this.#events.emit('status', this.status());
    return this.#settingsChanged();
  }

  async setHubUri(uri: string): Promise<SettingsView> {
    this.#config(uri); // refuses a string the engine cannot use, before anything is saved
    await this.#save({ hubUri: uri });
    this.#log.info({ event: 'app.hub-changed', hub: redactUri(uri) }, 'hub connection string changed; restarting sync');
    // The restart runs on: the answer does not wait for the till's database or the hub.
    void this.#restart();
    return this.#settingsChanged();
  }

  async testHub(uri?: string): Promise<HubTestResult> {
    const target = uri ?? this.#opts.settings.get().hubUri;
    if (!target) return { ok: false, message: 'No hub connection string is set yet. Enter one and test it.' };
    return testHubConnection(target);
  }

  async setPolicy({ collection, mode, conflict }: CommandArgs<'settings.setPolicy'>): Promise<SettingsView> {
    if (isEngineCollection(collection)) {
      throw new AppError(
        'invalid-input',
        `"${collection}" is one of TillSync's own collections (or a system one); those never sync and have no policy.`,
        'collection',
      );
    }
    const policies = { ...this.#opts.settings.get().policies, [collection]: { mode, conflict } };
    await this.#save({ policies });
    await this.#engine?.setPolicies({ [collection]: { mode, conflict } });
    return this.#settingsChanged();
  }

  async setStartAtLogin(enabled: boolean): Promise<SettingsView> {
    const system = this.#opts.startAtLogin;
    if (system) {
      try {
        await system.setEnabled(enabled);
      } catch (err) {
        this.#log.warn({ event: 'app.start-at-login-failed', enabled, error: String(err) }, 'start-at-login could not be changed');
        const code = (err as NodeJS.ErrnoException).code;
        throw new AppError(
          'unavailable',
          `TillSync could not ${enabled ? 'add itself to' : 'remove itself from'} the programs this computer starts at login` +
            `${code ? ` (${code})` : ''}. The setting was not changed.`,
        );
      } finally {
        await this.#readStartAtLogin();
      }
    }
    await this.#save({ startAtLogin: enabled });
    return this.#settingsChanged();
  }

  async setLanguage(language: Language | null): Promise<SettingsView> {
    await this.#save({ language });
    return this.#settingsChanged();
  }

  /** The box shows what the system will do, read back from it, not what was last asked for. */
  async #readStartAtLogin(): Promise<void> {
    const system = this.#opts.startAtLogin;
    if (!system) return;
    try {
      this.#startsAtLogin = await system.isEnabled();
    } catch (err) {
      this.#log.warn({ event: 'app.start-at-login-unreadable', error: String(err) }, 'start-at-login could not be read');
    }
  }

  async #save(change: Parameters<SettingsStore['update']>[0]): Promise<void> {
    try {
      await this.#opts.settings.update(change);
    } catch (err) {
      if (err instanceof SettingsError) throw new AppError('unavailable', err.message);
      throw err;
    }
  }

  #settingsChanged(): SettingsView {
    const view = this.settings();
    this.#events.emit('settings', view, (err) => this.#listenerFailed(err));
    return view;
  }

  #running(): SyncEngine {
    const engine = this.#engine;
    if (!engine) throw new AppError('unavailable', this.#offReason?.message ?? 'Sync is still starting. Try again in a moment.');
    return engine;
  }

  #config(hubUri: string): SyncConfig {
    const settings = this.#opts.settings.get();
    try {
      return parseSyncConfig({
        ...this.#opts.engine,
        local: { uri: this.#opts.localUri },
        hub: { uri: hubUri },
        database: this.#opts.database,
        collections: settings.policies,
      });
    } catch (err) {
      if (err instanceof ConfigError) {
        const hubProblem = err.problems.find((p) => p.startsWith('hub'));
        if (hubProblem)
          throw new AppError('invalid-input', `The hub connection string cannot be used: ${hubProblem.replace(/^hub\.uri: /, '')}.`, 'uri');
        throw new AppError('internal', `The sync settings cannot be used: ${err.problems.join('; ')}`);
      }
      throw err;
    }
  }

  #restart(): Promise<void> {
    this.#restarting = this.#restarting
      .then(() => this.#restartNow())
      .catch((err: unknown) => {
        this.#log.error({ event: 'app.restart-failed', error: String(err) }, 'restarting sync failed');
      });
    return this.#restarting;
  }

  async #restartNow(): Promise<void> {
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    await this.#stopEngine();
    if (this.#stopped) return;
    const settings = this.#opts.settings.get();
    if (!settings.hubUri) {
      this.#setOff('config', 'No hub connection string is set. Enter it in Settings to start syncing.', 'no-hub-set');
      return;
    }
    let config: SyncConfig;
    try {
      config = this.#config(settings.hubUri);
    } catch (err) {
      this.#setOff('config', (err as Error).message);
      return;
    }
    const engine = createSyncEngine(config, { log: this.#opts.log });
    try {
      await engine.start();
    } catch (err) {
      await engine.stop().catch(() => undefined);
      const described = describeError(err, 'local');
      this.#setOff(described.reason, described.message);
      const delay = this.#opts.restartDelayMs ?? 5_000;
      this.#retryTimer = setTimeout(() => void this.#restart(), delay);
      this.#retryTimer.unref();
      return;
    }
    this.#deviceId = engine.deviceId;
    if (engine.enabled !== settings.enabled) await engine.setEnabled(settings.enabled);
    this.#attach(engine);
    this.#engine = engine;
    this.#offReason = null;
    this.#events.emit('status', this.status(), (e) => this.#listenerFailed(e));
  }

  #setOff(reason: string, message: string, code?: SyncErrorCode): void {
    this.#offReason = { reason, message, at: Date.now(), ...(code ? { code, params: {} } : {}) };
    this.#log.warn({ event: 'app.sync-off', reason }, message);
    this.#events.emit('status', this.status(), (e) => this.#listenerFailed(e));
  }

  #attach(engine: SyncEngine): void {
    const onStatus = (status: SyncStatus): void => {
      this.#memory.onStatus(status);
      this.#events.emit('status', status, (e) => this.#listenerFailed(e));
    };
    const onConflict = (record: ConflictRecord): void => {
      try {
        this.#events.emit('conflict', toConflictView(record), (e) => this.#listenerFailed(e));
      } catch (err) {
        this.#log.warn({ event: 'app.conflict-view-failed', error: String(err) }, 'a conflict could not be shown');
      }
    };
    engine.on('status', onStatus);
    engine.on('conflict', onConflict);
    this.#detach = [() => engine.off('status', onStatus), () => engine.off('conflict', onConflict)];
  }

  async #stopEngine(): Promise<void> {
    const engine = this.#engine;
    this.#engine = undefined;
    for (const detach of this.#detach) detach();
    this.#detach = [];
    await engine?.stop();
  }

  #listenerFailed(err: unknown): void {
    this.#log.warn({ event: 'app.listener-failed', error: String(err) }, 'an event listener failed');
  }
}

/** Errors the engine throws, as the dashboard should see them. */
export function engineErrorToAppError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (err instanceof SyncError) {
    if (err.reason === 'not-found') return new AppError('not-found', err.message);
    if (err.reason === 'internal') return undefined;
    return new AppError('unavailable', err.message);
  }
  return undefined;
}
