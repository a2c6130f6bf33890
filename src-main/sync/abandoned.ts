/**
 * A killed engine leaves its open transaction behind, holding locks on the
 * checkpoint and version documents the next run needs, until the server gives
 * up on it (60 s by default). On start the engine ends the transactions its
 * earlier runs left open, found by the engine's own appName.
 */
import type { Document, MongoClient } from 'mongodb';
import type { Logger } from './log.ts';

export async function abortAbandonedTransactions(client: MongoClient, appName: string): Promise<number> {
  const admin = client.db('admin');
  const find = async (allUsers: boolean): Promise<Document[]> =>
    admin
      .aggregate([{ $currentOp: { idleSessions: true, allUsers } }, { $match: { appName, active: false, transaction: { $exists: true } } }])
      .toArray();
  let open: Document[];
  try {
    open = await find(true);
  } catch {
    open = await find(false); // without the privilege to see every user's sessions, our own are enough
  }
  const lsids = open.map((op) => op.lsid as Document | undefined).filter((lsid): lsid is Document => lsid?.id !== undefined);
  if (lsids.length > 0) await admin.command({ killSessions: lsids.map((lsid) => ({ id: lsid.id })) });
  return lsids.length;
}

/** Ends what an earlier run left open, saying so; a failure to look is logged, never fatal. */
export async function cleanUpAfterCrash(client: MongoClient, appName: string, log: Logger): Promise<void> {
  try {
    const ended = await abortAbandonedTransactions(client, appName);
    if (ended > 0)
      log.info({ event: 'engine.abandoned-transactions-ended', count: ended, appName }, 'ended transactions an earlier run left open');
  } catch (err) {
    log.warn(
      { event: 'engine.abandoned-transactions-unknown', error: String(err) },
      'could not look for transactions an earlier run left open',
    );
  }
}
