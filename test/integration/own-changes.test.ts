/**
 * A till does not download its own changes again: the pull's change stream
 * asks the hub to leave out what this engine's own sessions wrote (its pushes
 * and stamps), so over a restaurant's internet link a till that pushes 1 MB
 * does not pull the same 1 MB back. Checked on the server itself (the
 * emulator, or a real mongod when one is given): another client's writes, and
 * a second engine's, still come through.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeStream, Document } from 'mongodb';
import { Hub } from '../../src-main/sync/hub.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';

const DB = 'pos';

describe('hub: the pull leaves out this engine’s own changes', () => {
  let server: ReplSet;
  before(async () => {
    server = await startReplSet();
  });
  after(async () => {
    await server?.stop();
  });

  it('shows another client’s and another engine’s writes, not this engine’s own', async () => {
    const mine = await Hub.connect(server.uri, DB, 'own-changes-test-a');
    const other = await Hub.connect(server.uri, DB, 'own-changes-test-b');
    const hq = await server.connect();
    let stream: ChangeStream<Document, Document> | undefined;
    try {
      await hq.db(DB).createCollection('menu').catch(() => undefined);
      stream = mine.db.watch<Document, Document>(mine.ownChangesLeftOut(), { maxAwaitTimeMS: 100 });
      await stream.tryNext(); // the stream is open on the server from here on
      // Two at once, so the second runs in another of this engine's sessions.
      await Promise.all(
        ['mine-1', 'mine-2'].map((id) => mine.ownTransaction(async (session) => {
          await mine.collection('menu').insertOne({ _id: id, by: 'this engine' }, { session });
        })),
      );
      await other.ownTransaction(async (session) => {
        await other.collection('menu').insertOne({ _id: 'other-1', by: 'another till' }, { session });
      });
      await hq.db(DB).collection<Document>('menu').insertOne({ _id: 'hq-1', by: 'head office' });

      const seen: string[] = [];
      const deadline = Date.now() + 10_000;
      while (!seen.includes('hq-1') && Date.now() < deadline) {
        const ev = await stream.tryNext();
        if (ev?.ns?.coll === 'menu') seen.push(String(ev.documentKey?._id));
      }
      assert.deepEqual(seen, ['other-1', 'hq-1'], 'the stream shows the other till’s and head office’s inserts only');
      const all = await hq.db(DB).collection('menu').find({}).sort({ _id: 1 }).toArray();
      assert.deepEqual(all.map((d) => d._id), ['hq-1', 'mine-1', 'mine-2', 'other-1'], 'this engine’s own writes are on the hub');
    } finally {
      await stream?.close();
      await hq.close();
      await other.close();
      await mine.close();
    }
  });
});
