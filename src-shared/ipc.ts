/**
 * The contract between the dashboard and the main process: commands the
 * dashboard sends (each with a zod schema for its input, checked at the main
 * process boundary before a handler runs) and events the main process pushes.
 *
 * The same contract runs over Electron IPC (the preload exposes `TillSyncApi`
 * with contextBridge) and over the web bridge's WebSocket (for `npm run demo`
 * in a normal browser). Plain data only: documents travel as relaxed Extended
 * JSON objects, times as epoch milliseconds.
 */
import { z } from 'zod';
import type { SyncStatus } from './status.ts';
import type { ConflictRule } from './conflict-rules.ts';
import { LANGUAGES, type Language } from './languages.ts';

import { CONFLICT_GRANULARITIES, SYNC_MODES, type ConflictGranularity, type SyncMode } from './policy.ts';

export { CONFLICT_GRANULARITIES, LANGUAGES, SYNC_MODES };
export type { Language };
export type SyncModeName = SyncMode;
export type ConflictGranularityName = ConflictGranularity;

export interface PolicyView {
  mode: SyncModeName;
  conflict: ConflictGranularityName;
}

/** One side of a conflict as the dashboard shows it. */
export interface ConflictSide {
  /** Sortable hybrid-logical-clock version string. */
  version: string;
  /** Wall time the version was made (epoch ms), decoded from the version. */
  wallTime: number | null;
  /** The device id that made it (`hq` for writes made on the hub directly). */
  origin: string;
  /** The document as relaxed Extended JSON; null for a delete. */
  document: Record<string, unknown> | null;
}

export interface ConflictView {
  /** Opaque id for `conflicts.get` / `conflicts.applyLoser`. */
  id: string;
  collection: string;
  /** The document `_id` as relaxed Extended JSON text, e.g. `"order-17"` or `{"$oid":"…"}`. */
  documentId: string;
  winner: 'local' | 'hub';
  /** The rule that picked the winner (null for a record of a rule this version does not know). */
  rule: ConflictRule | null;
  /** For `newer-version-per-field`: the fields both sides changed. */
  fields: string[];
  /** The rule in words a till operator understands. */
  explanation: string;
  /** Top-level fields whose values differ between the two versions. */
  changedFields: string[];
  local: ConflictSide;
  hub: ConflictSide;
  at: number;
  /** Set once someone applied the losing version as a new write. */
  reappliedAt: number | null;
}

export interface ConflictPageView {
  total: number;
  page: number;
  pageSize: number;
  items: ConflictView[];
}

export interface SettingsView {
  enabled: boolean;
  /** The hub connection string with any password replaced by `***`; null when none is set. */
  hubUriMasked: string | null;
  policies: Record<string, PolicyView>;
  startAtLogin: boolean;
  /**
   * The language the dashboard and the tray speak on this till; null (or
   * absent, from an older main process) follows the till's own locale.
   */
  language?: Language | null;
}

export interface AppInfo {
  version: string;
  /** Which MongoDB the till talks to: a real mongod or the test emulator (demo only). */
  backend: 'mongod' | 'emulator';
  /** A name for this till shown in the header, e.g. `Till A`. */
  tillName: string;
  deviceId: string;
}

export interface HubTestResult {
  ok: boolean;
  /** Plain words: "Connected to the hub." or what went wrong and what to check. */
  message: string;
}

const documentIdText = z.string().min(1).max(2_000);
const collectionName = z
  .string()
  .min(1, 'a collection name is required')
  .max(120)
  .refine((name) => !name.includes('$') && !name.includes('\0'), 'collection names cannot contain "$" or a NUL character');
const hubUri = z
  .string()
  .trim()
  .min(1, 'enter the hub connection string')
  .max(4_000)
  .refine(
    (uri) => uri.startsWith('mongodb://') || uri.startsWith('mongodb+srv://'),
    'the hub connection string must start with mongodb:// or mongodb+srv://',
  );

