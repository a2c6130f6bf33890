/**
 * Emulator speed and memory, printed as a table (not a timed test).
 *   npm run bench:emulator [-- --quick]
 * Throughput and latency are measured with the emulator in the benchmark's
 * process, as the test suites run it; single-insert throughput is also shown
 * against the emulator in its own process (as `npm run emulator` runs it).
 * Memory is measured in a fresh emulator process holding only that data.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { startEmulator } from '../harness/mongo/index.ts';

const quick = process.argv.includes('--quick');

interface Row {
  measure: string;
  value: string;
  target: string;
  ok: boolean | undefined;
}
const rows: Row[] = [];
function report(measure: string, value: string, target: string, ok?: boolean): void {
  rows.push({ measure, value, target, ok });
  process.stderr.write(`  ${measure}: ${value}\n`);
}

async function startEmulatorProcess(): Promise<{ child: ChildProcess; uri: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/harness/mongo/cli.ts', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const [uri] = (await once(lines, 'line')) as [string];
  return { child, uri };
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function insertManyThroughput(coll: Collection<Document>): Promise<void> {
  const batches = quick ? 20 : 100;
  const ms = await timed(async () => {
    for (let b = 0; b < batches; b += 1) {
      await coll.insertMany(Array.from({ length: 1000 }, (_, i) => ({ b, i, name: `item-${i}`, price: i * 0.5 })));
    }
  });
  const rate = (batches * 1000) / (ms / 1000);
  report('insertMany, batches of 1,000 small docs', `${Math.round(rate).toLocaleString('en')} docs/s`, '>= 20,000 docs/s', rate >= 20_000);
}

async function insertOneThroughput(coll: Collection<Document>, where: string): Promise<void> {
  const n = quick ? 2000 : 10_000;
  for (let i = 0; i < 1000; i += 1) await coll.insertOne({ i, kind: 'warm-up' });
  const ms = await timed(async () => {
    for (let i = 0; i < n; i += 1) await coll.insertOne({ i, kind: 'single' });
  });
  const rate = n / (ms / 1000);
  report(
    `insertOne, one connection, sequential (${where})`,
    `${Math.round(rate).toLocaleString('en')} ops/s`,
    '>= 3,000 ops/s',
    rate >= 3000,
  );
}

async function findByIdAt(client: MongoClient, size: number): Promise<number> {
  const coll = client.db('bench').collection<Document & { _id: number }>(`byid_${size}`);
  for (let start = 0; start < size; start += 10_000) {
    const n = Math.min(10_000, size - start);
    await coll.insertMany(Array.from({ length: n }, (_, i) => ({ _id: start + i, v: i })));
  }
  const lookups = quick ? 1000 : 5000;
  for (let i = 0; i < 200; i += 1) await coll.findOne({ _id: i % size }); // warm up
  const ms = await timed(async () => {
    for (let i = 0; i < lookups; i += 1) await coll.findOne({ _id: (i * 7919) % size });
  });
  return (ms * 1000) / lookups;
}

async function changeStreamLatency(client: MongoClient): Promise<void> {
  const coll = client.db('bench').collection('latency');
  const rate = 500;
  const seconds = quick ? 3 : 10;
  const latencies: number[] = [];
  const stream = coll.watch([], { maxAwaitTimeMS: 1000 });
  stream.on('change', (event: Document) => {
    const sentAt = (event.fullDocument as { sentAt: number } | undefined)?.sentAt;
    if (sentAt !== undefined) latencies.push(performance.timeOrigin + performance.now() - sentAt);
  });
  await new Promise((resolve) => setTimeout(resolve, 300)); // stream open
  const total = rate * seconds;
  const start = performance.now();
  for (let i = 0; i < total; i += 1) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    void coll.insertOne({ i, sentAt: performance.timeOrigin + performance.now() });
  }
  const deadline = Date.now() + 10_000;
  while (latencies.length < total && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  await stream.close();
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  report(
    `change stream, insert to 'change' event at ${rate} writes/s (${latencies.length}/${total} seen)`,
    `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`,
    'p50 <= 5 ms, p99 <= 25 ms',
    latencies.length === total && p50 <= 5 && p99 <= 25,
  );
}

async function memoryAt100k(client: MongoClient, pid: number): Promise<void> {
  const coll = client.db('bench').collection('memory');
  const before = rssMb(pid);
  const filler = 'x'.repeat(1000 - 40);
  const total = quick ? 20_000 : 100_000;
  for (let start = 0; start < total; start += 1000) {
    await coll.insertMany(Array.from({ length: 1000 }, (_, i) => ({ n: start + i, filler })));
  }
  (global as { gc?: () => void }).gc?.();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = rssMb(pid);
  report(
    `emulator process resident memory holding ${total.toLocaleString('en')} docs of 1 KB`,
    `${after.toFixed(0)} MB (was ${before.toFixed(0)} MB)`,
    '< 400 MB',
    after < 400,
  );
}

async function main(): Promise<void> {
  const emulator = await startEmulator({});
  const client = new MongoClient(emulator.uri, { maxPoolSize: 20 });
  try {
    await client.connect();
    await insertManyThroughput(client.db('bench').collection('many'));
    await insertOneThroughput(client.db('bench').collection('one'), 'in-process emulator');
    const small = await findByIdAt(client, 100);
    const large = await findByIdAt(client, quick ? 20_000 : 100_000);
    report(
      'findOne by _id, 100 docs vs 100,000 docs',
      `${small.toFixed(0)} µs vs ${large.toFixed(0)} µs per lookup`,
      'about the same',
      large <= small * 1.5,
    );
  } finally {
    await client.close();
    await emulator.stop();
  }
  const { child, uri } = await startEmulatorProcess();
  const pid = child.pid as number;
  const remote = new MongoClient(uri);
  try {
    await remote.connect();
    report('emulator process resident memory at start', `${rssMb(pid).toFixed(0)} MB`, '-', undefined);
    await insertOneThroughput(remote.db('bench').collection('one'), 'emulator in its own process');
    await changeStreamLatency(remote);
    await remote.db('bench').dropDatabase();
    await memoryAt100k(remote, pid);
  } finally {
    await remote.close();
    child.kill('SIGTERM');
  }
  const width = Math.max(...rows.map((r) => r.measure.length));
  const vwidth = Math.max(...rows.map((r) => r.value.length));
  console.log(`\nEmulator benchmark${quick ? ' (quick)' : ''} — node ${process.version}, ${new Date().toISOString()}`);
  console.log(`${'measure'.padEnd(width)}  ${'value'.padEnd(vwidth)}  target`);
  for (const r of rows) {
    const mark = r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED';
    console.log(`${r.measure.padEnd(width)}  ${r.value.padEnd(vwidth)}  ${r.target}${mark}`);
  }
}

await main();
