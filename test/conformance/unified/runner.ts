/**
 * Runs one unified-format test file (MongoDB's specifications repository,
 * source/<spec>/tests/unified/*.json) against a replica set through the Node
 * driver: requirements, initial data, entities, operations with their
 * expected results and errors, expected events, and the outcome.
 */
import { BSON, MongoClientBulkWriteError, MongoServerError, type Document, type MongoClient } from 'mongodb';
import { Entities, Unsupported } from './entities.ts';
import { eventMatches, expectEvents } from './events.ts';
import { match, MatchError } from './match.ts';
import { bulkResult, clientBulkResult, entityOperation, type OperationContext } from './operations.ts';

/** The driver's own BSON classes (its CommonJS build), so values compare with what it returns. */
const { EJSON } = BSON;

export interface Server {
  /** Connection string of the replica set. */
  uri: string;
  /** e.g. [7, 0, 14] */
  version: number[];
  /** The runner's own client. */
  internal: MongoClient;
}

export type Outcome = { status: 'pass' } | { status: 'fail'; reason: string } | { status: 'skip'; reason: string };

export interface TestResult {
  file: string;
  test: string;
  outcome: Outcome;
}

function parseVersion(v: string): number[] {
  return v.split('.').map((n) => Number(n));
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i += 1) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Why a runOnRequirements list is not met by a single-member replica set without auth, or undefined. */
function unmet(requirements: Document[] | undefined, server: Server): string | undefined {
  if (!requirements || requirements.length === 0) return undefined;
  const reasons: string[] = [];
  for (const r of requirements) {
    const why: string[] = [];
    if (r.minServerVersion && compareVersions(server.version, parseVersion(r.minServerVersion)) < 0)
      why.push(`server < ${r.minServerVersion}`);
    if (r.maxServerVersion && compareVersions(server.version, parseVersion(r.maxServerVersion)) > 0)
      why.push(`server > ${r.maxServerVersion}`);
    if (r.topologies && !(r.topologies as string[]).includes('replicaset')) why.push(`topologies ${(r.topologies as string[]).join(',')}`);
    if (r.serverless === 'require') why.push('serverless');
    if (r.auth === true) why.push('auth');
    if (r.authMechanism) why.push('authMechanism');
    if (r.csfle) why.push('csfle');
    if (r.serverParameters) why.push('serverParameters');
    if (why.length === 0) return undefined;
    reasons.push(why.join(' and '));
  }
  return reasons.join('; ');
}

class Test {
  readonly entities = new Entities();
  readonly #server: Server;
  readonly #failPoints: string[] = [];

  constructor(server: Server) {
    this.#server = server;
  }

  get ctx(): OperationContext {
    // withTransaction's callback: an operation's error reaches withTransaction whatever its assertions.
    return { entities: this.entities, run: (op) => this.operation(op, true) };
  }

  async operation(op: Document, propagate = false): Promise<void> {
    if (op.object === 'testRunner') {
      await this.special(op.name as string, (op.arguments ?? {}) as Document);
      return;
    }
    let result: unknown;
    let error: unknown;
    try {
      result = await entityOperation(this.ctx, op);
    } catch (err) {
      if (err instanceof Unsupported) throw err;
      error = err;
    }
    if (op.ignoreResultAndError) {
      if (propagate && error !== undefined) throw error;
      return;
    }
    if (op.expectError) {
      if (error === undefined) throw new MatchError(`${op.name}: expected an error, got ${safe(result)}`);
      this.expectError(op.expectError as Document, error);
      if (propagate) throw error;
      return;
    }
    if (error !== undefined) throw error;
    if (isWrapped(result, '$changeStream')) {
      if (op.saveResultAsEntity)
        this.entities.set(op.saveResultAsEntity as string, { kind: 'changeStream', stream: result.$changeStream as never });
      return;
    }
    if (isWrapped(result, '$cursor')) {
      if (op.saveResultAsEntity) this.entities.set(op.saveResultAsEntity as string, { kind: 'cursor', cursor: result.$cursor as never });
      return;
    }
    if (op.expectResult !== undefined) match(op.expectResult, result, this.entities, true, op.name as string);
    if (op.saveResultAsEntity) this.entities.set(op.saveResultAsEntity as string, { kind: 'value', value: result });
  }

