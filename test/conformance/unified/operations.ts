/**
 * Entity operations of the unified test format, mapped onto the Node driver:
 * what each operation calls, and its result as a document to match.
 */
import type { ChangeStream, ClientSession, Collection, Db, Document, MongoClient } from 'mongodb';
import { Unsupported, options, type Entities } from './entities.ts';

export interface OperationContext {
  entities: Entities;
  /** Runs a nested operation (withTransaction's callback) with its own assertions. */
  run(op: Document): Promise<void>;
}

type Args = Document;

function sessionOf(ctx: OperationContext, args: Args): ClientSession | undefined {
  return typeof args.session === 'string' ? ctx.entities.of(args.session, 'session').session : undefined;
}

/** The arguments other than `names`, with the session resolved and option values renamed for the driver. */
function rest(ctx: OperationContext, args: Args, ...names: string[]): Document {
  const out: Document = {};
  for (const [key, value] of Object.entries(args)) {
    if (names.includes(key)) continue;
    if (key === 'session') out.session = sessionOf(ctx, args);
    else if (key === 'returnDocument') out.returnDocument = String(value).toLowerCase();
    else if (key === 'timeoutMS') throw new Unsupported('timeoutMS');
    else out[key] = value;
  }
  return out;
}

async function toArray(cursor: { toArray(): Promise<Document[]> }): Promise<Document[]> {
  return cursor.toArray();
}

/** The driver's BulkWriteResult as the format's document. */
export function bulkResult(result: Document): Document {
  return {
    insertedCount: result.insertedCount,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    upsertedCount: result.upsertedCount,
    upsertedIds: result.upsertedIds,
    insertedIds: result.insertedIds,
  };
}

/** A clientBulkWrite model of the format (`{insertOne: {namespace, document}}`) as the driver's (`{name: 'insertOne', namespace, document}`). */
function clientWriteModel(model: Document): Document {
  const [name, spec] = Object.entries(model)[0] as [string, Document];
  return { name, ...spec };
}

/** Keyed results (a Map by op index) as the format's document, keyed by the index as a string. */
function keyed(results: Map<number, Document> | undefined, shape: (r: Document) => Document): Document | undefined {
  if (!results) return undefined;
  return Object.fromEntries([...results].map(([index, r]) => [String(index), shape(r)]));
}

/** The driver's ClientBulkWriteResult as the format's document. */
export function clientBulkResult(result: Document): Document {
  return {
    acknowledged: result.acknowledged,
    insertedCount: result.insertedCount,
    upsertedCount: result.upsertedCount,
    matchedCount: result.matchedCount,
    modifiedCount: result.modifiedCount,
    deletedCount: result.deletedCount,
    insertResults: keyed(result.insertResults as Map<number, Document> | undefined, (r) => ({ insertedId: r.insertedId })),
    // didUpsert is the driver's own; the format's result has upsertedId only when there was one.
    updateResults: keyed(result.updateResults as Map<number, Document> | undefined, (r) => {
      const out: Document = { matchedCount: r.matchedCount, modifiedCount: r.modifiedCount };
      if (r.didUpsert) out.upsertedId = r.upsertedId;
      return out;
    }),
    deleteResults: keyed(result.deleteResults as Map<number, Document> | undefined, (r) => ({ deletedCount: r.deletedCount })),
  };
}

