/**
 * Shared helpers for the conformance suite. The suite checks real MongoDB 8.0
 * replica-set behaviour through the official driver, so every helper here only
 * uses public driver API and documented server commands.
 */
import { after, before, type TestContext } from 'node:test';
import {
  MongoError,
  type ObjectId,
  type ChangeStream,
  type CommandStartedEvent,
  type CommandSucceededEvent,
  type Document,
  type MongoClient,
} from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';

export type Emulator = NonNullable<ReplSet['emulator']>;

/**
 * The suite's replica set (the emulator, or a real mongod when one is configured) and a client,
 * started before its tests and handed to `use`; afterwards any `failCommand` fail point is turned
 * off, the test databases dropped, the client closed and the set stopped.
 */
export function withReplSet(use: (rs: ReplSet, client: MongoClient) => void): void {
  let rs: ReplSet | undefined;
  let client: MongoClient | undefined;
  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
    use(rs, client);
  });
  after(async () => {
    if (client) {
      await client
        .db('admin')
        .command({ configureFailPoint: 'failCommand', mode: 'off' })
        .catch(() => undefined);
      await dropTestDatabases(client);
      await client.close();
    }
    if (rs) await rs.stop();
  });
}

/** A change stream whose events are plain documents (tests look at raw fields). */
export type Stream = ChangeStream<Document, Document>;

let dbCounter = 0;
const createdDbs = new Set<string>();

/** A database name nobody else in this run uses (≤ 38 characters, legal on every server). */
export function uniqueDbName(prefix: string): string {
  dbCounter += 1;
  const name = `cf_${prefix.slice(0, 12)}_${process.pid.toString(36)}_${Date.now().toString(36)}_${dbCounter}`;
  createdDbs.add(name);
  return name;
}

