/**
 * The monitor API's bearer token: read from a file, or made on first start
 * and written with mode 0600 (owner only) in the agent's state folder. Its
 * path is logged; the token never is.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../sync/log.ts';

const MIN_TOKEN_LENGTH = 16;

export class MonitorSetupError extends Error {
  override readonly name = 'MonitorSetupError';
}

/** Where the agent keeps its own files: $XDG_STATE_HOME/tillsync (~/.local/state/tillsync), or %LOCALAPPDATA%\TillSync. */
export function agentStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') return join(env.LOCALAPPDATA ?? join(homedir(), 'AppData', 'Local'), 'TillSync');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'tillsync');
}

export function defaultTokenPath(): string {
  return join(agentStateDir(), 'monitor-token');
}

/** The token in `path`, or a new one written there. */
export function loadOrCreateToken(path: string, log: Logger): string {
  if (existsSync(path)) {
    let token: string;
    try {
      token = readFileSync(path, 'utf8').trim();
    } catch (err) {
      throw new MonitorSetupError(`cannot read the monitor token file "${path}": ${(err as Error).message}`);
    }
    if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
      throw new MonitorSetupError(
        `the monitor token file "${path}" must hold one token of at least ${MIN_TOKEN_LENGTH} characters without spaces; ` +
          'write one there, or delete the file and the agent makes one',
      );
    }
    if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
      log.warn({ event: 'monitor.token-file-open', path }, 'other users can read the monitor token file; run chmod 600 on it');
    }
    log.info({ event: 'monitor.token-file', path }, 'monitor API token read from its file');
    return token;
  }
  const token = randomBytes(32).toString('base64url');
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    throw new MonitorSetupError(`cannot write a monitor token to "${path}": ${(err as Error).message}`);
  }
  log.info(
    { event: 'monitor.token-created', path },
    'made a monitor API token; /conflicts and /toggle need it as "Authorization: Bearer <token>"',
  );
  return token;
}
