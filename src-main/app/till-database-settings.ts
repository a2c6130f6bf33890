/**
 * Settings for the till's own mongod that an installer may change, kept in
 * `till-database.json` next to the app's settings (the app's user data
 * folder). The file is optional; every field in it is too:
 *
 *   { "cacheSizeGB": 0.25, "oplogMinRetentionHours": 168, "oplogMaxSizeMB": 2048 }
 *
 * A mistake stops the app at start with one line per wrong field, saying what
 * it should be: a till database started with a value nobody meant is worse.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

export const TILL_DATABASE_FILE = 'till-database.json';

export interface TillDatabaseSettings {
  /** WiredTiger's cache (MongoDB's default is half the RAM minus 1 GB: 1.5 GB on a 4 GB till, taken from the POS software). */
  cacheSizeGB: number;
  /** The oplog keeps at least this many hours of changes, so a stopped engine resumes without comparing everything. */
  oplogMinRetentionHours: number;
  /** The oplog never takes more than this, whatever the free space. */
  oplogMaxSizeMB: number;
}

/** mongod's own limits: the WiredTiger cache is 0.25 GB at least; replSetResizeOplog takes 990 MB at least. */
export const MIN_CACHE_GB = 0.25;
export const MIN_OPLOG_MB = 990;

export const DEFAULT_TILL_DATABASE: Readonly<TillDatabaseSettings> = Object.freeze({
  cacheSizeGB: 0.25,
  oplogMinRetentionHours: 7 * 24,
  oplogMaxSizeMB: 2_048,
});

export class TillDatabaseSettingsError extends Error {
  override readonly name = 'TillDatabaseSettingsError';
  constructor(readonly problems: readonly string[]) {
    super(`The till database settings (${TILL_DATABASE_FILE}) cannot be used:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const FIELDS = Object.keys(DEFAULT_TILL_DATABASE).join(', ');
const schema = z.strictObject({
  cacheSizeGB: z
    .number({ error: () => `a number of gigabytes from ${MIN_CACHE_GB} to 64` })
    .min(MIN_CACHE_GB)
    .max(64)
    .default(DEFAULT_TILL_DATABASE.cacheSizeGB),
  oplogMinRetentionHours: z
    .number({ error: () => 'a number of hours from 0 (no minimum) to 8760 (a year)' })
    .min(0)
    .max(8_760)
    .default(DEFAULT_TILL_DATABASE.oplogMinRetentionHours),
  oplogMaxSizeMB: z
    .int({ error: () => `a whole number of megabytes from ${MIN_OPLOG_MB} to 1048576` })
    .min(MIN_OPLOG_MB)
    .max(1_048_576)
    .default(DEFAULT_TILL_DATABASE.oplogMaxSizeMB),
});

/** Checks and defaults the settings; throws `TillDatabaseSettingsError` naming every wrong field. */
export function parseTillDatabaseSettings(input: unknown): TillDatabaseSettings {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new TillDatabaseSettingsError([`expected a JSON object with any of the fields ${FIELDS}`]);
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new TillDatabaseSettingsError(
    result.error.issues.flatMap((issue) => {
      if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${key}: unknown field, expected one of ${FIELDS}`);
      const field = issue.path.join('.');
      const got = field in input ? JSON.stringify((input as Record<string, unknown>)[field]) : 'nothing';
      return [`${field}: got ${got}, expected ${issue.message}`];
    }),
  );
}

/** The settings from `dir`; the defaults when there is no such file. */
export async function readTillDatabaseSettings(dir: string): Promise<TillDatabaseSettings> {
  const path = join(dir, TILL_DATABASE_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...DEFAULT_TILL_DATABASE };
    throw new TillDatabaseSettingsError([`the file cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`]);
  }
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    throw new TillDatabaseSettingsError([`the file is not valid JSON: ${(err as Error).message}`]);
  }
  return parseTillDatabaseSettings(input);
}
