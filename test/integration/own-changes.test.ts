/**
 * The engine does not read its own writes back. Its streams ask the server to
 * leave out what the engine's own sessions wrote: on the hub, the pull skips
 * the till's pushes and stamps (over a restaurant's internet link a till that
 * pushes 1 MB does not pull the same 1 MB back); on a till, capture skips the
 * documents the pull applied. Checked on the server itself (the emulator, or a
 * real mongod when one is given): every other client's writes still come
 * through, and so does a collection the engine created (capture turns on its
 * post-images).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeStream, Document, MongoClient } from 'mongodb';
import { OwnSessions } from '../../src-main/sync/own-sessions.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';

const DB = 'pos';
type Row = { _id: string };

describe('own sessions: the engine’s streams leave out its own writes', () => {
  let server: ReplSet;
  const clients: MongoClient[] = [];
  before(async () => {
    server = await startReplSet();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await server?.stop();
  });

  it('shows other clients’ writes and the engine’s new collections, not the engine’s own data changes', async () => {
    const [engineClient, otherEngine, pos] = await Promise.all([server.connect(), server.connect(), server.connect()]);
    clients.push(engineClient, otherEngine, pos);
    const mine = new OwnSessions(engineClient, 2);
    const other = new OwnSessions(otherEngine, 1);
    await pos
      .db(DB)
      .createCollection('menu')
      .catch(() => undefined);
    const stream: ChangeStream<Document, Document> = engineClient
      .db(DB)
      .watch<Document, Document>(mine.leftOut(), { maxAwaitTimeMS: 100, showExpandedEvents: true });
    try {
      await stream.tryNext(); // the stream is open on the server from here on
      // Two at once, so the second runs in the other session. The first also creates a collection.
      await Promise.all([
        mine.transaction(async (session) => {
          await engineClient.db(DB).collection<Row>('orders').insertOne({ _id: 'mine-1' }, { session });
        }),
        mine.transaction(async (session) => {
          await engineClient.db(DB).collection<Row>('menu').insertOne({ _id: 'mine-2' }, { session });
        }),
      ]);
      await other.transaction(async (session) => {
        await otherEngine.db(DB).collection<Row>('menu').insertOne({ _id: 'other-1' }, { session });
      });
      await pos.db(DB).collection<Row>('menu').insertOne({ _id: 'pos-1' });

      const seen: string[] = [];
      const deadline = Date.now() + 10_000;
      while (!seen.includes('insert menu pos-1') && Date.now() < deadline) {
        const ev = await stream.tryNext();
        if (ev) seen.push(`${ev.operationType} ${ev.ns?.coll}${ev.documentKey ? ` ${String(ev.documentKey._id)}` : ''}`);
      }
      assert.deepEqual(
        seen.filter((s) => !s.startsWith('create ') || s === 'create orders'),
        ['create orders', 'insert menu other-1', 'insert menu pos-1'],
        'the stream shows the collection the engine created, another engine’s insert and the POS app’s, and none of this engine’s inserts',
      );
      const stored = await pos.db(DB).collection('menu').find({}).sort({ _id: 1 }).toArray();
      assert.deepEqual(
        stored.map((d) => d._id),
        ['mine-2', 'other-1', 'pos-1'],
        'the engine’s own writes are on the server',
      );
    } finally {
      await stream.close();
    }
  });
});
