/**
 * How many hours of writes the till's oplog holds: if capture falls further
 * behind than this (engine stopped for days), its change history is lost and a
 * full comparison is needed. Estimated as MongoDB's getReplicationInfo does,
 * scaled up while the oplog is not yet full.
 */
import type { MongoClient, Timestamp } from 'mongodb';

/** The till's oplog: the seconds between its first and last entries, its size and its maximum (bytes); null when empty. */
export async function oplogWindow(client: MongoClient): Promise<{ seconds: number; size: number; maxSize: number } | null> {
  const oplog = client.db('local').collection('oplog.rs');
  const first = await oplog
    .find({}, { projection: { ts: 1 } })
    .sort({ $natural: 1 })
    .limit(1)
    .next();
  const last = await oplog
    .find({}, { projection: { ts: 1 } })
    .sort({ $natural: -1 })
    .limit(1)
    .next();
  const stats = await client.db('local').command({ collStats: 'oplog.rs' });
  if (!first || !last) return null;
  return {
    seconds: (last.ts as Timestamp).high - (first.ts as Timestamp).high,
    size: Number(stats.size ?? 0),
    maxSize: Number(stats.maxSize ?? 0),
  };
}

export async function oplogHeadroomHours(client: MongoClient): Promise<number | null> {
  try {
    const window = await oplogWindow(client);
    if (!window) return null;
    const { seconds, size, maxSize } = window;
    const fill = size > 0 && maxSize > 0 ? Math.max(1, maxSize / size) : 1;
    return Math.round(((seconds * fill) / 3600) * 10) / 10;
  } catch {
    return null;
  }
}
