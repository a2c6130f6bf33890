/**
 * A change stream's events, once the engine has taken them and let them go,
 * are not kept in memory. The event queue raced each read against one promise
 * that lived as long as the queue (so closing it ends a read the server is
 * holding): every race's result, the event, hung on that promise until the
 * queue closed, and a till taking orders all day grew by about 100 MB a
 * minute (`npm run bench:memory`: 225 MB after a minute, 444 MB after three).
 *
 * Checked with weak references and a full garbage collection: deterministic,
 * not a timing or a memory figure.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Document, MongoClient } from 'mongodb';
import { RAW_BSON } from '../../src-main/sync/documents.ts';
import { EventQueue, type ChangeEvent } from '../../src-main/sync/event-queue.ts';
import { withReplSet } from '../conformance/helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Takes `n` events as the engine does, and lets them go: only weak references to them come back. */
async function takeAll(queue: EventQueue, n: number): Promise<Array<WeakRef<ChangeEvent>>> {
  const refs: Array<WeakRef<ChangeEvent>> = [];
  while (refs.length < n) {
    const events = await queue.take(50, 2_000);
    assert.ok(events.length > 0, `only ${refs.length} of ${n} events came`);
    for (const event of events) refs.push(new WeakRef(event));
  }
  return refs;
}

describe('the event queue and memory', () => {
  let client: MongoClient;
  withReplSet((_rs, c) => (client = c));

  for (const readAhead of [false, true]) {
    it(`keeps no event it has handed over (read-ahead ${readAhead ? 'on' : 'off'})`, async () => {
      const db = client.db(`stream_memory_${String(readAhead)}`, RAW_BSON);
      const stream = db.watch<Document, ChangeEvent>([], { ...RAW_BSON, maxAwaitTimeMS: 200 });
      const queue = new EventQueue(stream, { readAhead });
      try {
        await queue.take(100, 1_000); // opens the stream
        await db.collection('orders').insertMany(Array.from({ length: 200 }, (_, i) => ({ n: i })));
        const refs = await takeAll(queue, 200);
        // Weak references hold their target to the end of the current job: collect after it.
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        await new Promise((resolve) => setImmediate(resolve));
        gc();
        const kept = refs.filter((r) => r.deref() !== undefined).length;
        // The stream itself may hold the last event it read (its resume token's event); nothing more.
        assert.ok(kept <= 1, `${kept} of 200 events taken and let go are still in memory`);
      } finally {
        await queue.close();
      }
    });
  }
});
