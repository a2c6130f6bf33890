/**
 * The link simulator: bytes arrive whole and in order, a round trip takes the
 * delay set, many chunks are in flight at once (a large transfer takes one
 * round trip plus its size over the bandwidth), the link can stall or reset,
 * and the official driver works through it with its commands counted.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { MongoClient } from 'mongodb';
import { Random } from '../soak/prng.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { countersSince, requestCount } from '../harness/link/counts.ts';
import { LinkProcess } from '../harness/link/process.ts';
import { LinkOptionError, LinkProxy } from '../harness/link/proxy.ts';
import { linkedUri, linkTarget } from '../harness/link/uri.ts';

/** A TCP server that runs `onSocket` for every connection. */
async function tcpServer(onSocket: (socket: Socket) => void): Promise<Server> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined); // the link resets some on purpose
    onSocket(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

const portOf = (server: Server): number => (server.address() as AddressInfo).port;

async function connect(port: number): Promise<Socket> {
  const socket = createConnection({ host: '127.0.0.1', port, noDelay: true });
  await once(socket, 'connect');
  return socket;
}

/** Reads from `socket` until `n` bytes have come; resolves with them and when the last one came. */
function readBytes(socket: Socket, n: number): Promise<{ bytes: Buffer; at: number }> {
  const chunks: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) resolve({ bytes: Buffer.concat(chunks), at: performance.now() });
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('link simulator over TCP', () => {
  let echo: Server;
  before(async () => {
    echo = await tcpServer((socket) => socket.pipe(socket));
  });
  after(() => echo.close());

  it('delivers every byte in the order sent, both ways, while the jitter reorders nothing', async () => {
    const rng = Random.for(3, 'jitter');
    const link = await LinkProxy.start({ to: `127.0.0.1:${portOf(echo)}`, rttMs: 20, jitterMs: 20, random: () => rng.next() });
    try {
      const socket = await connect(link.port);
      const sent = Buffer.alloc(400_000);
      for (let i = 0; i < sent.length; i += 4) sent.writeUInt32LE(i / 4, i);
      const back = readBytes(socket, sent.length);
      for (let at = 0; at < sent.length;) {
        const size = rng.int(1, 9_000);
        socket.write(sent.subarray(at, at + size));
        at += size;
        if (rng.chance(0.2)) await sleep(rng.int(0, 3));
      }
      const { bytes } = await back;
      assert.equal(bytes.length, sent.length);
      assert.ok(bytes.equals(sent), 'the echo differs from what was sent');
      socket.destroy();
    } finally {
      await link.stop();
    }
  });

  it('adds the round-trip time to each exchange, and a new connection waits one more for its handshake', async () => {
    const link = await LinkProxy.start({ to: `127.0.0.1:${portOf(echo)}`, rttMs: 80 });
    try {
      const socket = await connect(link.port);
      const times: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        const start = performance.now();
        const back = readBytes(socket, 1);
        socket.write('x');
        times.push((await back).at - start);
        socket.removeAllListeners('data');
      }
      const [first, ...rest] = times as [number, ...number[]];
      // The client's bytes wait for SYN and SYN-ACK (one round trip) before their own half round trip.
      assert.ok(first >= 159, `the first exchange took ${first.toFixed(0)} ms; a handshake and a round trip are 160 ms`);
      for (const t of rest) assert.ok(t >= 79, `an exchange took ${t.toFixed(0)} ms, under the 80 ms round trip`);
      socket.destroy();
    } finally {
      await link.stop();
    }
  });

  it('keeps many chunks in flight: a large transfer takes about one round trip plus its size over the bandwidth, not a round trip per chunk', async () => {
    const size = 4 * 1024 * 1024;
    const blob = Buffer.alloc(size, 7);
    const server = await tcpServer((socket) => socket.once('data', () => socket.write(blob)));
    const kbps = 40_000; // 5 MB/s: 4 MiB in 839 ms
    const link = await LinkProxy.start({ to: `127.0.0.1:${portOf(server)}`, rttMs: 80, kbps });
    try {
      const socket = await connect(link.port);
      await sleep(100); // past the handshake's round trip
      const start = performance.now();
      const got = readBytes(socket, size);
      socket.write('go');
      const { bytes, at } = await got;
      const ms = at - start;
      const floor = 80 + (size * 8) / kbps;
      assert.equal(bytes.length, size);
      // In 64 KB reads, a round trip per chunk would be 64 × 80 ms = 5 s on top of the 839 ms.
      assert.ok(ms >= floor - 5, `the transfer took ${ms.toFixed(0)} ms, less than its ${floor.toFixed(0)} ms floor`);
      assert.ok(ms < floor + 1_500, `the transfer took ${ms.toFixed(0)} ms against a floor of ${floor.toFixed(0)} ms`);
      socket.destroy();

      // Without a bandwidth cap, 16 MB through an 80 ms round trip: a round trip per 64 KB chunk would be 20 s.
      link.setBandwidth(null);
      const big = Buffer.alloc(16 * 1024 * 1024, 1);
      const echoLink = await LinkProxy.start({ to: `127.0.0.1:${portOf(echo)}`, rttMs: 80 });
      const s2 = await connect(echoLink.port);
      await sleep(100);
      const t0 = performance.now();
      const back = readBytes(s2, big.length);
      s2.write(big);
      const echoed = await back;
      const echoMs = echoed.at - t0;
      assert.ok(echoMs >= 79 && echoMs < 3_000, `16 MB there and back took ${echoMs.toFixed(0)} ms with an 80 ms round trip`);
      s2.destroy();
      await echoLink.stop();
    } finally {
      await link.stop();
      server.close();
    }
  });

  it('stalled, holds every byte until it is up again; reset, resets every connection and each new one', async () => {
    const link = await LinkProxy.start({ to: `127.0.0.1:${portOf(echo)}` });
    try {
      const socket = await connect(link.port);
      link.setDown('stall');
      let arrived = false;
      const back = readBytes(socket, 5).then((r) => {
        arrived = true;
        return r;
      });
      socket.write('hello');
      await sleep(300);
      assert.equal(arrived, false, 'bytes crossed a stalled link');
      link.setDown(false);
      assert.equal((await back).bytes.toString(), 'hello');

      link.setDown('reset');
      const [err] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
      assert.equal(err.code, 'ECONNRESET');
      const fresh = createConnection({ host: '127.0.0.1', port: link.port });
      fresh.on('data', () => assert.fail('a new connection got data through a reset link'));
      const [freshErr] = (await once(fresh, 'error')) as [NodeJS.ErrnoException];
      assert.equal(freshErr.code, 'ECONNRESET');

      link.setDown(false);
      const again = await connect(link.port);
      const reply = readBytes(again, 2);
      again.write('ok');
      assert.equal((await reply).bytes.toString(), 'ok');
      again.destroy();
    } finally {
      await link.stop();
    }
  });

  it('refuses settings that make no sense, saying what is expected', async () => {
    await assert.rejects(
      LinkProxy.start({ to: '127.0.0.1' }),
      (err: Error) => err instanceof LinkOptionError && /host:port/.test(err.message),
    );
    await assert.rejects(LinkProxy.start({ to: '127.0.0.1:1', rttMs: -1 }), /round-trip time must be 0 ms or more; got -1/);
    await assert.rejects(
      LinkProxy.start({ to: '127.0.0.1:1', rttMs: 10, jitterMs: 30 }),
      /jitter must be from 0 ms to the round-trip time/,
    );
    await assert.rejects(LinkProxy.start({ to: '127.0.0.1:1', kbps: 0 }), /bandwidth must be above 0/);
    const cli = spawnSync(process.execPath, ['--import', 'tsx', 'test/harness/link/cli.ts', '--rtt', '80'], { encoding: 'utf8' });
    assert.equal(cli.status, 2);
    assert.match(cli.stderr, /--to is required: the server to forward to, as host:port/);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'test/harness/link/cli.ts', '--to', 'x:1', '--rtt', 'slow'], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--rtt must be a number; got "slow"/);
  });
});