/** Every command: its input schema and the type of its answer. */
export const commandInputs = {
  'status.get': z.object({}).strict(),
  'app.info': z.object({}).strict(),
  'conflicts.list': z
    .object({
      collection: collectionName.optional(),
      page: z.number().int().min(0).default(0),
      pageSize: z.number().int().min(1).max(200).default(20),
    })
    .strict(),
  'conflicts.get': z.object({ id: documentIdText }).strict(),
  'conflicts.applyLoser': z.object({ id: documentIdText }).strict(),
  /** Tries a change set aside again (its cause fixed); the status's `quarantine.latest[].id`. */
  'setAside.retry': z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, 'the id of a change set aside, as the status lists it') }).strict(),
  /** Discards a change set aside: for a change of this till's the hub refused, this till takes the hub's version. */
  'setAside.discard': z.object({ id: z.string().regex(/^[0-9a-f]{24}$/, 'the id of a change set aside, as the status lists it') }).strict(),
  'settings.get': z.object({}).strict(),
  'settings.setEnabled': z.object({ enabled: z.boolean() }).strict(),
  'settings.setHubUri': z.object({ uri: hubUri }).strict(),
  'settings.testHub': z.object({ uri: hubUri.optional() }).strict(),
  'settings.setPolicy': z
    .object({
      collection: collectionName,
      mode: z.enum(SYNC_MODES),
      conflict: z.enum(CONFLICT_GRANULARITIES).default('document'),
    })
    .strict(),
  'settings.setStartAtLogin': z.object({ enabled: z.boolean() }).strict(),
  /** null: follow the till's locale. */
  'settings.setLanguage': z.object({ language: z.enum(LANGUAGES).nullable() }).strict(),
} as const;

export type CommandName = keyof typeof commandInputs;
/** What the caller may send (defaults optional). */
export type CommandInput<C extends CommandName> = z.input<(typeof commandInputs)[C]>;
/** What a handler receives (defaults filled in). */
export type CommandArgs<C extends CommandName> = z.output<(typeof commandInputs)[C]>;

export interface CommandResults {
  'status.get': SyncStatus;
  'app.info': AppInfo;
  'conflicts.list': ConflictPageView;
  'conflicts.get': ConflictView | null;
  'conflicts.applyLoser': ConflictView;
  /** The status after the request (the change may still be being handled: `handling`). */
  'setAside.retry': SyncStatus;
  'setAside.discard': SyncStatus;
  'settings.get': SettingsView;
  'settings.setEnabled': SettingsView;
  'settings.setHubUri': SettingsView;
  'settings.testHub': HubTestResult;
  'settings.setPolicy': SettingsView;
  'settings.setStartAtLogin': SettingsView;
  'settings.setLanguage': SettingsView;
}

/** Events the main process pushes to every dashboard. */
export interface EventPayloads {
  /** Once a second and on every state change. */
  status: SyncStatus;
  /** A new conflict was recorded. */
  conflict: ConflictView;
  /** Settings changed (from the tray's Pause/Resume too). */
  settings: SettingsView;
}
export type EventName = keyof EventPayloads;
export const EVENT_NAMES: readonly EventName[] = ['status', 'conflict', 'settings'];

/** Errors cross the boundary as data, never as thrown objects. */
export interface IpcError {
  /** `invalid-input`, `unknown-command`, `forbidden`, `not-found`, `unavailable`, `internal`. */
  code: string;
  /** Plain words naming what was wrong and what is expected. */
  message: string;
  /** The input field at fault, dotted, when there is one. */
  field?: string;
}

export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: IpcError };

/** What the preload exposes as `window.tillsync` and what the web bridge client implements. */
export interface TillSyncApi {
  invoke<C extends CommandName>(command: C, input: CommandInput<C>): Promise<IpcResult<CommandResults[C]>>;
  /** Subscribes; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayloads[E]) => void): () => void;
}

export const COMMAND_NAMES = Object.keys(commandInputs) as CommandName[];

export function isCommandName(value: unknown): value is CommandName {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(commandInputs, value);
}

/** Validates a command's input; the error names the field and the form expected. */
export function parseCommandInput<C extends CommandName>(command: C, input: unknown): IpcResult<CommandArgs<C>> {
  const parsed = commandInputs[command].safeParse(input ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as CommandArgs<C> };
  const issue = parsed.error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : undefined;
  const detail = issue?.message ?? 'invalid input';
  return {
    ok: false,
    error: {
      code: 'invalid-input',
      message: field ? `${command}: "${field}" ${detail}` : `${command}: ${detail}`,
      ...(field ? { field } : {}),
    },
  };
}

/**
 * The web bridge's WebSocket messages (JSON text frames), for the dashboard in
 * a normal browser. The client sends `invoke`; the server answers each with a
 * `result` carrying the same `id`, and pushes `event` frames to every client.
 */
export type BridgeClientMessage = { type: 'invoke'; id: number; command: string; input: unknown };
export type BridgeServerMessage =
  { type: 'result'; id: number; result: IpcResult<unknown> } | { type: 'event'; event: EventName; payload: unknown };

/** The path the web bridge serves its WebSocket on. */
export const BRIDGE_WS_PATH = '/ipc';
