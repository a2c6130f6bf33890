/**
 * Durability of the emulator process (emulator only): every write the driver
 * saw acknowledged (default write concern) survives a SIGKILL, and a change
 * stream resumed after the restart from a token taken before the kill still
 * delivers every later event.
 */
import { describe, it, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { replSetKind } from '../harness/replset.ts';
import { STREAM_OPTIONS, nextEvent, nextEvents, openStream, type Doc } from './helpers.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join('test', 'harness', 'mongo', 'cli.ts');

interface EmulatorProcess {
  child: ChildProcess;
  uri: string;
  port: number;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

function startEmulatorProcess(dbPath: string, port: number): Promise<EmulatorProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', CLI, '--port', String(port), '--repl-set', 'rs0', '--dbpath', dbPath, '--oplog-max-events', '1000000'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  return new Promise((resolvePromise, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`emulator did not print its URI within 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdout?.on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((l) => l.startsWith('mongodb://'));
      if (line) {
        clearTimeout(timer);
        const match = /:(\d+)\//.exec(line) ?? /:(\d+)(?:\?|$)/.exec(line);
        if (!match?.[1]) {
          reject(new Error(`cannot read the port from ${line}`));
          return;
        }
        resolvePromise({ child, uri: line.trim(), port: Number(match[1]) });
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`emulator exited early (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

function killHard(child: ChildProcess): Promise<void> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolvePromise();
      return;
    }
    child.once('exit', () => resolvePromise());
    child.kill('SIGKILL');
  });
}

/** A fresh data directory for an emulator process, removed after the suite; undefined (test skipped) on a real mongod. */
function emulatorDataDir(t: TestContext, name: string): string | undefined {
  if (replSetKind() !== 'emulator') {
    t.skip('needs the emulator');
    return undefined;
  }
  const dbPath = mkdtempSync(join(tmpdir(), `conformance-${name}-`));
  dirs.push(dbPath);
  return dbPath;
}

function connect(uri: string): Promise<MongoClient> {
  return new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 }).connect();
}

async function sortedDocs(coll: Collection<Doc>): Promise<Document[]> {
  return coll.find({}, { sort: { _id: 1 } }).toArray();
}

describe('durability across SIGKILL (emulator process)', () => {
  after(async () => {
    for (const child of [...children]) await killHard(child);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('every acknowledged insert, update and delete survives kill -9, and change history resumes', async (t) => {
    const dbPath = emulatorDataDir(t, 'durability');
    if (!dbPath) return;
    const first = await startEmulatorProcess(dbPath, 0);
    const expected = new Map<number, Document>();
    let expectedEvents = 0;
    let token: Document | undefined;

    const writer = await connect(first.uri);
    try {
      const coll = writer.db('durability').collection<Doc>('items');
      await writer.db('durability').createCollection('items');
      const stream = coll.watch<Document, Document>([], STREAM_OPTIONS);
      try {
        await openStream(stream);
        await coll.insertOne({ _id: -1, marker: true });
        token = (await nextEvent(stream))._id;
      } finally {
        await stream.close();
      }
      expected.set(-1, { _id: -1, marker: true });

      const LANES = 4;
      const PER_LANE = 500;
      await Promise.all(
        Array.from({ length: LANES }, async (_, lane) => {
          // Each lane owns the ids congruent to its number, so the expected state is exact.
          for (let k = 0; k < PER_LANE; k += 1) {
            const id = k * LANES + lane;
            const doc = { _id: id, lane, v: 0, text: `doc ${id}` };
            await coll.insertOne(doc);
            expected.set(id, { ...doc });
            expectedEvents += 1;
          }
          for (let k = 0; k < PER_LANE; k += 3) {
            const id = k * LANES + lane;
            const result = await coll.updateOne({ _id: id }, { $inc: { v: 1 }, $set: { touched: true } });
            assert.equal(result.modifiedCount, 1);
            const doc = expected.get(id);
            assert.ok(doc);
            doc.v += 1;
            doc.touched = true;
            expectedEvents += 1;
          }
          for (let k = 1; k < PER_LANE; k += 5) {
            const id = k * LANES + lane;
            const result = await coll.deleteOne({ _id: id });
            assert.equal(result.deletedCount, 1);
            expected.delete(id);
            expectedEvents += 1;
          }
          for (let k = 4; k < PER_LANE; k += 5) {
            // k ≡ 4 (mod 5): never one of the deleted documents (k ≡ 1).
            const id = k * LANES + lane;
            const result = await coll.replaceOne({ _id: id }, { lane, replaced: k });
            assert.equal(result.matchedCount, 1);
            expected.set(id, { _id: id, lane, replaced: k });
            expectedEvents += 1;
          }
        }),
      );
      const batch = Array.from({ length: 100 }, (_, i) => ({ _id: 10_000 + i, batch: true }));
      await coll.insertMany(batch);
      for (const doc of batch) expected.set(doc._id, { ...doc });
      expectedEvents += batch.length;
      const many = await coll.updateMany({ batch: true }, { $set: { flagged: 1 } });
      assert.equal(many.modifiedCount, 100);
      for (const doc of batch) expected.set(doc._id, { ...doc, flagged: 1 });
      expectedEvents += 100;

      // The last acknowledged write is done: kill -9 immediately.
      await killHard(first.child);
    } finally {
      await writer.close().catch(() => undefined);
    }

    const second = await startEmulatorProcess(dbPath, first.port);
    assert.equal(second.port, first.port);
    const reader = await connect(second.uri);
    try {
      const coll = reader.db('durability').collection<Doc>('items');
      const actual = await sortedDocs(coll);
      const wanted = [...expected.values()].sort((a, b) => a._id - b._id);
      assert.equal(actual.length, wanted.length, 'document count after the restart');
      assert.deepEqual(actual, wanted, 'every acknowledged write is there, and nothing else');

      assert.ok(token);
      const resumed = coll.watch<Document, Document>([], { ...STREAM_OPTIONS, resumeAfter: token, batchSize: 1000 });
      try {
        const events = await nextEvents(resumed, expectedEvents, 30_000);
        const counts: Record<string, number> = {};
        for (const e of events) counts[e.operationType] = (counts[e.operationType] ?? 0) + 1;
        assert.deepEqual(counts, { insert: 2100, update: 4 * 167 + 100, delete: 4 * 100, replace: 4 * 100 });
        const last = events[events.length - 1];
        assert.equal(last?.operationType, 'update');
        assert.equal(last?.documentKey?._id, 10_099, 'the last event is the last acknowledged write');
        await coll.insertOne({ _id: 99_999, afterRestart: true });
        const live = await nextEvent(resumed);
        assert.deepEqual(live.documentKey, { _id: 99_999 }, 'the resumed stream continues with new writes');
      } finally {
        await resumed.close();
      }
    } finally {
      await reader.close();
      await killHard(second.child);
    }
  });

  it('writes acknowledged during a burst interrupted by kill -9 are all there after the restart', async (t) => {
    const dbPath = emulatorDataDir(t, 'burst');
    if (!dbPath) return;
    const first = await startEmulatorProcess(dbPath, 0);
    const acknowledged = new Set<number>();
    const attempted = new Set<number>();
    const writer = await new MongoClient(first.uri, { serverSelectionTimeoutMS: 2_000, retryWrites: false }).connect();
    try {
      const coll = writer.db('burst').collection<Doc>('c');
      let next = 0;
      let killed = false;
      const lanes = Array.from({ length: 4 }, async () => {
        while (!killed) {
          const id = next;
          next += 1;
          attempted.add(id);
          try {
            await coll.insertOne({ _id: id, payload: 'x'.repeat(200) });
            if (!killed) acknowledged.add(id);
            if (acknowledged.size >= 800 && !killed) {
              killed = true;
              await killHard(first.child);
            }
          } catch {
            return;
          }
        }
      });
      await Promise.all(lanes);
    } finally {
      await writer.close().catch(() => undefined);
    }
    assert.ok(acknowledged.size >= 800);

    const second = await startEmulatorProcess(dbPath, first.port);
    const reader = await connect(second.uri);
    try {
      const ids = (
        await reader
          .db('burst')
          .collection<Doc>('c')
          .find({}, { projection: { _id: 1 } })
          .toArray()
      ).map((d) => d._id as number);
      const present = new Set(ids);
      const missing = [...acknowledged].filter((id) => !present.has(id));
      assert.deepEqual(missing, [], 'no acknowledged insert is lost');
      const unexpected = ids.filter((id) => !attempted.has(id));
      assert.deepEqual(unexpected, [], 'nothing that was never written appears');
    } finally {
      await reader.close();
      await killHard(second.child);
    }
  });

  it('a journal record torn by kill -9 does not hide the writes acknowledged after the restart', async (t) => {
    const dbPath = emulatorDataDir(t, 'torn');
    if (!dbPath) return;
    const first = await startEmulatorProcess(dbPath, 0);
    let writer = await connect(first.uri);
    await writer.db('torn').collection<Doc>('c').insertOne({ _id: 1, when: 'before the kill' });
    await writer.close();
    await killHard(first.child);
    // What a kill in the middle of appending a commit leaves: the start of a record, not all of it.
    appendFileSync(join(dbPath, 'journal.bson'), Buffer.from([0x00, 0x10, 0x00, 0x00, 0x03, 0x65, 0x00]));

    const second = await startEmulatorProcess(dbPath, first.port);
    writer = await connect(second.uri);
    await writer.db('torn').collection<Doc>('c').insertOne({ _id: 2, when: 'after the restart' });
    await writer.close();
    await killHard(second.child);

    const third = await startEmulatorProcess(dbPath, first.port);
    const reader = await connect(third.uri);
    try {
      const docs = await sortedDocs(reader.db('torn').collection<Doc>('c'));
      assert.deepEqual(
        docs,
        [
          { _id: 1, when: 'before the kill' },
          { _id: 2, when: 'after the restart' },
        ],
        'both acknowledged inserts are there',
      );
    } finally {
      await reader.close();
      await killHard(third.child);
    }
  });
});