describe('link simulator with the MongoDB driver', () => {
  let rs: ReplSet;
  before(async () => {
    rs = await startReplSet();
  });
  after(() => rs.stop());

  it('points a connection string at the link as a direct connection, keeping its other options', () => {
    assert.equal(linkTarget('mongodb://u:p@db1.example:27018,db2.example:27018/pos?replicaSet=rs0&tls=true'), 'db1.example:27018');
    assert.equal(linkTarget('mongodb://localhost/'), 'localhost:27017');
    assert.equal(
      linkedUri('mongodb://u:p@db1.example:27018,db2.example:27018/pos?replicaSet=rs0&tls=true', 4000),
      'mongodb://u:p@127.0.0.1:4000/pos?tls=true&directConnection=true',
    );
    assert.throws(() => linkedUri('mongodb+srv://cluster.example.net/', 4000), /mongodb\+srv:\/\/ one names no single server/);
  });

  it('carries the driver’s commands and transactions, counting each request and reply by command', async () => {
    const link = await LinkProxy.start({ to: linkTarget(rs.uri) });
    const client = new MongoClient(linkedUri(rs.uri, link.port), { serverSelectionTimeoutMS: 10_000 });
    try {
      await client.connect();
      const coll = client.db('linktest').collection('orders');
      await coll.deleteMany({});
      const before = link.counters();
      await coll.insertOne({ _id: 'a', total: 3 } as never);
      assert.deepEqual(await coll.find({}).toArray(), [{ _id: 'a', total: 3 }]);
      const session = client.startSession();
      await session.withTransaction(async () => {
        await coll.updateOne({ _id: 'a' } as never, { $inc: { total: 1 } }, { session });
        await coll.insertOne({ _id: 'b', total: 1 } as never, { session });
      });
      await session.endSession();
      const seen = countersSince(link.counters(), before);
      const pairs = (name: string): [number, number] => [seen.commands[name]?.requests ?? 0, seen.commands[name]?.replies ?? 0];
      assert.deepEqual(pairs('insert'), [2, 2]);
      assert.deepEqual(pairs('find'), [1, 1]);
      assert.deepEqual(pairs('update'), [1, 1]);
      assert.deepEqual(pairs('commitTransaction'), [1, 1]);
      assert.equal(requestCount(seen.commands), 5 + (seen.commands.endSessions?.requests ?? 0));
      assert.ok(seen.bytesToServer > 0 && seen.bytesToClient > 0);
      assert.deepEqual(await coll.find({}).sort({ _id: 1 }).toArray(), [
        { _id: 'a', total: 4 },
        { _id: 'b', total: 1 },
      ]);

      link.setDelay({ rttMs: 80 });
      const start = performance.now();
      await client.db('admin').command({ ping: 1 });
      const ms = performance.now() - start;
      assert.ok(ms >= 79, `a ping took ${ms.toFixed(0)} ms through an 80 ms round trip`);
    } finally {
      await client.close();
      await link.stop();
    }
  });

  it('fails the driver’s operations while the link resets connections, and serves them again once it is up', async () => {
    const link = await LinkProxy.start({ to: linkTarget(rs.uri) });
    const client = new MongoClient(linkedUri(rs.uri, link.port), {
      serverSelectionTimeoutMS: 1_500,
      retryWrites: false,
      retryReads: false,
    });
    try {
      await client.connect();
      const coll = client.db('linktest').collection('down');
      await coll.insertOne({ n: 1 });
      link.setDown('reset');
      await assert.rejects(coll.insertOne({ n: 2 }), (err: Error) =>
        /ECONNRESET|Mongo(Network|ServerSelection)/.test(`${err.name} ${err.message}`),
      );
      link.setDown(false);
      let done = false;
      for (let attempt = 0; attempt < 20 && !done; attempt += 1) {
        done = await coll.insertOne({ n: 3 }).then(
          () => true,
          () => sleep(250).then(() => false),
        );
      }
      assert.ok(done, 'the driver never got through the link once it was up');
      assert.equal(await coll.countDocuments({ n: 3 }), 1);
    } finally {
      await client.close();
      await link.stop();
    }
  });

  it('runs as its own process, changed and read over IPC', async () => {
    const link = await LinkProcess.start(linkTarget(rs.uri));
    const client = new MongoClient(linkedUri(rs.uri, link.port), { serverSelectionTimeoutMS: 10_000 });
    try {
      await client.connect();
      await client.db('admin').command({ ping: 1 });
      assert.equal((await link.counters()).commands.ping?.replies, 1);
      await link.setDelay(80, 10);
      const start = performance.now();
      await client.db('admin').command({ ping: 1 });
      const ms = performance.now() - start;
      assert.ok(ms >= 69, `a ping took ${ms.toFixed(0)} ms through an 80 ± 10 ms round trip`);
      await assert.rejects(link.setDelay(10, 50), /jitter must be from 0 ms to the round-trip time/);
    } finally {
      await client.close();
      await link.stop();
    }
  });
});