  expectError(expected: Document, error: unknown): void {
    const thrown = error as MongoServerError & {
      errorLabels?: string[];
      result?: Document;
      errorResponse?: Document;
      writeErrors?: Map<number, Document>;
      writeConcernErrors?: Document[];
      partialResult?: Document;
    };
    const clientBulk = thrown instanceof MongoClientBulkWriteError;
    // A client bulk write wraps the server's top-level error: code, labels and response are that error's.
    const err = (clientBulk && thrown.cause instanceof MongoServerError ? thrown.cause : thrown) as typeof thrown;
    const isServer = err instanceof MongoServerError;
    if (expected.isClientError === true && isServer) throw new MatchError(`expected a client error, got ${safe(err)}`);
    if (expected.isClientError === false && !isServer) throw new MatchError(`expected a server error, got ${String(err)}`);
    if (expected.isTimeoutError) throw new Unsupported('isTimeoutError');
    if (expected.errorContains && !String(err?.message).toLowerCase().includes(String(expected.errorContains).toLowerCase())) {
      throw new MatchError(`error "${err?.message}" does not contain "${expected.errorContains}"`);
    }
    if (expected.errorCode !== undefined && Number(err?.code) !== Number(expected.errorCode)) {
      throw new MatchError(`expected error code ${expected.errorCode}, got ${err?.code} (${err?.message})`);
    }
    if (expected.errorCodeName !== undefined && String(err?.codeName).toLowerCase() !== String(expected.errorCodeName).toLowerCase()) {
      throw new MatchError(`expected codeName ${expected.errorCodeName}, got ${err?.codeName} (${err?.message})`);
    }
    for (const label of (expected.errorLabelsContain ?? []) as string[]) {
      if (!err?.hasErrorLabel?.(label)) throw new MatchError(`expected label ${label}; labels ${safe(err?.errorLabels)}`);
    }
    for (const label of (expected.errorLabelsOmit ?? []) as string[]) {
      if (err?.hasErrorLabel?.(label)) throw new MatchError(`expected no label ${label}`);
    }
    if (expected.errorResponse) match(expected.errorResponse, err?.errorResponse ?? err, this.entities, true, 'errorResponse');
    if (expected.expectResult !== undefined) {
      const result = clientBulk
        ? thrown.partialResult && clientBulkResult(thrown.partialResult)
        : err?.result
          ? bulkResult(err.result as Document)
          : undefined;
      match(expected.expectResult, result, this.entities, true, 'error.result');
    }
    if (expected.writeErrors !== undefined) {
      if (!clientBulk) throw new MatchError(`expected a client bulk write error with writeErrors, got ${safe(thrown)}`);
      const actual = Object.fromEntries([...(thrown.writeErrors ?? new Map())].map(([index, e]) => [String(index), e]));
      const wanted = expected.writeErrors as Document;
      const keys = (d: Document): string => Object.keys(d).sort().join(',');
      if (keys(actual) !== keys(wanted)) throw new MatchError(`writeErrors at ${keys(actual)}, expected at ${keys(wanted)}`);
      for (const [index, e] of Object.entries(wanted)) match(e, actual[index], this.entities, true, `writeErrors.${index}`);
    }
    if (expected.writeConcernErrors !== undefined) {
      if (!clientBulk) throw new MatchError(`expected a client bulk write error with writeConcernErrors, got ${safe(thrown)}`);
      const actual = thrown.writeConcernErrors ?? [];
      const wanted = expected.writeConcernErrors as Document[];
      if (actual.length !== wanted.length) throw new MatchError(`writeConcernErrors ${safe(actual)}, expected ${safe(wanted)}`);
      wanted.forEach((e, i) => match(e, actual[i], this.entities, true, `writeConcernErrors.${i}`));
    }
  }

