/**
 * Malformed wire traffic (emulator only): a connection that sends garbage, an
 * absurd message length or broken BSON is closed, and the server keeps serving
 * every other client.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { deserialize, serialize } from 'bson';
import type { Document, MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { STREAM_OPTIONS, emulatorOrSkip, nextEvent, openStream, type Doc, type Emulator } from './helpers.ts';

const OP_MSG = 2013;

function header(length: number, requestId: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

/** A well-formed OP_MSG with one kind-0 section holding `body` (raw BSON bytes). */
function opMsg(body: Buffer, requestId = 1): Buffer {
  const flags = Buffer.alloc(4);
  const kind = Buffer.from([0]);
  const length = 16 + 4 + 1 + body.length;
  return Buffer.concat([header(length, requestId, OP_MSG), flags, kind, body]);
}

function command(doc: Document, requestId = 1): Buffer {
  return opMsg(Buffer.from(serialize(doc)), requestId);
}

interface Exchange {
  closed: boolean;
  received: Buffer;
}

function openRaw(port: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolvePromise(socket));
    socket.once('error', reject);
  });
}

/** Sends `bytes` (optionally half-closing), then waits up to `waitMs` for the server to close the socket. */
async function exchange(port: number, bytes: Buffer, { end = false, waitMs = 3_000 } = {}): Promise<Exchange> {
  const socket = await openRaw(port);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<boolean>((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(false), waitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolvePromise(true);
    });
  });
  socket.write(bytes);
  if (end) socket.end();
  const wasClosed = await closed;
  socket.destroy();
  return { closed: wasClosed, received: Buffer.concat(chunks) };
}

/** Reads one complete reply message from `socket`. */
function readReply(socket: Socket, timeoutMs = 3_000): Promise<{ opCode: number; responseTo: number; body: Document }> {
  return new Promise((resolvePromise, reject) => {
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error('no reply within the timeout'));
    }, timeoutMs);
    function onData(chunk: Buffer): void {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 4) return;
      const length = buffer.readInt32LE(0);
      if (buffer.length < length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      const opCode = buffer.readInt32LE(12);
      const responseTo = buffer.readInt32LE(8);
      // OP_MSG reply: header, flagBits, kind 0, document.
      const body = deserialize(buffer.subarray(21, length));
      resolvePromise({ opCode, responseTo, body });
    }
    socket.on('data', onData);
  });
}