async function collectionOperation(
  ctx: OperationContext,
  coll: Collection<Document>,
  name: string,
  args: Args,
  id: string | undefined,
): Promise<unknown> {
  switch (name) {
    case 'aggregate':
      return toArray(coll.aggregate(args.pipeline as Document[], rest(ctx, args, 'pipeline')));
    case 'bulkWrite':
      return bulkResult(await coll.bulkWrite(args.requests as never[], rest(ctx, args, 'requests')));
    case 'countDocuments':
      return coll.countDocuments(args.filter as Document, rest(ctx, args, 'filter'));
    case 'estimatedDocumentCount':
      return coll.estimatedDocumentCount(rest(ctx, args));
    case 'count':
      return coll.count(args.filter as Document, rest(ctx, args, 'filter'));
    case 'deleteMany':
      return coll.deleteMany(args.filter as Document, rest(ctx, args, 'filter'));
    case 'deleteOne':
      return coll.deleteOne(args.filter as Document, rest(ctx, args, 'filter'));
    case 'distinct':
      return coll.distinct(args.fieldName as string, (args.filter ?? {}) as Document, rest(ctx, args, 'fieldName', 'filter'));
    case 'find':
      return toArray(coll.find(args.filter as Document, rest(ctx, args, 'filter')));
    case 'findOne':
      return coll.findOne(args.filter as Document, rest(ctx, args, 'filter'));
    case 'createFindCursor': {
      const cursor = coll.find(args.filter as Document, rest(ctx, args, 'filter'));
      await cursor.hasNext();
      return { $cursor: cursor };
    }
    case 'findOneAndDelete':
      return coll.findOneAndDelete(args.filter as Document, rest(ctx, args, 'filter'));
    case 'findOneAndReplace':
      return coll.findOneAndReplace(args.filter as Document, args.replacement as Document, rest(ctx, args, 'filter', 'replacement'));
    case 'findOneAndUpdate':
      return coll.findOneAndUpdate(args.filter as Document, args.update as Document, rest(ctx, args, 'filter', 'update'));
    case 'insertMany':
      return coll.insertMany(args.documents as Document[], rest(ctx, args, 'documents'));
    case 'insertOne':
      return coll.insertOne(args.document as Document, rest(ctx, args, 'document'));
    case 'replaceOne':
      return coll.replaceOne(args.filter as Document, args.replacement as Document, rest(ctx, args, 'filter', 'replacement'));
    case 'updateMany':
      return coll.updateMany(args.filter as Document, args.update as Document, rest(ctx, args, 'filter', 'update'));
    case 'updateOne':
      return coll.updateOne(args.filter as Document, args.update as Document, rest(ctx, args, 'filter', 'update'));
    case 'createChangeStream':
      return changeStream(coll.watch((args.pipeline ?? []) as Document[], rest(ctx, args, 'pipeline')));
    case 'createIndex':
      return coll.createIndex(args.keys as Document, rest(ctx, args, 'keys'));
    case 'dropIndex':
      return coll.dropIndex(args.name as string, rest(ctx, args, 'name'));
    case 'dropIndexes':
      return coll.dropIndexes(rest(ctx, args));
    case 'listIndexes':
      return toArray(coll.listIndexes(rest(ctx, args)));
    case 'listIndexNames':
      throw new Unsupported('listIndexNames');
    case 'rename':
      await coll.rename(args.to as string, rest(ctx, args, 'to'));
      return undefined;
    case 'drop':
      return coll.drop(rest(ctx, args));
    default:
      throw new Unsupported(`collection operation ${name} (${id ?? ''})`);
  }
}

async function changeStream(stream: ChangeStream<Document, Document>): Promise<Document> {
  // The aggregate is lazy in the driver; the format expects it sent when the stream is created (and no getMore yet).
  await (stream as unknown as { cursor: { cursorInit(): Promise<void> } }).cursor.cursorInit();
  return { $changeStream: stream };
}

