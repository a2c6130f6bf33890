/**
 * Start at login on Linux, by the XDG Autostart convention: a desktop entry in
 * the user's autostart folder (`$XDG_CONFIG_HOME/autostart`, else
 * `~/.config/autostart`), which the desktop session starts at login.
 * Electron's login items do nothing on Linux, so the app writes the entry.
 *
 * The entry starts the copy of TillSync that wrote it: the AppImage's own
 * path, or the deb's installed program. An AppImage moved or replaced by a new
 * version leaves an entry naming the old path; `refresh()`, called at each
 * start, rewrites it to the running copy. Desktop sessions skip an entry whose
 * TryExec program is gone, so a stale one fails quietly until then.
 *
 * Free of Electron; the entry passes `desktop-file-validate`.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { LaunchCommand, StartAtLogin } from './start-at-login.ts';

export const AUTOSTART_FILE = 'tillsync.desktop';

/** The user's autostart folder; a relative XDG_CONFIG_HOME is ignored, as the XDG spec says. */
export function autostartDir(env: NodeJS.ProcessEnv, home: string): string {
  const configHome = env.XDG_CONFIG_HOME;
  return join(configHome && isAbsolute(configHome) ? configHome : join(home, '.config'), 'autostart');
}

/** Desktop-entry text cannot hold control characters; such a path is refused rather than written broken. */
function checkPrintable(value: string): void {
  if (/\p{Cc}/u.test(value)) throw new Error(`a control character cannot go in a desktop entry: ${JSON.stringify(value)}`);
}

/** A string value: the backslash is the one character to escape. */
function stringValue(value: string): string {
  checkPrintable(value);
  return value.replace(/\\/g, '\\\\');
}

/** Characters that oblige an Exec argument to be quoted (Desktop Entry spec, "The Exec key"). */
const RESERVED = /[\s"'\\><~|&;$*?#()`]/;

/** One Exec argument: quoted when it holds a reserved character, `%` doubled, then escaped as a string value. */
export function execArg(arg: string): string {
  checkPrintable(arg);
  const quoted = arg === '' || RESERVED.test(arg) ? `"${arg.replace(/["`$\\]/g, (c) => `\\${c}`)}"` : arg;
  return stringValue(quoted.replace(/%/g, '%%'));
}

/** The desktop entry that starts `command` at login. */
export function desktopEntry(command: LaunchCommand): string {
  return `${[
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.4',
    'Name=TillSync',
    "Comment=Keeps this till's database in sync with head office",
    `TryExec=${stringValue(command.program)}`,
    `Exec=${[command.program, ...command.args].map(execArg).join(' ')}`,
    'Terminal=false',
    'X-GNOME-Autostart-enabled=true',
  ].join('\n')}\n`;
}

/** What an autostart entry on disk says. */
export interface AutostartEntryState {
  /** The session starts it (the file is there, not Hidden, not switched off in GNOME's key). */
  enabled: boolean;
  /** Its Exec line as written, or null when there is no entry. */
  exec: string | null;
}

/** Reads the keys of the [Desktop Entry] group (localised keys left out). */
function parseEntry(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  let inMain = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      inMain = line === '[Desktop Entry]';
      continue;
    }
    const eq = line.indexOf('=');
    if (!inMain || eq === -1) continue;
    keys.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return keys;
}

export interface XdgAutostartOptions {
  /** The autostart folder (`autostartDir(process.env, homedir())`). */
  dir: string;
  /** What the entry starts: this copy of TillSync. */
  command: LaunchCommand;
}

/** What `refresh()` found: no entry, one switched off, one already right, or one rewritten to this copy. */
export type AutostartRefresh = 'absent' | 'disabled' | 'current' | 'rewritten';

export class XdgAutostart implements StartAtLogin {
  readonly path: string;
  readonly #dir: string;
  readonly #entry: string;
  readonly #exec: string;

  constructor(options: XdgAutostartOptions) {
    this.#dir = options.dir;
    this.path = join(options.dir, AUTOSTART_FILE);
    this.#entry = desktopEntry(options.command);
    this.#exec = parseEntry(this.#entry).get('Exec')!;
  }

  async read(): Promise<AutostartEntryState> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { enabled: false, exec: null };
      throw err;
    }
    const keys = parseEntry(text);
    const enabled = keys.get('Hidden') !== 'true' && keys.get('X-GNOME-Autostart-enabled') !== 'false';
    return { enabled, exec: keys.get('Exec') ?? null };
  }

  async isEnabled(): Promise<boolean> {
    return (await this.read()).enabled;
  }

  async setEnabled(enabled: boolean): Promise<void> {
    if (enabled) await this.#write();
    else await rm(this.path, { force: true });
  }

  /** At each start: an enabled entry that starts another program (the AppImage moved) now starts this one. */
  async refresh(): Promise<AutostartRefresh> {
    const state = await this.read();
    if (state.exec === null) return 'absent';
    if (!state.enabled) return 'disabled';
    if (state.exec === this.#exec) return 'current';
    await this.#write();
    return 'rewritten';
  }

  async #write(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    // A temporary file renamed over the entry: the session never reads half an entry.
    const temp = `${this.path}.${process.pid}.tmp`;
    await writeFile(temp, this.#entry, { mode: 0o644 });
    await rename(temp, this.path);
  }
}
