/**
 * The app's settings, kept as one JSON file in a directory (the app's user
 * data in the desktop app): the enable toggle, the hub connection string,
 * collection policies and start-at-login.
 *
 * The hub connection string carries the hub password, so it only ever reaches
 * the disk through a `SecretBox` (Electron's `safeStorage` in the app) and
 * never appears in a log or an error; callers see it masked (`redactUri`).
 * Writes go to a temporary file that is renamed over the old one, so a crash
 * mid-write leaves the previous settings intact.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { CONFLICT_GRANULARITIES, LANGUAGES, SYNC_MODES, type Language, type PolicyView, type SettingsView } from '../../src-shared/ipc.ts';
import { redactUri } from '../sync/config.ts';

/** Encrypts and decrypts short secrets with a key the operating system keeps. */
export interface SecretBox {
  /** False when the system offers no secure storage; secrets are then refused, not stored in plain text. */
  isAvailable(): boolean;
  encrypt(plain: string): Buffer;
  decrypt(sealed: Buffer): string;
}

/** The settings as the app uses them (the hub URI in clear, in memory only). */
export interface Settings {
  enabled: boolean;
  hubUri: string | null;
  policies: Record<string, PolicyView>;
  startAtLogin: boolean;
  /** The dashboard's and tray's language; absent or null follows the till's locale. */
  language?: Language | null;
}

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({ enabled: true, hubUri: null, policies: {}, startAtLogin: false });

/** A setting could not be read or written; the message never contains the connection string. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  constructor(
    readonly reason: 'no-secure-storage' | 'unreadable' | 'write-failed',
    message: string,
  ) {
    super(message);
  }
}

export const SETTINGS_FILE = 'settings.json';

const policySchema = z.object({ mode: z.enum(SYNC_MODES), conflict: z.enum(CONFLICT_GRANULARITIES) });
const fileSchema = z.object({
  version: z.literal(1),
  enabled: z.boolean(),
  /** base64 of the SecretBox output; never the connection string itself. */
  hubUriSealed: z.string().nullable(),
  policies: z.record(z.string(), policySchema),
  startAtLogin: z.boolean(),
  language: z.enum(LANGUAGES).nullable().optional(),
});
type SettingsFile = z.infer<typeof fileSchema>;

export class SettingsStore {
  readonly #path: string;
  readonly #dir: string;
  readonly #box: SecretBox;
  #settings: Settings = { ...DEFAULT_SETTINGS, policies: {} };
  #sealedUri: string | null = null;
  /** Why the file could not be used at load, in plain words (the defaults are used meanwhile). */
  loadProblem: string | null = null;

  private constructor(dir: string, box: SecretBox) {
    this.#dir = dir;
    this.#path = join(dir, SETTINGS_FILE);
    this.#box = box;
  }

  /** Reads the settings in `dir`; a missing file means defaults, a damaged one is reported in `loadProblem`. */
  static async open(dir: string, box: SecretBox): Promise<SettingsStore> {
    const store = new SettingsStore(dir, box);
    await store.#load();
    return store;
  }

  get path(): string {
    return this.#path;
  }

  get(): Settings {
    return { ...this.#settings, policies: { ...this.#settings.policies } };
  }

  /** What the dashboard may see: the password masked. */
  view(): SettingsView {
    const { enabled, hubUri, policies, startAtLogin, language } = this.#settings;
    return {
      enabled,
      hubUriMasked: hubUri === null ? null : redactUri(hubUri),
      policies: { ...policies },
      startAtLogin,
      language: language ?? null,
    };
  }

  async update(change: Partial<Settings>): Promise<Settings> {
    const next: Settings = { ...this.#settings, ...change, policies: { ...(change.policies ?? this.#settings.policies) } };
    let sealed = this.#sealedUri;
    if (change.hubUri !== undefined && change.hubUri !== this.#settings.hubUri)
      sealed = change.hubUri === null ? null : this.#seal(change.hubUri);
    await this.#write({
      version: 1,
      enabled: next.enabled,
      hubUriSealed: sealed,
      policies: next.policies,
      startAtLogin: next.startAtLogin,
      ...(next.language ? { language: next.language } : {}),
    });
    this.#settings = next;
    this.#sealedUri = sealed;
    return this.get();
  }

  #seal(uri: string): string {
    if (!this.#box.isAvailable()) {
      throw new SettingsError(
        'no-secure-storage',
        'This computer offers no secure storage for the hub password, so the connection string was not saved. Sign in to the desktop session (its keyring must be unlocked) and try again.',
      );
    }
    return this.#box.encrypt(uri).toString('base64');
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.loadProblem = `The settings file could not be read (${(err as NodeJS.ErrnoException).code ?? 'error'}); default settings are used.`;
      return;
    }
    let file: SettingsFile;
    try {
      file = fileSchema.parse(JSON.parse(text));
    } catch {
      this.loadProblem = 'The settings file is damaged; default settings are used until the settings are saved again.';
      return;
    }
    let hubUri: string | null = null;
    if (file.hubUriSealed !== null) {
      try {
        hubUri = this.#box.decrypt(Buffer.from(file.hubUriSealed, 'base64'));
      } catch {
        this.loadProblem = 'The saved hub connection string could not be unlocked on this computer; enter it again in Settings.';
      }
    }
    this.#settings = {
      enabled: file.enabled,
      hubUri,
      policies: file.policies,
      startAtLogin: file.startAtLogin,
      ...(file.language ? { language: file.language } : {}),
    };
    this.#sealedUri = hubUri === null ? null : file.hubUriSealed;
  }

  async #write(file: SettingsFile): Promise<void> {
    const temp = `${this.#path}.${process.pid}.tmp`;
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
      await writeFile(temp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.#path);
    } catch (err) {
      throw new SettingsError('write-failed', `The settings could not be saved (${(err as NodeJS.ErrnoException).code ?? 'error'}).`);
    }
  }
}