async function databaseOperation(ctx: OperationContext, db: Db, name: string, args: Args): Promise<unknown> {
  switch (name) {
    case 'aggregate':
      return toArray(db.aggregate(args.pipeline as Document[], rest(ctx, args, 'pipeline')));
    case 'createCollection':
      await db.createCollection(args.collection as string, rest(ctx, args, 'collection'));
      return undefined;
    case 'dropCollection':
      return db.dropCollection(args.collection as string, rest(ctx, args, 'collection'));
    case 'listCollections':
      return toArray(db.listCollections(args.filter as Document, rest(ctx, args, 'filter')));
    case 'listCollectionNames':
      return (await db.listCollections(args.filter as Document, { ...rest(ctx, args, 'filter'), nameOnly: true }).toArray()).map(
        (c) => c.name,
      );
    case 'runCommand': {
      const { command, commandName: _name, ...more } = args;
      return db.command(command as Document, rest(ctx, more));
    }
    case 'modifyCollection': {
      const { collection, ...changes } = rest(ctx, args);
      return db.command({ collMod: collection, ...changes });
    }
    case 'createChangeStream':
      return changeStream(db.watch((args.pipeline ?? []) as Document[], rest(ctx, args, 'pipeline')));
    case 'runCursorCommand':
    case 'createCommandCursor':
      throw new Unsupported(`database operation ${name}`);
    default:
      throw new Unsupported(`database operation ${name}`);
  }
}

async function clientOperation(ctx: OperationContext, client: MongoClient, name: string, args: Args): Promise<unknown> {
  switch (name) {
    case 'listDatabases':
      return (await client.db('admin').admin().listDatabases(rest(ctx, args))).databases;
    case 'listDatabaseNames':
      return (
        await client
          .db('admin')
          .admin()
          .listDatabases({ ...rest(ctx, args), nameOnly: true })
      ).databases.map((d) => d.name);
    case 'createChangeStream':
      return changeStream(client.watch((args.pipeline ?? []) as Document[], rest(ctx, args, 'pipeline')));
    case 'close':
      await client.close();
      return undefined;
    case 'clientBulkWrite': {
      const models = (args.models as Document[]).map(clientWriteModel);
      return clientBulkResult(await client.bulkWrite(models as never[], rest(ctx, args, 'models')));
    }
    default:
      throw new Unsupported(`client operation ${name}`);
  }
}

async function sessionOperation(ctx: OperationContext, session: ClientSession, name: string, args: Args): Promise<unknown> {
  switch (name) {
    case 'startTransaction':
      session.startTransaction(options(args));
      return undefined;
    case 'commitTransaction':
      await session.commitTransaction();
      return undefined;
    case 'abortTransaction':
      await session.abortTransaction();
      return undefined;
    case 'endSession':
      await session.endSession();
      return undefined;
    case 'withTransaction': {
      const { callback, ...txnOptions } = args;
      await session.withTransaction(async () => {
        for (const op of callback as Document[]) await ctx.run(op);
      }, options(txnOptions));
      return undefined;
    }
    case 'getSnapshotTime':
      return (session as unknown as { snapshotTime?: unknown }).snapshotTime;
    default:
      throw new Unsupported(`session operation ${name}`);
  }
}

const ITERATE_LIMIT_MS = 10_000;

async function iterate(source: { next(): Promise<Document | null>; tryNext(): Promise<Document | null> }, name: string): Promise<unknown> {
  if (name === 'iterateOnce') return source.tryNext();
  if (name !== 'iterateUntilDocumentOrError') throw new Unsupported(`cursor operation ${name}`);
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      source.next(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no document within ${ITERATE_LIMIT_MS} ms`)), ITERATE_LIMIT_MS);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export async function entityOperation(ctx: OperationContext, op: Document): Promise<unknown> {
  const target = ctx.entities.get(op.object as string);
  const args = (op.arguments ?? {}) as Args;
  const name = op.name as string;
  switch (target.kind) {
    case 'collection':
      return collectionOperation(ctx, target.coll, name, args, op.object as string);
    case 'database':
      return databaseOperation(ctx, target.db, name, args);
    case 'client':
      return clientOperation(ctx, target.client, name, args);
    case 'session':
      return sessionOperation(ctx, target.session, name, args);
    case 'changeStream':
      if (name === 'close') return target.stream.close();
      return iterate(target.stream, name);
    case 'cursor':
      if (name === 'close') return target.cursor.close();
      return iterate(target.cursor, name);
    default:
      throw new Unsupported(`operations on a ${target.kind}`);
  }
}
