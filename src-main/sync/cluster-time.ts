import type { Db, Timestamp } from 'mongodb';

/** The cluster time of `db`'s server now: where a stream that has read nothing yet starts. */
export async function clusterTime(db: Db): Promise<Timestamp> {
  const session = db.client.startSession();
  try {
    await db.command({ ping: 1 }, { session });
    const time = session.operationTime;
    if (!time) throw new Error('the server reported no cluster time (is it a replica set?)');
    return time;
  } finally {
    await session.endSession();
  }
}
