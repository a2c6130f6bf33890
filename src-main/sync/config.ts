/**
 * The engine's configuration, checked at runtime: it comes from a file or the
 * settings window, so every mistake is reported at once, in words that say
 * which field is wrong and what it should look like. Pure: reading the file is
 * the agent's job.
 *
 * Connection strings carry the hub password, so no message built here ever
 * contains one (see redactUri), and the raw zod error (which holds the input)
 * is never attached to the thrown ConfigError.
 */

import { z } from 'zod';
import { isValidDeviceId } from './core/hlc.ts';
import { CONFLICT_GRANULARITIES, ENGINE_COLLECTION_PREFIX, SYNC_MODES, isEngineCollection, type CollectionPolicy } from './core/policy.ts';

/** Query options whose values are secrets: any name with password/secret/token, and the AWS session token. */
const SECRET_OPTION = /([?&][^=&#]*(?:password|secret|token)[^=&#]*=)[^&]*|(AWS_SESSION_TOKEN(?::|%3A))[^&,]*/gi;

/**
 * A connection string safe to show or log: the password (and secret options
 * such as tlsCertificateKeyFilePassword) replaced with `***`. Works on
 * malformed strings too — a missing scheme, an unescaped @ or / in the
 * password — because those are the ones that end up in error messages; when
 * unsure it hides more, never less.
 */
export function redactUri(uri: string): string {
  const schemeEnd = uri.indexOf('://');
  const start = schemeEnd === -1 ? 0 : schemeEnd + 3;
  // The last @ ends the user info, so an unescaped @ inside the password is still covered.
  const at = uri.lastIndexOf('@');
  let out = uri;
  if (at > start) {
    const userinfo = uri.slice(start, at);
    const colon = userinfo.indexOf(':');
    if (colon !== -1) out = `${uri.slice(0, start)}${userinfo.slice(0, colon)}:***${uri.slice(at)}`;
  }
  return out.replace(SECRET_OPTION, '$1$2***');
}

/** Fully defaulted configuration, as the engine uses it. */
export interface SyncConfig {
  /** The till's own mongod (a replica set, for change streams and transactions). */
  local: { uri: string };
  /** The shared hub (Atlas, or a local hub for demos). */
  hub: { uri: string };
  /** The POS database that syncs, on both sides. */
  database: string;
  /** Where the engine keeps its outbox, checkpoints and conflict log on the till. */
  engineDatabase: string;
  /** This till's id; absent means the agent generates one and keeps it. */
  deviceId?: string;
  collections: Record<string, CollectionPolicy>;
  /** Changes per push/pull transaction. */
  batchSize: number;
  /** Remote versions further ahead of this till's clock are refused. */
  maxClockDriftMs: number;
  retry: { initialMs: number; maxMs: number };
  statusIntervalMs: number;
  /**
   * How long the hub remembers a delete. A change to a document this till had
   * seen before that arrives after its delete was forgotten is refused and
   * logged, never brought back. Keep it longer than any till stays offline.
   */
  tombstoneRetentionDays: number;
  /**
   * The conflict log keeps a conflict (both versions) this many days, and at
   * most `conflictRetentionEntries` of them; older ones are only counted, per
   * collection and day. Version records of documents deleted longer ago than
   * twice `tombstoneRetentionDays` are forgotten too (see till/retention.ts).
   */
  conflictRetentionDays: number;
  conflictRetentionEntries: number;
  /** How often that housekeeping runs (in small batches, when sync is not busy). */
  housekeepingIntervalMs: number;
  /**
   * Facts about this till that head office sees in the fleet view: `name`
   * ("Till 3"), `storeId`, and any others (e.g. `region`). Absent: none.
   */
  device?: Record<string, string>;
  /** How often the engine writes its heartbeat to the hub for the fleet view. */
  heartbeatIntervalMs: number;
  /**
   * One engine per till: how long the lease that says so lasts without being
   * renewed. A second engine waits, and takes over this long after the first
   * stopped answering.
   */
  leaseTtlMs: number;
}

/** The configuration could not be used; `problems` holds one line per mistake. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly reason = 'invalid-config' as const;

  constructor(readonly problems: readonly string[]) {
    super(`Invalid sync configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

const URI_FORM = 'a connection string starting with mongodb:// or mongodb+srv://';
const DATABASE_FORM = 'a MongoDB database name: 1 to 63 bytes, none of / \\ . space " $';
const COLLECTION_FORM = `a collection name: 1 to 255 bytes, no $, not starting with "system." or "${ENGINE_COLLECTION_PREFIX}" (those never sync)`;
const FIELDS_PREFIX = 'one of the fields ';

/** Sets the "expected ..." part of every issue a schema (and its checks) raises. */
function expecting(form: string) {
  return { error: () => form };
}

/** A strict object: unknown keys are errors that list the fields it does take. */
function strictObject<Shape extends z.core.$ZodLooseShape>(shape: Shape, form: string) {
  const fields = `${FIELDS_PREFIX}${Object.keys(shape).join(', ')}`;
  return z.strictObject(shape, { error: (issue) => (issue.code === 'unrecognized_keys' ? fields : form) });
}

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

function isDatabaseName(s: string): boolean {
  const bytes = byteLength(s);
  return bytes >= 1 && bytes <= 63 && !/[/\\. "$\0]/.test(s);
}

function isCollectionName(s: string): boolean {
  const bytes = byteLength(s);
  return bytes >= 1 && bytes <= 255 && !/[$\0]/.test(s) && !isEngineCollection(s) && s !== '__proto__';
}

function isMongoUri(s: string): boolean {
  const match = /^mongodb(?:\+srv)?:\/\/(.*)$/.exec(s);
  if (match === null) return false;
  const rest = match[1]!;
  const hosts = rest.slice(rest.lastIndexOf('@') + 1).split(/[/?#]/, 1)[0]!;
  return hosts.length > 0 && !/\s/.test(hosts);
}

const DEVICE_PARAM_FORM = 'an object of short texts, e.g. { "name": "Till 3", "storeId": "soho" }';
const deviceSchema = z
  .record(
    z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, expecting('a parameter name: a letter, then up to 63 letters, digits or _')),
    z.string(expecting('a text of 1 to 200 characters')).min(1).max(200),
    expecting(DEVICE_PARAM_FORM),
  )
  .optional();

const uriSchema = z.string(expecting(URI_FORM)).refine(isMongoUri, expecting(URI_FORM));
const endpointSchema = strictObject({ uri: uriSchema }, 'an object like { uri: "mongodb://..." }');
const databaseSchema = z.string(expecting(DATABASE_FORM)).refine(isDatabaseName, expecting(DATABASE_FORM));

function intAtLeast(min: number, unit = '') {
  return z.int(expecting(`an integer >= ${min}${unit}`)).min(min);
}

const policySchema = strictObject(
  {
    mode: z.enum(SYNC_MODES, expecting(`one of ${SYNC_MODES.join(', ')}`)).default('both'),
    conflict: z.enum(CONFLICT_GRANULARITIES, expecting(`one of ${CONFLICT_GRANULARITIES.join(', ')}`)).default('document'),
  },
  'an object like { mode?, conflict? }',
);

const retrySchema = strictObject(
  {
    initialMs: intAtLeast(10, ' (milliseconds)').default(500),
    maxMs: intAtLeast(10, ' (milliseconds)').default(60_000),
  },
  'an object like { initialMs?, maxMs? }',
)
  .prefault({})
  .superRefine((retry, ctx) => {
    if (retry.maxMs < retry.initialMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxMs'],
        input: retry.maxMs,
        message: `an integer >= retry.initialMs (${retry.initialMs})`,
      });
    }
  });

const configSchema = strictObject(
  {
    local: endpointSchema,
    hub: endpointSchema,
    database: databaseSchema,
    engineDatabase: databaseSchema.default('tillsync'),
    deviceId: z
      .string(expecting('1 to 64 characters of A-Z a-z 0-9 _ -'))
      .refine(isValidDeviceId, expecting('1 to 64 characters of A-Z a-z 0-9 _ -'))
      .optional(),
    collections: z
      .record(
        z.string().refine(isCollectionName, expecting(COLLECTION_FORM)),
        policySchema,
        expecting('an object mapping collection names to { mode?, conflict? }'),
      )
      .prefault({}),
    batchSize: z.int(expecting('an integer from 1 to 10000')).min(1).max(10_000).default(500),
    maxClockDriftMs: intAtLeast(1_000, ' (milliseconds)').default(300_000),
    retry: retrySchema,
    statusIntervalMs: intAtLeast(100, ' (milliseconds)').default(1_000),
    tombstoneRetentionDays: intAtLeast(1, ' (days)').default(30),
    conflictRetentionDays: intAtLeast(1, ' (days)').default(90),
    conflictRetentionEntries: intAtLeast(100, ' (conflicts)').default(10_000),
    housekeepingIntervalMs: intAtLeast(1_000, ' (milliseconds)').default(300_000),
    device: deviceSchema,
    heartbeatIntervalMs: intAtLeast(1_000, ' (milliseconds)').default(30_000),
    leaseTtlMs: intAtLeast(1_000, ' (milliseconds)').default(30_000),
  },
  'an object with at least local, hub and database',
).superRefine(
  (config, ctx) => {
    // MongoDB refuses two databases whose names differ only in case, so compare case-insensitively.
    const { database, engineDatabase } = config as Partial<SyncConfig>;
    if (typeof database !== 'string' || typeof engineDatabase !== 'string') return;
    if (!isDatabaseName(database) || !isDatabaseName(engineDatabase)) return; // already reported
    if (database.toLowerCase() !== engineDatabase.toLowerCase()) return;
    ctx.addIssue({
      code: 'custom',
      path: ['engineDatabase'],
      input: engineDatabase,
      message: `a database name different from database ${quote(database)} (compared ignoring case)`,
    });
  },
  // Run even when other fields are wrong, so every problem is listed at once.
  { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
) satisfies z.ZodType<SyncConfig>; // the compiler checks the schema yields what the engine reads

/**
 * Validate and default a configuration. Throws ConfigError listing every
 * problem as `<dotted.path>: <what was wrong>, expected <the form expected>`.
 */
export function parseSyncConfig(input: unknown): SyncConfig {
  const problems = reservedNameProblems(input);
  const result = configSchema.safeParse(input, { reportInput: true });
  if (result.success && problems.length === 0) return result.data;
  if (!result.success) problems.push(...result.error.issues.flatMap(formatIssue));
  throw new ConfigError(problems);
}

/** zod drops a "__proto__" key silently; a policy that silently does nothing is worse than an error. */
function reservedNameProblems(input: unknown): string[] {
  if (!isRecord(input) || !isRecord(input.collections)) return [];
  return Object.hasOwn(input.collections, '__proto__')
    ? ['collections.__proto__: got collection name "__proto__", expected a collection name other than "__proto__" (reserved)']
    : [];
}

function formatIssue(issue: z.core.$ZodIssue): string[] {
  if (issue.code === 'unrecognized_keys') {
    const known = issue.message.startsWith(FIELDS_PREFIX) ? issue.message.slice(FIELDS_PREFIX.length).split(', ') : [];
    return issue.keys.map((key) => {
      const hint = suggest(key, known);
      const didYouMean = hint === null ? '' : ` (did you mean "${hint}"?)`;
      return `${formatPath([...issue.path, key])}: unknown field ${quote(key)}${didYouMean}, expected ${issue.message}`;
    });
  }
  if (issue.code === 'invalid_key') {
    const expected = issue.issues[0]?.message ?? COLLECTION_FORM;
    const what = issue.path[0] === 'device' ? 'parameter name' : 'collection name';
    return [`${formatPath(issue.path)}: got ${what} ${describeValue(issue.input)}, expected ${expected}`];
  }
  let what = issue.input === undefined ? 'missing' : `got ${describeValue(issue.input)}`;
  // "500" in quotes is the commonest slip in hand-written config files; say so.
  if (issue.code === 'invalid_type' && typeof issue.input === 'string' && ['number', 'int'].includes(issue.expected)) {
    what += ' (text, not a number)';
  }
  return [`${formatPath(issue.path)}: ${what}, expected ${issue.message}`];
}

/** `collections.orders.mode`; keys that are not plain words are bracketed: `collections["orders.archive"].mode`. */
function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(config)';
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      const name = redactUri(String(segment));
      if (/^[A-Za-z0-9_-]+$/.test(name)) return i === 0 ? name : `.${name}`;
      return `[${JSON.stringify(name)}]`;
    })
    .join('');
}

/** A short, password-free rendering of a bad value. */
function describeValue(value: unknown): string {
  if (typeof value === 'string') return quote(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

function quote(s: string): string {
  const safe = redactUri(s);
  return JSON.stringify(safe.length > 80 ? `${safe.slice(0, 77)}...` : safe);
}

/** The known field within two edits of a misspelt one, if any. */
function suggest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
