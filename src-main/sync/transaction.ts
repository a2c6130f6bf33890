/**
 * Transactions with a bound. The driver's `withTransaction` keeps retrying a
 * transient failure for up to two minutes — with the hub answering every
 * write with a retryable error, the engine would sit in it, silent, and could
 * not be stopped. Here a write conflict is retried a few times at once (it
 * clears as soon as the other writer commits); anything else goes back to the
 * caller, whose loop reports it and backs off.
 */
import { MongoError, type ClientSession, type MongoClient } from 'mongodb';

const CONFLICT_ATTEMPTS = 8;
const COMMIT_ATTEMPTS = 3;

function hasLabel(err: unknown, label: string): boolean {
  return err instanceof MongoError && err.hasErrorLabel(label);
}

/** A conflict with another writer, or a transaction the server forgot: worth an immediate retry. */
function retryNow(err: unknown): boolean {
  return err instanceof MongoError && hasLabel(err, 'TransientTransactionError') && [112, 251, 24].includes(Number(err.code));
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `fn` in a transaction, retried as above; in `own` (a session the caller keeps) when given, else in a session of its own. */
export async function inTransaction<T>(client: MongoClient, fn: (session: ClientSession) => Promise<T>, own?: ClientSession): Promise<T> {
  const session = own ?? client.startSession();
  try {
    for (let attempt = 1; ; attempt += 1) {
      session.startTransaction();
      let result: T;
      try {
        result = await fn(session);
      } catch (err) {
        await session.abortTransaction().catch(() => undefined);
        if (retryNow(err) && attempt < CONFLICT_ATTEMPTS) {
          await pause(Math.random() * 10 * attempt);
          continue;
        }
        throw err;
      }
      let retryWhole = false;
      for (let commit = 1; ; commit += 1) {
        try {
          await session.commitTransaction();
          return result;
        } catch (err) {
          if (hasLabel(err, 'UnknownTransactionCommitResult') && commit < COMMIT_ATTEMPTS) continue;
          if (retryNow(err) && attempt < CONFLICT_ATTEMPTS) {
            retryWhole = true;
            break;
          }
          throw err;
        }
      }
      if (retryWhole) await pause(Math.random() * 10 * attempt);
    }
  } finally {
    if (!own) await session.endSession().catch(() => undefined);
  }
}
