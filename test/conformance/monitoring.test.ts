/**
 * Server monitoring as a 4.4+ server offers it: every hello carries a
 * topologyVersion; a hello naming the current one and a maxAwaitTimeMS waits
 * that long for a change before it answers (awaitable hello), and the driver
 * then streams its heartbeats. A not-primary error carries the
 * topologyVersion too, so a driver can tell a stale one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Long, MongoServerError, ObjectId, type Document, type MongoClient, type ServerHeartbeatSucceededEvent } from 'mongodb';
import { type ReplSet } from '../harness/replset.ts';
import { captureError, failCommand, uniqueDbName, waitFor, type Doc, withReplSet } from './helpers.ts';

/** A topologyVersion as a request must carry it: the counter as an int64. */
function asRequest(tv: Document): Document {
  return { processId: tv.processId, counter: Long.fromValue(tv.counter) };
}

describe('server monitoring', () => {
  let rs: ReplSet;
  let client: MongoClient;

  withReplSet((r, c) => ((rs = r), (client = c)));

  async function topologyVersion(): Promise<Document> {
    const hello = await client.db('admin').command({ hello: 1 });
    assert.ok(hello.topologyVersion, 'hello carries a topologyVersion');
    return hello.topologyVersion as Document;
  }

  it('hello carries a topologyVersion: a processId and a counter that does not go back', async () => {
    const first = await topologyVersion();
    assert.ok(first.processId instanceof ObjectId);
    assert.equal(typeof Number(first.counter), 'number');
    const second = await topologyVersion();
    assert.ok(second.processId.equals(first.processId), 'the same process');
    assert.ok(Number(second.counter) >= Number(first.counter));
  });

  it('an awaitable hello with the current topologyVersion waits maxAwaitTimeMS, then answers', async () => {
    const tv = await topologyVersion();
    const started = Date.now();
    const reply = await client.db('admin').command({ hello: 1, topologyVersion: asRequest(tv), maxAwaitTimeMS: 400 });
    const waited = Date.now() - started;
    assert.ok(waited >= 300, `waited ${waited} ms`);
    assert.ok(waited < 5_000, `waited ${waited} ms`);
    assert.ok(reply.topologyVersion.processId.equals(tv.processId));
    assert.equal(reply.isWritablePrimary, true);
  });

  it('an awaitable hello naming another process answers at once', async () => {
    const tv = await topologyVersion();
    const started = Date.now();
    await client.db('admin').command({
      hello: 1,
      topologyVersion: { processId: new ObjectId(), counter: Long.fromValue(tv.counter) },
      maxAwaitTimeMS: 5_000,
    });
    assert.ok(Date.now() - started < 2_000, `answered after ${Date.now() - started} ms`);
  });

  it('topologyVersion without maxAwaitTimeMS, or the other way round, is refused', async () => {
    const tv = await topologyVersion();
    for (const body of [
      { hello: 1, topologyVersion: asRequest(tv) },
      { hello: 1, maxAwaitTimeMS: 100 },
    ]) {
      const error = await captureError(() => client.db('admin').command(body), JSON.stringify(Object.keys(body)));
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      assert.equal(error.code, 31368);
    }
  });

  it('the driver streams heartbeats (awaited) from this server', async () => {
    const watcher = await rs.connect({ heartbeatFrequencyMS: 500 });
    const awaited: ServerHeartbeatSucceededEvent[] = [];
    watcher.on('serverHeartbeatSucceeded', (e: ServerHeartbeatSucceededEvent) => {
      if (e.awaited) awaited.push(e);
    });
    try {
      await waitFor(() => awaited.length >= 2, { timeoutMs: 5_000, message: 'two streamed heartbeats' });
    } finally {
      await watcher.close();
    }
  });

  it('a not-primary error carries the current topologyVersion', async () => {
    const tv = await topologyVersion();
    const noRetry = await rs.connect({ retryReads: false });
    const coll = noRetry.db(uniqueDbName('notprimary')).collection<Doc>('c');
    await coll.insertOne({ _id: 1 });
    const disable = await failCommand(client, { times: 1 }, { failCommands: ['find'], errorCode: 10107 });
    try {
      const error = await captureError(() => coll.findOne({ _id: 1 }), 'a find failing with NotWritablePrimary');
      assert.ok(error instanceof MongoServerError, `got ${String(error)}`);
      const carried = (error as MongoServerError & { topologyVersion?: Document }).topologyVersion;
      assert.ok(carried?.processId?.equals(tv.processId), `topologyVersion ${JSON.stringify(carried)}`);
      assert.deepEqual(await coll.findOne({ _id: 1 }), { _id: 1 }, 'the stale error did not take the server away');
    } finally {
      await disable();
      await noRetry.close();
    }
  });

  it('a restarted server reports a new processId', async (t) => {
    if (rs.kind === 'external') {
      t.skip('needs a server the harness started');
      return;
    }
    const before = await topologyVersion();
    await rs.restart();
    const after = await waitFor(() => topologyVersion(), { timeoutMs: 20_000, message: 'hello after the restart' });
    assert.equal(after.processId.equals(before.processId), false);
  });
});