describe('bad wire input', () => {
  let rs: ReplSet;
  let client: MongoClient;

  before(async () => {
    rs = await startReplSet();
    client = await rs.connect();
  });

  after(async () => {
    if (client) await client.close();
    if (rs) await rs.stop();
  });

  async function clientStillWorks(tag: string): Promise<void> {
    const coll = client.db('badinput').collection<Doc>('c');
    await coll.insertOne({ _id: tag });
    assert.deepEqual(await coll.findOne({ _id: tag }), { _id: tag }, `the driver client works after: ${tag}`);
  }

  function emulatorPort(t: Parameters<typeof emulatorOrSkip>[0]): number | undefined {
    const emulator: Emulator | undefined = emulatorOrSkip(t, rs);
    return emulator?.port;
  }

  it('a well-formed OP_MSG on a raw socket is answered (sanity check of the test framing)', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const socket = await openRaw(port);
    try {
      socket.write(command({ ping: 1, $db: 'admin' }, 77));
      const reply = await readReply(socket);
      assert.equal(reply.opCode, OP_MSG);
      assert.equal(reply.responseTo, 77);
      assert.equal(reply.body.ok, 1);
    } finally {
      socket.destroy();
    }
  });

  it('garbage bytes (an HTTP request) close the connection', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const result = await exchange(port, Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1'));
    assert.equal(result.closed, true);
    await clientStillWorks('http garbage');
  });

  it('an absurd message length closes the connection without waiting for the body', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    for (const length of [0x7fffffff, 64 * 1024 * 1024, -1, 0, 8, 15]) {
      const bytes = Buffer.concat([header(length, 1, OP_MSG), Buffer.alloc(8)]);
      const result = await exchange(port, bytes);
      assert.equal(result.closed, true, `messageLength ${length} closes the connection`);
    }
    await clientStillWorks('absurd lengths');
  });

  it('an OP_MSG with broken BSON closes the connection', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const valid = Buffer.from(serialize({ ping: 1, $db: 'admin' }));

    const lengthTooLong = Buffer.from(valid);
    lengthTooLong.writeInt32LE(valid.length + 100, 0);

    const lengthTooShort = Buffer.from(valid);
    lengthTooShort.writeInt32LE(5, 0);

    const badType = Buffer.from(valid);
    badType[4] = 0x99; // the first element's type byte

    const noTerminator = Buffer.from(valid);
    noTerminator[noTerminator.length - 1] = 0x01;

    const cases: Array<[string, Buffer]> = [
      ['document length larger than the message', lengthTooLong],
      ['document length too small', lengthTooShort],
      ['unknown element type', badType],
      ['missing terminating NUL', noTerminator],
      // {a: <string whose length prefix says 1000 bytes but only 3 follow>}
      ['string length past the end', Buffer.from([0x0f, 0, 0, 0, 0x02, 0x61, 0, 0xe8, 0x03, 0, 0, 0x78, 0x79, 0, 0])],
    ];
    for (const [name, body] of cases) {
      const result = await exchange(port, opMsg(body));
      assert.equal(result.closed, true, `${name}: the connection is closed`);
    }

    const badSectionKind = Buffer.concat([header(16 + 4 + 1 + valid.length, 1, OP_MSG), Buffer.alloc(4), Buffer.from([7]), valid]);
    assert.equal((await exchange(port, badSectionKind)).closed, true, 'an unknown section kind closes the connection');

    await clientStillWorks('broken bson');
  });

  it('broken input after a good command on the same socket closes only that socket', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const socket = await openRaw(port);
    socket.on('error', () => undefined);
    try {
      socket.write(command({ ping: 1, $db: 'admin' }, 5));
      const reply = await readReply(socket);
      assert.equal(reply.body.ok, 1);
      const closed = new Promise<boolean>((resolvePromise) => {
        const timer = setTimeout(() => resolvePromise(false), 3_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolvePromise(true);
        });
      });
      const broken = Buffer.from(serialize({ ping: 1, $db: 'admin' }));
      broken[4] = 0x99;
      socket.write(opMsg(broken, 6));
      assert.equal(await closed, true);
    } finally {
      socket.destroy();
    }
    await clientStillWorks('good then bad');
  });

  it('a message cut short by the client closing its side closes the connection', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const full = command({ ping: 1, $db: 'admin' });
    const result = await exchange(port, full.subarray(0, full.length - 5), { end: true });
    assert.equal(result.closed, true);
    await clientStillWorks('truncated message');
  });

  it('a change stream and pooled connections keep working while many bad connections come and go', async (t) => {
    const port = emulatorPort(t);
    if (port === undefined) return;
    const coll = client.db('badinput').collection<Doc>('stream');
    await client
      .db('badinput')
      .createCollection('stream')
      .catch(() => undefined);
    const stream = coll.watch<Document, Document>([], STREAM_OPTIONS);
    try {
      await openStream(stream);
      const garbage = [
        Buffer.from('\x00\x01\x02garbage garbage garbage', 'latin1'),
        Buffer.concat([header(0x7fffffff, 1, OP_MSG), Buffer.alloc(32)]),
        opMsg(Buffer.from([0x10, 0, 0, 0, 0x99, 0x61, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0])),
      ];
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => exchange(port, garbage[i % garbage.length]!, { end: i % garbage.length === 0 })),
      );
      assert.ok(
        results.every((r) => r.closed),
        'every bad connection was closed',
      );
      await coll.insertOne({ _id: 'survivor' });
      const event = await nextEvent(stream);
      assert.deepEqual(event.documentKey, { _id: 'survivor' });
      const ping = await client.db('admin').command({ ping: 1 });
      assert.equal(ping.ok, 1);
    } finally {
      await stream.close();
    }
  });
});