/** Drops every database `uniqueDbName` handed out (cleanup for servers that outlive the test). */
export async function dropTestDatabases(client: MongoClient): Promise<void> {
  for (const name of createdDbs) {
    try {
      await client.db(name).dropDatabase();
    } catch {
      // best effort
    }
  }
  createdDbs.clear();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `fn` until it returns a truthy value (which is returned) or `timeoutMs`
 * passes (then throws with `message` and the last error seen, if any).
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  { timeoutMs = 5_000, intervalMs = 20, message = 'condition' }: { timeoutMs?: number; intervalMs?: number; message?: string } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${message}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Rejects if `promise` does not settle within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` and returns what it threw; fails the test if it did not throw. */
export async function captureError(fn: () => Promise<unknown>, what = 'operation'): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error(`expected ${what} to fail, but it succeeded`);
}

/** Like captureError, but also checks that the error is a MongoError and returns it as one. */
export async function captureMongoError(fn: () => Promise<unknown>, what = 'operation'): Promise<MongoError> {
  const error = await captureError(fn, what);
  if (!(error instanceof MongoError)) {
    throw new Error(`expected a MongoError from ${what}, got ${String(error)}`);
  }
  return error;
}

/**
 * The emulator when the tests run against it; otherwise marks the test skipped
 * (fault controls that only the emulator has) and returns undefined.
 */
export function emulatorOrSkip(t: TestContext, rs: ReplSet): Emulator | undefined {
  if (!rs.emulator) {
    t.skip('needs the emulator');
    return undefined;
  }
  return rs.emulator;
}

/** The `host:port` seeds of a `mongodb://` URI, lower-cased. */
export function seedsOf(uri: string): string[] {
  const withoutScheme = uri.replace(/^mongodb(\+srv)?:\/\//, '');
  const authority = withoutScheme.split(/[/?]/)[0] ?? '';
  const hosts = authority.includes('@') ? authority.slice(authority.lastIndexOf('@') + 1) : authority;
  return hosts
    .split(',')
    .filter((h) => h.length > 0)
    .map((h) => (h.includes(':') || h.startsWith('[') ? h : `${h}:27017`).toLowerCase());
}

/** A query-string option of a `mongodb://` URI, if present. */
export function uriOption(uri: string, name: string): string | undefined {
  const query = uri.split('?')[1];
  if (!query) return undefined;
  for (const pair of query.split('&')) {
    const [key, value] = pair.split('=');
    if (key?.toLowerCase() === name.toLowerCase()) return decodeURIComponent(value ?? '');
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// fail points (real mongod with enableTestCommands, and the emulator)

export type FailPointMode = 'alwaysOn' | 'off' | { times: number } | { skip: number };

/** Sets the `failCommand` fail point; returns a function that turns it off again. */
export async function failCommand(client: MongoClient, mode: FailPointMode, data: Document): Promise<() => Promise<void>> {
  await client.db('admin').command({ configureFailPoint: 'failCommand', mode, data });
  return async () => {
    await client.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
  };
}

// ---------------------------------------------------------------------------
// command monitoring

/** Records command started/succeeded events of a client created with `monitorCommands: true`. */
export class CommandLog {
  readonly started: CommandStartedEvent[] = [];
  readonly succeeded: CommandSucceededEvent[] = [];
  private readonly onStarted = (e: CommandStartedEvent) => this.started.push(e);
  private readonly onSucceeded = (e: CommandSucceededEvent) => this.succeeded.push(e);

  constructor(private readonly client: MongoClient) {
    client.on('commandStarted', this.onStarted);
    client.on('commandSucceeded', this.onSucceeded);
  }

  startedNamed(name: string): CommandStartedEvent[] {
    return this.started.filter((e) => e.commandName === name);
  }

  succeededNamed(name: string): CommandSucceededEvent[] {
    return this.succeeded.filter((e) => e.commandName === name);
  }

  clear(): void {
    this.started.length = 0;
    this.succeeded.length = 0;
  }

  stop(): void {
    this.client.off('commandStarted', this.onStarted);
    this.client.off('commandSucceeded', this.onSucceeded);
  }
}

// ---------------------------------------------------------------------------
// change streams

/**
 * Sends the change stream's aggregate (the driver opens streams lazily) so that
 * every write after this call is seen. Streams here use a short maxAwaitTimeMS
 * so that polling stays quick; fails if an event is already waiting.
 */
export async function openStream(stream: Stream): Promise<Stream> {
  const first = await stream.tryNext();
  if (first !== null) {
    throw new Error(`a freshly opened change stream returned an event: ${JSON.stringify(first)}`);
  }
  return stream;
}

/** Reads exactly `count` events (polling with tryNext), failing after `timeoutMs`. */
export async function nextEvents(stream: Stream, count: number, timeoutMs = 5_000): Promise<Document[]> {
  const events: Document[] = [];
  const deadline = Date.now() + timeoutMs;
  while (events.length < count) {
    if (Date.now() >= deadline) {
      throw new Error(
        `expected ${count} change events within ${timeoutMs} ms, got ${events.length}: ` +
          JSON.stringify(events.map((e) => e.operationType)),
      );
    }
    const event = await stream.tryNext();
    if (event !== null) events.push(event);
  }
  return events;
}

export async function nextEvent(stream: Stream, timeoutMs = 5_000): Promise<Document> {
  const [event] = await nextEvents(stream, 1, timeoutMs);
  if (!event) throw new Error('no change event');
  return event;
}

/** Polls the stream for `ms` and fails if any event shows up. */
export async function expectNoEvent(stream: Stream, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const event = await stream.tryNext();
    if (event !== null) {
      throw new Error(`expected no change event, got ${JSON.stringify(event)}`);
    }
  }
}

/** Default options for test change streams: short awaits so tryNext polling is quick. */
export const STREAM_OPTIONS = { maxAwaitTimeMS: 100 } as const;

/** Schema for test collections: any fields, `_id` of any type (not only ObjectId). */
export interface Doc extends Document {
  _id?: ObjectId | string | number | Document;
}
