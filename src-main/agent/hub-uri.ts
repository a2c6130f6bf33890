/**
 * Where the agent gets the hub connection string, which carries the hub
 * password: from a file only its owner can read (`--hub-file`), from the
 * environment (`TILLSYNC_HUB_URI`), or — discouraged — from `--hub`, which
 * every user of the computer can read in the process list.
 *
 * A hub file that other users could read or change is refused with the
 * command that fixes it, rather than used: a till is often shared by several
 * accounts, and the hub password opens every till's data.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { redactUri } from '../sync/config.ts';

export const HUB_URI_ENV = 'TILLSYNC_HUB_URI';

/** Where the hub connection string came from, as the agent logs it. */
export type HubUriSource = 'hub-file' | 'environment' | 'argument';

export interface HubUri {
  uri: string;
  from: HubUriSource;
}

/** The hub connection string could not be taken; the message says why and what to do, never the password. */
export class HubUriError extends Error {
  override readonly name = 'HubUriError';
}

export interface HubUriInput {
  /** `--hub` */
  argument?: string;
  /** `--hub-file` */
  file?: string;
  env: NodeJS.ProcessEnv;
}

/** Who is reading the file; POSIX permission checks are skipped on Windows (protect the file with its ACL there). */
export interface FileReader {
  platform: NodeJS.Platform;
  /** The agent's user id (POSIX). */
  uid?: number;
}

const THIS_PROCESS: FileReader = { platform: process.platform, uid: process.getuid?.() };

/**
 * The hub connection string from `--hub-file`, `--hub` or `TILLSYNC_HUB_URI`
 * (the options win over the environment); undefined when none is given, so a
 * config file may still name the hub.
 */
export function resolveHubUri(input: HubUriInput, reader: FileReader = THIS_PROCESS): HubUri | undefined {
  if (input.file !== undefined && input.argument !== undefined)
    throw new HubUriError('give the hub connection string once: --hub-file <file> or --hub <uri>, not both');
  if (input.file !== undefined) return { uri: readHubFile(input.file, reader), from: 'hub-file' };
  if (input.argument !== undefined) return { uri: input.argument, from: 'argument' };
  const fromEnv = input.env[HUB_URI_ENV]?.trim();
  if (fromEnv) return { uri: fromEnv, from: 'environment' };
  return undefined;
}

/** True when a connection string holds a password (or another secret option) that must not be shown. */
export function carriesSecret(uri: string): boolean {
  return redactUri(uri) !== uri;
}

/** Reads a hub file: one line, the connection string. Refuses a file other users could read or change. */
export function readHubFile(path: string, reader: FileReader = THIS_PROCESS): string {
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (err) {
    throw new HubUriError(`cannot read the hub file "${path}": ${describeFsError(err)}`);
  }
  if (!stats.isFile()) throw new HubUriError(`the hub file "${path}" is not a file; give the path of a file holding the connection string`);
  if (reader.platform !== 'win32') checkPrivate(path, stats, reader.uid);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HubUriError(`cannot read the hub file "${path}": ${describeFsError(err)}`);
  }
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) throw new HubUriError(`the hub file "${path}" is empty; put the hub connection string (mongodb+srv://...) in it`);
  if (lines.length > 1)
    throw new HubUriError(`the hub file "${path}" holds ${lines.length} lines; it must hold only the hub connection string, on one line`);
  return lines[0]!;
}

function checkPrivate(path: string, stats: Stats, uid: number | undefined): void {
  const mode = (stats.mode & 0o777).toString(8).padStart(3, '0');
  const fix = `make it private with: chmod 600 '${path}'`;
  if (stats.mode & 0o044)
    throw new HubUriError(`the hub file "${path}" can be read by other users of this computer (permissions ${mode}); ${fix}`);
  if (stats.mode & 0o022)
    throw new HubUriError(`the hub file "${path}" can be changed by other users of this computer (permissions ${mode}); ${fix}`);
  // Owned by someone else (not root), its owner could point this agent at another hub.
  if (uid !== undefined && stats.uid !== uid && stats.uid !== 0) {
    throw new HubUriError(
      `the hub file "${path}" belongs to another user (uid ${stats.uid}); it must belong to the user the agent runs as (uid ${uid}) or to root`,
    );
  }
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'there is no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied (it must be readable by the user the agent runs as)';
  return code ?? String(err);
}
