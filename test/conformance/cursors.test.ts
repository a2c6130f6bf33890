/**
 * Cursors across a server restart. A client whose change stream was open when
 * the server went down sends its next getMore on a fresh connection with the
 * old cursor id; mongod answers CursorNotFound (the id was random and is gone)
 * and the driver resumes the stream. A server that hands out the same ids
 * again after a restart would answer that getMore from another client's
 * cursor: the stream would read someone else's events and its owner would
 * miss them, with no error anywhere (found by the chaos soak, seed 5001).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Document, Long, MongoClient } from 'mongodb';
import { replSetKind, startReplSet, type ReplSet } from '../harness/replset.ts';
import { CommandLog, STREAM_OPTIONS, nextEvents, openStream, uniqueDbName, waitFor, type Doc, type Stream } from './helpers.ts';

function cursorIds(log: CommandLog): string[] {
  return log.succeededNamed('aggregate').map((e) => String((e.reply as { cursor?: { id?: Long } }).cursor?.id));
}

describe('cursors across a restart', () => {
  it("a change stream open through a restart reads its own events, not another client's", async (t) => {
    if (replSetKind() === 'external') {
      t.skip('needs a server the harness started');
      return;
    }
    const dbPath = mkdtempSync(join(tmpdir(), 'conformance-cursors-'));
    let rs: ReplSet | undefined;
    const clients: MongoClient[] = [];
    const streams: Stream[] = [];
    try {
      rs = await startReplSet({ dbPath });
      const owner = await rs.connect({ monitorCommands: true });
      clients.push(owner);
      const ownerLog = new CommandLog(owner);
      const dbName = uniqueDbName('cursors');
      const mine = owner.db(dbName).collection<Doc>('mine');
      await mine.insertOne({ _id: 'before' });

      const stream: Stream = mine.watch<Document, Document>([], STREAM_OPTIONS);
      streams.push(stream);
      await openStream(stream);
      await mine.insertOne({ _id: 'first' });
      assert.deepEqual((await nextEvents(stream, 1))[0]?.documentKey, { _id: 'first' });
      const [ownerCursor] = cursorIds(ownerLog);
      assert.ok(ownerCursor && ownerCursor !== '0', 'the stream has a cursor on the server');

      // Nothing in flight: the stream's next getMore goes out after the restart, on a new connection.
      await rs.restart();

      // Other clients open streams on another collection, as many as it takes to be handed the owner's old id.
      const other = await rs.connect({ monitorCommands: true });
      clients.push(other);
      const otherLog = new CommandLog(other);
      const theirs = other.db(dbName).collection<Doc>('theirs');
      await waitFor(() => theirs.insertOne({ _id: 'warm-up' }).then(() => true), { timeoutMs: 20_000, message: 'the server to be back' });
      for (let i = 0; i < 8 && !cursorIds(otherLog).includes(ownerCursor); i += 1) {
        const s: Stream = theirs.watch<Document, Document>([], STREAM_OPTIONS);
        streams.push(s);
        await openStream(s);
      }
      await theirs.insertOne({ _id: 'not yours' });
      await mine.insertOne({ _id: 'second' });

      const [next] = await nextEvents(stream, 1, 20_000);
      assert.deepEqual(next?.ns, { db: dbName, coll: 'mine' }, `the stream read an event of another collection: ${JSON.stringify(next)}`);
      assert.deepEqual(next?.documentKey, { _id: 'second' });
      for (const s of streams.slice(1)) {
        const [theirEvent] = await nextEvents(s, 1, 20_000);
        assert.deepEqual(theirEvent?.documentKey, { _id: 'not yours' }, "every other stream still sees its collection's event");
      }
    } finally {
      for (const s of streams) await s.close().catch(() => undefined);
      for (const c of clients) await c.close().catch(() => undefined);
      if (rs) await rs.stop();
      rmSync(dbPath, { recursive: true, force: true });
    }
  });
});
