/**
 * Agent memory (not a timed test), in one of two ways:
 *
 *   npm run bench:memory [-- --minutes M]
 * Under steady load, printed every 30 s: the till takes orders (50 inserts and
 * 10 updates every 100 ms, as fast as the servers allow) while HQ edits the
 * menu on the hub, so both directions run the whole time. A steady agent's
 * resident memory levels off after the first minute.
 *
 *   npm run bench:memory -- --burst [--changes N]
 * After bursts: at rest, then N (30,000) changes written on the till at once
 * and pushed, then N written on the hub at once and pulled; the agent's
 * resident memory at rest, at its peak, and every 10 s for a minute after
 * each burst (issue 18's target: <= 150 MB one minute after).
 *
 * One hub and one till, each an emulator in its own process, and the till's
 * headless agent (BENCH_AGENT_CONFIG=<file.json> for another engine
 * configuration).
 */
import { MongoClient } from 'mongodb';
import { insertInBatches, waitCount } from './load.ts';
import { agentProcess, emulatorProcess, rssMb, type Child } from './processes.ts';

const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg >= 0 ? Number(process.argv[minutesArg + 1]) : 5;
if (!(minutes > 0)) throw new Error(`--minutes: got "${process.argv[minutesArg + 1]}", expected a positive number`);
const changesArg = process.argv.indexOf('--changes');
const changes = changesArg >= 0 ? Number(process.argv[changesArg + 1]) : 30_000;
if (!Number.isInteger(changes) || changes <= 0)
  throw new Error(`--changes: got "${process.argv[changesArg + 1]}", expected a positive whole number`);

const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
const extra = process.env.BENCH_AGENT_CONFIG ? ['--config', process.env.BENCH_AGENT_CONFIG] : [];
// At level info, to see when it gives memory back after a burst.
const agent = await agentProcess(['--local', till.uri, '--hub', hub.uri, '--db', 'pos', '--device-id', 'memory-a', ...extra], {
  logLevel: 'info',
});

/** What the agent said about giving memory back since line `from` of its log. */
function releases(from: number): string[] {
  return agent.lines.slice(from).flatMap((line) => {
    if (!line.includes('"memory.released"')) return [];
    const r = JSON.parse(line) as { heapMbBefore: number; heapMbAfter: number; ms: number };
    return [`heap ${r.heapMbBefore} -> ${r.heapMbAfter} MB in ${r.ms} ms`];
  });
}
const tillClient = new MongoClient(till.uri);
const hqClient = new MongoClient(hub.uri);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `burst` while sampling the agent's memory; then a minute at rest, sampled every 10 s. */
async function afterBurst(what: string, child: Child, burst: () => Promise<void>): Promise<number> {
  let peak = rssMb(child.pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(child.pid))), 250);
  const started = performance.now();
  const logFrom = agent.lines.length;
  try {
    await burst();
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`${what}: ${changes.toLocaleString('en')} changes in ${seconds.toFixed(1)} s; agent peak ${peak.toFixed(0)} MB`);
  const after: string[] = [];
  let last = 0;
  for (let s = 10; s <= 60; s += 10) {
    await sleep(10_000);
    last = rssMb(child.pid);
    after.push(`${s} s ${last.toFixed(0)}`);
  }
  console.log(`  then at rest (MB): ${after.join(', ')}`);
  const released = releases(logFrom);
  console.log(`  memory given back by the agent: ${released.length === 0 ? 'never' : released.join('; ')}`);
  return last;
}

async function bursts(): Promise<void> {
  await sleep(20_000);
  const rest = rssMb(agent.pid);
  console.log(`agent at rest before the bursts: ${rest.toFixed(0)} MB`);
  const afterPush = await afterBurst('push burst (till → hub)', agent, async () => {
    await insertInBatches(tillClient, 'burst_push', changes);
    await waitCount(hqClient, 'burst_push', changes, 600_000);
  });
  const afterPull = await afterBurst('pull burst (hub → till)', agent, async () => {
    await insertInBatches(hqClient, 'burst_pull', changes);
    await waitCount(tillClient, 'burst_pull', changes, 600_000);
  });
  console.log(
    `\nagent resident memory: ${rest.toFixed(0)} MB at rest; one minute after a ${changes.toLocaleString('en')}-change burst ` +
      `${afterPush.toFixed(0)} MB (push), ${afterPull.toFixed(0)} MB (pull); target <= 150 MB`,
  );
}

async function steady(): Promise<void> {
  const samples: Array<{ s: number; mb: number; orders: number }> = [];
  const start = Date.now();
  let orders = 0;
  let lastSample = -Infinity;
  const sample = (): void => {
    const row = { s: Math.round((Date.now() - start) / 1000), mb: rssMb(agent.pid), orders };
    samples.push(row);
    console.log(`${String(row.s).padStart(5)} s  agent ${row.mb.toFixed(0)} MB  ${orders.toLocaleString('en')} orders written`);
  };
  while (Date.now() - start < minutes * 60_000) {
    const batch = Array.from({ length: 50 }, () => ({
      _id: `order-${orders++}`,
      total: orders % 100,
      lines: [{ sku: 'soup', qty: 1 }],
      note: 'x'.repeat(300),
    }));
    await tillClient.db('pos').collection<{ _id: string }>('orders').insertMany(batch);
    await tillClient
      .db('pos')
      .collection('orders')
      .updateMany({ _id: { $in: batch.slice(0, 10).map((d) => d._id) } } as never, { $inc: { total: 1 } });
    await hqClient
      .db('pos')
      .collection('menu')
      .updateOne({ _id: `menu-${orders % 200}` } as never, { $set: { price: orders % 50 } }, { upsert: true });
    await new Promise((resolve) => setTimeout(resolve, 100));
    if (Date.now() - lastSample >= 30_000) {
      lastSample = Date.now();
      sample();
    }
  }
  sample();
  const afterWarmUp = samples.find((r) => r.s >= 60) ?? samples[0];
  const end = samples[samples.length - 1];
  if (afterWarmUp && end) {
    console.log(
      `\nagent resident memory after the first minute ${afterWarmUp.mb.toFixed(0)} MB, at the end ${end.mb.toFixed(0)} MB (${end.orders.toLocaleString('en')} orders in ${minutes} min)`,
    );
  }
}

try {
  if (process.argv.includes('--burst')) await bursts();
  else await steady();
} finally {
  await tillClient.close();
  await hqClient.close();
  await agent.stop();
  await hub.stop();
  await till.stop();
}