  async special(name: string, args: Document): Promise<void> {
    const internal = this.#server.internal;
    switch (name) {
      case 'failPoint':
      case 'targetedFailPoint': {
        const client = name === 'failPoint' ? this.entities.of(args.client as string, 'client').client : internal;
        const failPoint = args.failPoint as Document;
        await client.db('admin').command(failPoint);
        this.#failPoints.push(failPoint.configureFailPoint as string);
        return;
      }
      case 'assertSessionTransactionState': {
        const session = this.entities.of(args.session as string, 'session').session;
        const states: Record<string, string> = {
          NO_TRANSACTION: 'none',
          STARTING_TRANSACTION: 'starting',
          TRANSACTION_IN_PROGRESS: 'in_progress',
          TRANSACTION_COMMITTED: 'committed',
          TRANSACTION_COMMITTED_EMPTY: 'committed',
          TRANSACTION_ABORTED: 'aborted',
        };
        const state = states[(session as unknown as { transaction: { state: string } }).transaction.state];
        if (state !== args.state) throw new MatchError(`session state ${state}, expected ${args.state}`);
        return;
      }
      case 'assertSessionPinned':
      case 'assertSessionUnpinned': {
        const pinned = this.entities.of(args.session as string, 'session').session.isPinned;
        if (pinned !== (name === 'assertSessionPinned')) throw new MatchError(`session pinned: ${pinned}`);
        return;
      }
      case 'assertSessionDirty':
      case 'assertSessionNotDirty': {
        const session = this.entities.of(args.session as string, 'session').session as unknown as { serverSession?: { isDirty?: boolean } };
        const dirty = session.serverSession?.isDirty === true;
        if (dirty !== (name === 'assertSessionDirty')) throw new MatchError(`session dirty: ${dirty}`);
        return;
      }
      case 'assertSameLsidOnLastTwoCommands':
      case 'assertDifferentLsidOnLastTwoCommands': {
        const started = this.entities.of(args.client as string, 'client').events.filter((e) => e.type === 'commandStartedEvent');
        const [a, b] = started.slice(-2).map((e) => EJSON.stringify((e.event.command as Document).lsid));
        if ((a === b) !== (name === 'assertSameLsidOnLastTwoCommands')) throw new MatchError(`lsids ${a} and ${b}`);
        return;
      }
      case 'assertCollectionExists':
      case 'assertCollectionNotExists': {
        const names = (
          await internal
            .db(args.databaseName as string)
            .listCollections({}, { nameOnly: true })
            .toArray()
        ).map((c) => c.name);
        if (names.includes(args.collectionName as string) !== (name === 'assertCollectionExists')) {
          throw new MatchError(`collection ${args.collectionName} ${name === 'assertCollectionExists' ? 'missing' : 'exists'}`);
        }
        return;
      }
      case 'assertIndexExists':
      case 'assertIndexNotExists': {
        let names: string[] = [];
        try {
          names = (
            await internal
              .db(args.databaseName as string)
              .collection(args.collectionName as string)
              .listIndexes()
              .toArray()
          ).map((i) => i.name as string);
        } catch {
          names = [];
        }
        if (names.includes(args.indexName as string) !== (name === 'assertIndexExists'))
          throw new MatchError(`index ${args.indexName}: ${names.join(',')}`);
        return;
      }
      case 'createEntities':
        await this.entities.create(args.entities as Document[], this.#server.uri);
        return;
      case 'wait':
        await new Promise((resolve) => setTimeout(resolve, Number(args.ms)));
        return;
      case 'waitForEvent':
      case 'assertEventCount': {
        const client = this.entities.of(args.client as string, 'client');
        const count = (): number => client.events.filter((e) => eventMatches(args.event as Document, e, this.entities)).length;
        if (name === 'waitForEvent') {
          const deadline = Date.now() + 10_000;
          while (count() < Number(args.count)) {
            if (Date.now() > deadline) throw new MatchError(`waited 10 s for ${args.count} × ${safe(args.event)}, saw ${count()}`);
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        } else if (count() !== Number(args.count)) throw new MatchError(`expected ${args.count} × ${safe(args.event)}, saw ${count()}`);
        return;
      }
      default:
        throw new Unsupported(`testRunner operation ${name}`);
    }
  }

  async disableFailPoints(): Promise<void> {
    for (const name of this.#failPoints) {
      await this.#server.internal
        .db('admin')
        .command({ configureFailPoint: name, mode: 'off' })
        .catch(() => undefined);
    }
  }
}

function isWrapped(v: unknown, key: string): v is Document {
  return typeof v === 'object' && v !== null && key in v;
}

async function setUpData(server: Server, data: Document[] | undefined): Promise<void> {
  for (const collection of data ?? []) {
    const db = server.internal.db(collection.databaseName as string);
    const name = collection.collectionName as string;
    await db
      .collection(name)
      .drop({ writeConcern: { w: 'majority' } })
      .catch(() => undefined);
    const docs = (collection.documents ?? []) as Document[];
    if (collection.createOptions || docs.length === 0) {
      await db.createCollection(name, { ...(collection.createOptions as Document | undefined), writeConcern: { w: 'majority' } });
    }
    if (docs.length > 0) await db.collection(name).insertMany(docs, { writeConcern: { w: 'majority' } });
  }
}

async function checkOutcome(server: Server, outcome: Document[] | undefined, entities: Entities): Promise<void> {
  for (const collection of outcome ?? []) {
    const docs = await server.internal
      .db(collection.databaseName as string)
      .collection(collection.collectionName as string)
      .find({}, { sort: { _id: 1 }, readConcern: { level: 'local' } })
      .toArray();
    const expected = (collection.documents ?? []) as Document[];
    if (docs.length !== expected.length)
      throw new MatchError(`outcome ${collection.collectionName}: expected ${safe(expected)}, got ${safe(docs)}`);
    expected.forEach((doc, i) => match(doc, docs[i], entities, false, `outcome.${collection.collectionName}[${i}]`));
  }
}

/**
 * Tests the Node driver (7.x) cannot pass whatever the server does, with why;
 * reported as skipped for the runner, not as the server's failures.
 */
const NODE_DRIVER_DEVIATIONS: Array<[RegExp, string]> = [
  [
    /^(Aggregate with \$out|BulkWrite|FindOneAndReplace|FindOneAndUpdate|InsertMany) passes bypassDocumentValidation: false$/,
    'the Node driver leaves bypassDocumentValidation: false out of these commands',
  ],
  [
    /^inserting _id with type null via (insertOne|insertMany|bulkWrite|clientBulkWrite)$/,
    'the Node driver replaces a null _id with an ObjectId before sending',
  ],
  [/^First insertOne is never committed$/, 'the Node driver lists an insert that never committed in insertedIds'],
  [
    /^partialResult is unset when (first operation fails during an ordered bulk write|all operations fail during an unordered bulk write)/,
    "the Node driver sets a client bulk write error's partialResult even when no operation succeeded",
  ],
  [
    /^client bulkWrite with writeConcern in a transaction causes a transaction error$/,
    "the Node driver drops an operation's writeConcern inside a transaction instead of refusing it",
  ],
];

async function runTest(server: Server, file: Document, test: Document): Promise<Outcome> {
  if (test.skipReason) return { status: 'skip', reason: String(test.skipReason) };
  const deviation = NODE_DRIVER_DEVIATIONS.find(([pattern]) => pattern.test(String(test.description)));
  if (deviation) return { status: 'skip', reason: `runner: ${deviation[1]}` };
  const why = unmet(test.runOnRequirements as Document[] | undefined, server);
  if (why) return { status: 'skip', reason: why };
  const run = new Test(server);
  try {
    await setUpData(server, file.initialData as Document[] | undefined);
    await run.entities.create((file.createEntities ?? []) as Document[], server.uri);
    for (const op of test.operations as Document[]) await run.operation(op);
    for (const [, entity] of run.entities.all()) if (entity.kind === 'client') entity.recording = false;
    await run.disableFailPoints();
    expectEvents((test.expectEvents ?? []) as Document[], run.entities);
    await checkOutcome(server, test.outcome as Document[] | undefined, run.entities);
    return { status: 'pass' };
  } catch (err) {
    if (err instanceof Unsupported) return { status: 'skip', reason: `runner: ${err.message}` };
    return { status: 'fail', reason: err instanceof Error ? err.message : String(err) };
  } finally {
    await run.disableFailPoints();
    await run.entities.close();
    await server.internal
      .db('admin')
      .command({ killAllSessions: [] })
      .catch(() => undefined);
  }
}

export async function runFile(server: Server, path: string, text: string, only?: string): Promise<TestResult[]> {
  const file = EJSON.parse(text, { relaxed: true }) as Document;
  const results: TestResult[] = [];
  const major = Number(String(file.schemaVersion).split('.')[0]);
  const fileWhy = major > 1 ? `schemaVersion ${file.schemaVersion}` : unmet(file.runOnRequirements as Document[] | undefined, server);
  for (const test of file.tests as Document[]) {
    const name = String(test.description);
    if (only && !name.includes(only)) continue;
    const outcome: Outcome = fileWhy ? { status: 'skip', reason: fileWhy } : await runTest(server, file, test);
    results.push({ file: path, test: name, outcome });
  }
  return results;
}

function safe(v: unknown): string {
  try {
    const text = EJSON.stringify(v as Document, { relaxed: true });
    return text.length > 300 ? `${text.slice(0, 300)}…` : text;
  } catch {
    return String(v);
  }
}
