/**
 * Sync engine speed, printed as a table (not a timed test):
 *   npm run bench [-- --quick]
 * One hub and two tills, each an emulator in its own process, and one headless
 * agent process per till. Measures till-to-till propagation at a steady rate,
 * sustained throughput each way through one engine, the engine's push beside
 * raw driver bulk writes to the same hub, and agent memory at start and end.
 */
import { MongoClient, type Document } from 'mongodb';
import { agentProcess, emulatorProcess, rssMb, type Child } from './processes.ts';

const quick = process.argv.includes('--quick');
const DB = 'pos';

interface Row {
  measure: string;
  value: string;
  target: string;
  ok?: boolean;
}
const rows: Row[] = [];
function report(row: Row): void {
  rows.push(row);
  process.stderr.write(`  ${row.measure}: ${row.value}\n`);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : (sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number);
}

async function waitCount(client: MongoClient, coll: string, n: number, timeoutMs: number): Promise<number> {
  const start = performance.now();
  for (;;) {
    const count = await client.db(DB).collection(coll).countDocuments();
    if (count >= n) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`only ${count} of ${n} documents arrived in ${coll} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

function doc(i: number): Document {
  return { i, name: `item ${i}`, price: (i % 97) * 0.25, tags: ['a', 'b'], at: new Date() };
}

async function propagation(tillA: MongoClient, tillB: MongoClient): Promise<void> {
  const rate = 200;
  const seconds = quick ? 5 : 20;
  const total = rate * seconds;
  const latencies: number[] = [];
  const stream = tillB.db(DB).collection('propagation').watch([{ $match: { operationType: 'insert' } }]);
  stream.on('change', (event: Document) => {
    const sentAt = (event.fullDocument as { sentAt?: number }).sentAt;
    if (sentAt !== undefined) latencies.push(performance.timeOrigin + performance.now() - sentAt);
  });
  await sleep(500);
  const coll = tillA.db(DB).collection('propagation');
  const start = performance.now();
  for (let i = 0; i < total; i += 1) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    void coll.insertOne({ i, sentAt: performance.timeOrigin + performance.now() });
  }
  const deadline = Date.now() + 30_000;
  while (latencies.length < total && Date.now() < deadline) await sleep(50);
  await stream.close();
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  report({
    measure: `till A → till B propagation at ${rate} writes/s for ${seconds} s (${latencies.length}/${total} arrived)`,
    value: `p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`,
    target: 'p50 <= 50 ms, p99 <= 250 ms',
    ok: latencies.length === total && p50 <= 50 && p99 <= 250,
  });
}

async function insertInBatches(client: MongoClient, coll: string, n: number, offset = 0): Promise<void> {
  for (let start = 0; start < n; start += 1000) {
    await client.db(DB).collection(coll).insertMany(Array.from({ length: Math.min(1000, n - start) }, (_, k) => doc(offset + start + k)));
  }
}

async function throughput(tillA: MongoClient, hub: MongoClient): Promise<void> {
  const n = quick ? 6_000 : 30_000;
  // Push: changes written on till A, timed until all are on the hub.
  const pushStart = performance.now();
  await insertInBatches(tillA, 'push_load', n);
  await waitCount(hub, 'push_load', n, 300_000);
  const pushRate = n / ((performance.now() - pushStart) / 1000);
  report({ measure: `push: ${n.toLocaleString('en')} till changes through one engine to the hub`, value: `${Math.round(pushRate).toLocaleString('en')} changes/s`, target: '>= 3,000 changes/s', ok: pushRate >= 3000 });
  // Raw driver bulk writes of the same documents to the same hub.
  const rawStart = performance.now();
  await insertInBatches(hub, 'raw_load', n);
  const rawRate = n / ((performance.now() - rawStart) / 1000);
  report({ measure: 'raw driver insertMany to the same hub, same documents', value: `${Math.round(rawRate).toLocaleString('en')} docs/s`, target: '-' });
  report({ measure: 'engine push throughput / raw bulk writes', value: `${(pushRate / rawRate).toFixed(2)}`, target: '-' });
  // Pull: written on the hub (as HQ would), timed until all are on till A.
  const pullStart = performance.now();
  await insertInBatches(hub, 'pull_load', n);
  await waitCount(tillA, 'pull_load', n, 300_000);
  const pullRate = n / ((performance.now() - pullStart) / 1000);
  report({ measure: `pull: ${n.toLocaleString('en')} hub changes through one engine to the till`, value: `${Math.round(pullRate).toLocaleString('en')} changes/s`, target: '>= 3,000 changes/s', ok: pullRate >= 3000 });
}

async function main(): Promise<void> {
  const children: Child[] = [];
  const clients: MongoClient[] = [];
  try {
    const [hub, a, b] = await Promise.all([emulatorProcess(), emulatorProcess(), emulatorProcess()]);
    children.push(hub, a, b);
    const agentA = await agentProcess(['--local', a.uri, '--hub', hub.uri, '--db', DB, '--device-id', 'bench-a']);
    const agentB = await agentProcess(['--local', b.uri, '--hub', hub.uri, '--db', DB, '--device-id', 'bench-b']);
    children.push(agentA, agentB);
    const rssStart = rssMb(agentA.pid);
    const [hubClient, tillA, tillB] = await Promise.all([hub.uri, a.uri, b.uri].map(async (uri) => {
      const c = new MongoClient(uri);
      await c.connect();
      return c;
    }));
    clients.push(hubClient as MongoClient, tillA as MongoClient, tillB as MongoClient);
    await propagation(tillA as MongoClient, tillB as MongoClient);
    await throughput(tillA as MongoClient, hubClient as MongoClient);
    const rssEnd = rssMb(agentA.pid);
    report({ measure: 'till A agent resident memory, start → end', value: `${rssStart.toFixed(0)} MB → ${rssEnd.toFixed(0)} MB`, target: 'steady' });
  } catch (err) {
    for (const child of children) {
      if ('lines' in child) process.stderr.write(`--- agent ${child.pid} said:\n${(child.lines as string[]).slice(-20).join('\n')}\n`);
    }
    throw err;
  } finally {
    for (const c of clients) await c.close();
    for (const child of children.reverse()) await child.stop();
  }
  const w = Math.max(...rows.map((r) => r.measure.length));
  const v = Math.max(...rows.map((r) => r.value.length));
  console.log(`\nSync benchmark${quick ? ' (quick)' : ''} — one hub, two tills, one agent per till, each in its own process; node ${process.version}`);
  console.log(`${'measure'.padEnd(w)}  ${'value'.padEnd(v)}  target`);
  for (const r of rows) console.log(`${r.measure.padEnd(w)}  ${r.value.padEnd(v)}  ${r.target}${r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED'}`);
}

await main();
