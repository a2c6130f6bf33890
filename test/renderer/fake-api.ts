/**
 * An in-memory implementation of the dashboard's boundary (`TillSyncApi`):
 * answers commands from plain data, validates input with the contract's own
 * schemas, records every call, and lets a test push events.
 */
import {
  parseCommandInput,
  type AppInfo,
  type CommandInput,
  type CommandName,
  type CommandResults,
  type ConflictView,
  type EventName,
  type EventPayloads,
  type IpcResult,
  type SettingsView,
} from '../../src-shared/ipc.ts';
import type { SyncStatus } from '../../src-shared/status.ts';
import type { ConnectionState, DashboardApi } from '../../src-renderer/api/dashboard-api.ts';

export interface Call {
  command: CommandName;
  input: unknown;
}

export class FakeTillSync implements DashboardApi {
  calls: Call[] = [];
  info: AppInfo = { version: '0.1.0', backend: 'emulator', tillName: 'Till A', deviceId: 'till-a' };
  status: SyncStatus = makeStatus();
  settings: SettingsView = {
    enabled: true,
    hubUriMasked: 'mongodb://tillsync:***@127.0.0.1:27103/',
    policies: { menu: { mode: 'pull-only', conflict: 'document' }, orders: { mode: 'both', conflict: 'field' } },
    startAtLogin: false,
    language: null,
  };
  /** Newest first, as the main process keeps them. */
  conflicts: ConflictView[] = [];
  /** Answers that override the normal behaviour, per command. */
  failures: Partial<Record<CommandName, { code: string; message: string }>> = {};
  private listeners = new Map<EventName, Set<(payload: never) => void>>();
  private connectionListeners = new Set<(state: ConnectionState) => void>();
  private state: ConnectionState = 'open';

  async invoke<C extends CommandName>(command: C, input: CommandInput<C>): Promise<IpcResult<CommandResults[C]>> {
    this.calls.push({ command, input });
    const parsed = parseCommandInput(command, input);
    if (!parsed.ok) return parsed;
    const failure = this.failures[command];
    if (failure) return { ok: false, error: failure };
    return { ok: true, value: this.answer(command, parsed.value as never) as CommandResults[C] };
  }

  private answer(command: CommandName, args: Record<string, unknown>): unknown {
    switch (command) {
      case 'status.get':
        return this.status;
      case 'app.info':
        return this.info;
      case 'settings.get':
        return this.settings;
      case 'conflicts.list': {
        const { page, pageSize, collection } = args as { page: number; pageSize: number; collection?: string };
        const matching = this.conflicts.filter((c) => collection === undefined || c.collection === collection);
        return { total: matching.length, page, pageSize, items: matching.slice(page * pageSize, (page + 1) * pageSize) };
      }
      case 'conflicts.get':
        return this.conflicts.find((c) => c.id === args.id) ?? null;
      case 'conflicts.applyLoser': {
        const index = this.conflicts.findIndex((c) => c.id === args.id);
        const updated = { ...this.conflicts[index]!, reappliedAt: Date.now() };
        this.conflicts[index] = updated;
        return updated;
      }
      case 'settings.setEnabled':
        this.settings = { ...this.settings, enabled: args.enabled as boolean };
        return this.settings;
      case 'settings.setHubUri':
        this.settings = { ...this.settings, hubUriMasked: String(args.uri).replace(/:[^:@/]+@/, ':***@') };
        return this.settings;
      case 'settings.testHub':
        return { ok: true, message: 'Connected to the hub.' };
      case 'settings.setPolicy': {
        const { collection, mode, conflict } = args as { collection: string; mode: 'both'; conflict: 'document' };
        this.settings = { ...this.settings, policies: { ...this.settings.policies, [collection]: { mode, conflict } } };
        return this.settings;
      }
      case 'settings.setStartAtLogin':
        this.settings = { ...this.settings, startAtLogin: args.enabled as boolean };
        return this.settings;
      case 'settings.setLanguage':
        this.settings = { ...this.settings, language: args.language as SettingsView['language'] };
        return this.settings;
    }
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return () => set.delete(listener as (payload: never) => void);
  }

  emit<E extends EventName>(event: E, payload: EventPayloads[E]): void {
    for (const listener of this.listeners.get(event) ?? []) (listener as (p: EventPayloads[E]) => void)(payload);
  }

  connection(): ConnectionState {
    return this.state;
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.connectionListeners.add(listener);
    return () => this.connectionListeners.delete(listener);
  }

  setConnection(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.connectionListeners) listener(state);
  }

  callsOf(command: CommandName): Call[] {
    return this.calls.filter((c) => c.command === command);
  }
}

export function makeStatus(overrides: Partial<SyncStatus> = {}): SyncStatus {
  return {
    state: 'synced',
    deviceId: 'till-a',
    enabled: true,
    lastSyncedAt: Date.now() - 2 * 60_000,
    lag: { push: { lastMs: 40, p50Ms: 35, p95Ms: 80 }, pull: { lastMs: 25, p50Ms: 20, p95Ms: 60 } },
    lagSeries: [],
    outbox: { depth: 0, oldestPendingAgeMs: null },
    rates: { pushPerSec: 0, pullPerSec: 0 },
    conflicts: { count: 0 },
    lastError: null,
    checkpointAgeMs: { capture: 1000, pull: 1000 },
    oplogHeadroomHours: 72,
    quarantine: { count: 0, latest: [] },
    warnings: [],
    reconciliation: null,
    ...overrides,
  };
}

export function makeConflict(n: number, overrides: Partial<ConflictView> = {}): ConflictView {
  return {
    id: `c-${n}`,
    collection: 'orders',
    documentId: `"order-${n}"`,
    winner: 'hub',
    rule: 'newer-version',
    fields: [],
    explanation: 'The hub’s change was made later, so it was kept.',
    changedFields: ['total'],
    local: { version: `v-local-${n}`, wallTime: 1_700_000_000_000, origin: 'till-a', document: { _id: `order-${n}`, table: 4, total: 10 } },
    hub: { version: `v-hub-${n}`, wallTime: 1_700_000_001_000, origin: 'till-b', document: { _id: `order-${n}`, table: 4, total: 12 } },
    at: 1_700_000_000_000 + n * 1000,
    reappliedAt: null,
    ...overrides,
  };
}
