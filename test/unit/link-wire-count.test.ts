/** The link's wire-message counts: each request under its command, each reply under the command it answers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { serialize, type Document } from 'bson';
import { ConnectionCounter, requestName, type CommandCounts } from '../harness/link/wire-count.ts';

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(responseTo, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

function opMsg(
  requestId: number,
  responseTo: number,
  body: Document,
  options: { flags?: number; sequence?: [string, Document[]] } = {},
): Buffer {
  const flags = Buffer.alloc(4);
  flags.writeUInt32LE(options.flags ?? 0);
  const parts = [flags, Buffer.from([0]), serialize(body)];
  if (options.sequence) {
    const [id, docs] = options.sequence;
    const payload = Buffer.concat([Buffer.from(`${id}\0`), ...docs.map((d) => serialize(d))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(4 + payload.length);
    parts.push(Buffer.from([1]), size, payload);
  }
  const rest = Buffer.concat(parts);
  return Buffer.concat([header(16 + rest.length, requestId, responseTo, 2013), rest]);
}

function opQuery(requestId: number, ns: string, query: Document): Buffer {
  const rest = Buffer.concat([Buffer.alloc(4), Buffer.from(`${ns}\0`), Buffer.alloc(8), serialize(query)]);
  return Buffer.concat([header(16 + rest.length, requestId, 0, 2004), rest]);
}

function opReply(requestId: number, responseTo: number, doc: Document): Buffer {
  const rest = Buffer.concat([Buffer.alloc(20), serialize(doc)]);
  return Buffer.concat([header(16 + rest.length, requestId, responseTo, 1), rest]);
}

function compressed(msg: Buffer, compressorId: number): Buffer {
  const meta = Buffer.alloc(9);
  meta.writeInt32LE(msg.readInt32LE(12), 0); // originalOpcode
  meta.writeInt32LE(msg.length - 16, 4);
  meta.writeUInt8(compressorId, 8);
  const body = compressorId === 2 ? deflateSync(msg.subarray(16)) : msg.subarray(16);
  return Buffer.concat([header(16 + 9 + body.length, msg.readInt32LE(4), msg.readInt32LE(8), 2012), meta, body]);
}

/** Feeds a conversation to a counter, each side's bytes cut at the given points. */
function count(conversation: Array<['client' | 'server', Buffer]>, cut: (buf: Buffer) => Buffer[] = (b) => [b]): CommandCounts {
  const table: CommandCounts = {};
  const counter = new ConnectionCounter(() => table);
  for (const [from, bytes] of conversation) {
    for (const piece of cut(bytes)) {
      if (from === 'client') counter.fromClient(piece);
      else counter.fromServer(piece);
    }
  }
  return table;
}

const insert = opMsg(
  7,
  0,
  { insert: 'orders', $db: 'pos' },
  { sequence: ['documents', [{ _id: 1 }, { _id: 2, note: 'x'.repeat(2_000) }]] },
);
const insertReply = opMsg(100, 7, { n: 2, ok: 1 });
const find = opMsg(8, 0, { find: 'orders', filter: {}, $db: 'pos' });
const findReply = opMsg(101, 8, { cursor: { id: 0, firstBatch: [] }, ok: 1 });

describe('link wire counts', () => {
  it('counts an OP_MSG request under its command and its reply under the same name, with the bytes each way', () => {
    const table = count([
      ['client', insert],
      ['server', insertReply],
      ['client', find],
      ['server', findReply],
    ]);
    assert.deepEqual(table, {
      insert: { requests: 1, replies: 1, bytesToServer: insert.length, bytesToClient: insertReply.length },
      find: { requests: 1, replies: 1, bytesToServer: find.length, bytesToClient: findReply.length },
    });
  });

  it('counts the same however the bytes are cut into chunks', () => {
    const conversation: Array<['client' | 'server', Buffer]> = [
      ['client', Buffer.concat([insert, find])],
      ['server', Buffer.concat([findReply, insertReply])],
    ];
    const whole = count(conversation);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 3_000 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        const cut = (buf: Buffer): Buffer[] => {
          const pieces: Buffer[] = [];
          for (let at = 0, i = 0; at < buf.length; i += 1) {
            const size = sizes[i % sizes.length] as number;
            pieces.push(buf.subarray(at, at + size));
            at += size;
          }
          return pieces;
        };
        assert.deepEqual(count(conversation, cut), whole);
      }),
    );
  });

  it('names the OP_QUERY handshake, wrapped in $query or not, and its OP_REPLY', () => {
    const table = count([
      ['client', opQuery(1, 'admin.$cmd', { ismaster: 1, client: { driver: 'x' } })],
      ['server', opReply(50, 1, { ismaster: true, ok: 1 })],
      ['client', opQuery(2, 'admin.$cmd', { $query: { hello: 1 }, $readPreference: { mode: 'primary' } })],
      ['server', opReply(51, 2, { ok: 1 })],
    ]);
    assert.deepEqual(Object.fromEntries(Object.entries(table).map(([k, c]) => [k, [c.requests, c.replies]])), {
      ismaster: [1, 1],
      hello: [1, 1],
    });
  });

  it('counts every reply of an exhaust stream (moreToCome) under the request that opened it', () => {
    const MORE_TO_COME = 1 << 1;
    const table = count([
      ['client', opMsg(3, 0, { hello: 1, topologyVersion: {}, maxAwaitTimeMS: 10_000, $db: 'admin' }, { flags: 1 << 16 })],
      ['server', opMsg(60, 3, { isWritablePrimary: true, ok: 1 }, { flags: MORE_TO_COME })],
      ['server', opMsg(61, 60, { isWritablePrimary: true, ok: 1 }, { flags: MORE_TO_COME })],
      ['server', opMsg(62, 61, { isWritablePrimary: true, ok: 1 })],
    ]);
    assert.equal(table.hello?.requests, 1);
    assert.equal(table.hello?.replies, 3);
    assert.equal(table['unmatched reply'], undefined);
  });

  it('names the command inside an OP_COMPRESSED message compressed with zlib; other compressors count as compressed', () => {
    assert.equal(requestName(compressed(find, 2)), 'find');
    assert.equal(requestName(compressed(find, 1)), 'compressed');
    const table = count([
      ['client', compressed(find, 2)],
      ['server', compressed(findReply, 2)],
    ]);
    assert.deepEqual([table.find?.requests, table.find?.replies], [1, 1]);
  });

  it('does not wait for a reply to a request sent with moreToCome (an unacknowledged write)', () => {
    const table = count([
      ['client', opMsg(9, 0, { insert: 'logs', writeConcern: { w: 0 }, $db: 'pos' }, { flags: 1 << 1 })],
      ['server', opMsg(70, 9, { ok: 1 })],
    ]);
    assert.equal(table.insert?.requests, 1);
    assert.equal(table['unmatched reply']?.replies, 1);
  });
});
