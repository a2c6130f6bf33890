/**
 * Sync engine speed, printed as a table (not a timed test):
 *   npm run bench [-- [--quick] [--rtt MS [--jitter MS] [--kbps K]]]
 * One hub and two tills, each an emulator in its own process, and one headless
 * agent process per till. Measures till-to-till propagation at a steady rate,
 * sustained throughput each way through one engine, the engine's push beside
 * raw driver bulk writes to the same hub, and agent memory at start and end.
 * With `--rtt`, the agents reach the hub through a simulated internet link and
 * each figure is printed beside its floor through the same link (over-link.ts).
 */
import { MongoClient } from 'mongodb';
import { cpus } from 'node:os';
import {
  connectAll,
  DB,
  insertDocs,
  insertInBatches,
  kbDoc,
  percentile,
  propagation as runPropagation,
  RAW_DB,
  reconcileOnce,
  stamped,
  waitCount,
} from './load.ts';
import { agentProcess, CpuMeter, emulatorProcess, rssMb, type Child } from './processes.ts';
import { runLinkBench } from './over-link.ts';
import { checkSettings, type LinkSettings } from '../harness/link/proxy.ts';

const quick = process.argv.includes('--quick');
/** `--only reconcile` runs just the reconciliation figures; `--only sync` just the rest; `--only propagation` just that figure; over a link (`--rtt`), `--only push` just the push. */
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

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

/** The sync figures' processes, to show where each figure's CPU time went. */
let meter: CpuMeter | undefined;

/** A row under a figure: CPU seconds each process used while it was taken, and per change for the agents. */
function cpuRow(changes: number): void {
  if (!meter) return;
  const { wallS, cpu } = meter.read();
  const s = (name: string): string => (cpu[name] ?? 0).toFixed(1);
  const agentsUs = (((cpu['agent A'] ?? 0) + (cpu['agent B'] ?? 0)) * 1e6) / changes;
  report({
    measure: '  CPU used meanwhile, by process',
    value: `agents A ${s('agent A')} s + B ${s('agent B')} s (${Math.round(agentsUs)} µs/change); servers hub ${s('hub')} s, A ${s('till A')} s, B ${s('till B')} s; of ${(wallS * cpus().length).toFixed(1)} s (${cpus().length} cores)`,
    target: '-',
  });
}

async function propagation(tillA: MongoClient, tillB: MongoClient): Promise<void> {
  const { rate, seconds, warmupSeconds, latencies, warmup, total } = await runPropagation(tillA, tillB, {
    rate: 200,
    seconds: quick ? 5 : 20,
    warmupSeconds: quick ? 1 : 3,
    onCounted: () => meter?.start(),
  });
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  report({
    measure: `till A → till B propagation at ${rate} writes/s for ${seconds} s (${latencies.length}/${total} arrived)`,
    value: `p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`,
    target: 'p50 <= 50 ms, p99 <= 250 ms',
    ok: latencies.length === total && p50 <= 50 && p99 <= 250,
  });
  cpuRow(total);
  report({
    measure: `  the ${warmupSeconds} s before it, just after the agents started (not counted above)`,
    value: `p50 ${percentile(warmup, 50).toFixed(0)} ms, p99 ${percentile(warmup, 99).toFixed(0)} ms, worst ${(warmup[warmup.length - 1] ?? NaN).toFixed(0)} ms`,
    target: '-',
  });
}

async function throughput(tillA: MongoClient, tillB: MongoClient, hub: MongoClient): Promise<void> {
  const n = quick ? 6_000 : 30_000;
  // Push: changes written on till A, timed until all are on the hub.
  meter?.start();
  const pushStart = performance.now();
  await insertInBatches(tillA, 'push_load', n);
  await waitCount(hub, 'push_load', n, 300_000);
  const pushRate = n / ((performance.now() - pushStart) / 1000);
  report({
    measure: `push: ${n.toLocaleString('en')} till changes through one engine to the hub`,
    value: `${Math.round(pushRate).toLocaleString('en')} changes/s`,
    target: '>= 3,000 changes/s',
    ok: pushRate >= 3000,
  });
  cpuRow(n);
  await waitCount(tillB, 'push_load', n, 300_000); // till B's pull of them is not part of the next figures
  // Raw driver bulk writes of the same documents to the same hub server (a database no till syncs).
  const rawStart = performance.now();
  await insertInBatches(hub, 'raw_load', n, 0, RAW_DB);
  const rawRate = n / ((performance.now() - rawStart) / 1000);
  report({
    measure: 'raw driver insertMany to the same hub server, same documents',
    value: `${Math.round(rawRate).toLocaleString('en')} docs/s`,
    target: '-',
  });
  report({ measure: 'engine push throughput / raw bulk writes', value: `${(pushRate / rawRate).toFixed(2)}`, target: '-' });
  // Pull: written on the hub (as HQ would), timed until all are on till A.
  meter?.start();
  const pullStart = performance.now();
  await insertInBatches(hub, 'pull_load', n);
  await waitCount(tillA, 'pull_load', n, 300_000);
  const pullRate = n / ((performance.now() - pullStart) / 1000);
  report({
    measure: `pull: ${n.toLocaleString('en')} hub changes through one engine to the till`,
    value: `${Math.round(pullRate).toLocaleString('en')} changes/s`,
    target: '>= 3,000 changes/s',
    ok: pullRate >= 3000,
  });
  cpuRow(n);
}

async function reconciliation(): Promise<void> {
  const n = quick ? 20_000 : 100_000;
  // A till and a hub that already hold the same 1 KB documents, 10% of them different on the till.
  {
    const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
    const [hubClient, tillClient] = [new MongoClient(hub.uri), new MongoClient(till.uri)];
    try {
      await insertDocs(
        hubClient,
        'menu',
        Array.from({ length: n }, (_, i) => stamped(kbDoc(i))),
      );
      await insertDocs(
        tillClient,
        'menu',
        Array.from({ length: n }, (_, i) => kbDoc(i, i % 10 === 0 ? 1 : 0)),
      );
      const { ms } = await reconcileOnce(till.uri, hub.uri, 'bench-r', n);
      const differing = await hubClient.db(DB).collection('menu').countDocuments({ v: 1 });
      report({
        measure: `reconcile ${n.toLocaleString('en')} × 1 KB docs, 10% differing (first start)`,
        value: `${(ms / 1000).toFixed(1)} s (${differing.toLocaleString('en')} pushed)`,
        target: '<= 20 s',
        ok: ms <= 20_000,
      });
    } finally {
      await hubClient.close();
      await tillClient.close();
      await hub.stop();
      await till.stop();
    }
  }
  // A till that joins late: the hub has the documents, the till nothing.
  {
    const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
    const [hubClient, tillClient] = [new MongoClient(hub.uri), new MongoClient(till.uri)];
    try {
      await insertDocs(
        hubClient,
        'menu',
        Array.from({ length: n }, (_, i) => stamped(kbDoc(i))),
      );
      const { ms } = await reconcileOnce(till.uri, hub.uri, 'bench-late', n);
      const arrived = await tillClient.db(DB).collection('menu').countDocuments();
      report({
        measure: `late-joining till, ${n.toLocaleString('en')} hub docs of 1 KB`,
        value: `${(ms / 1000).toFixed(1)} s (${arrived.toLocaleString('en')} arrived)`,
        target: '<= 15 s',
        ok: ms <= 15_000 && arrived === n,
      });
    } finally {
      await hubClient.close();
      await tillClient.close();
      await hub.stop();
      await till.stop();
    }
  }
}

/** The value after `--name`, or undefined when the flag is absent. */
function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at < 0 ? undefined : (process.argv[at + 1] ?? '');
}

/** `--rtt MS [--jitter MS] [--kbps K]`: the figures with the hub behind a simulated link (over-link.ts), beside their floors. */
function linkSettings(): LinkSettings | undefined {
  const rtt = flag('rtt');
  if (rtt === undefined) {
    for (const other of ['jitter', 'kbps'])
      if (flag(other) !== undefined) throw new Error(`--${other} needs --rtt MS (the link's round-trip time)`);
    return undefined;
  }
  const num = (name: string, text: string | undefined): number => {
    const value = Number(text);
    if (text === undefined || text.trim() === '' || !Number.isFinite(value))
      throw new Error(`--${name} must be a number of ${name === 'kbps' ? 'kbit/s' : 'ms'}; got "${text}"`);
    return value;
  };
  const kbps = flag('kbps');
  return checkSettings({
    rttMs: num('rtt', rtt),
    jitterMs: flag('jitter') === undefined ? 0 : num('jitter', flag('jitter')),
    kbps: kbps === undefined ? null : num('kbps', kbps),
  });
}

async function main(): Promise<void> {
  let link: LinkSettings | undefined;
  try {
    link = linkSettings();
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(2);
  }
  if (link) return runLinkBench({ ...link, quick, only });
  if (only !== 'reconcile') await syncFigures();
  if (only !== 'sync' && only !== 'propagation') await reconciliation();
  printTable();
}

async function syncFigures(): Promise<void> {
  const children: Child[] = [];
  const clients: MongoClient[] = [];
  try {
    const [hub, a, b] = await Promise.all([emulatorProcess(), emulatorProcess(), emulatorProcess()]);
    children.push(hub, a, b);
    // BENCH_AGENT_CONFIG=<file.json> runs both agents with that engine configuration (e.g. another batchSize).
    const extra = process.env.BENCH_AGENT_CONFIG ? ['--config', process.env.BENCH_AGENT_CONFIG] : [];
    const agentA = await agentProcess(['--local', a.uri, '--hub', hub.uri, '--db', DB, '--device-id', 'bench-a', ...extra]);
    const agentB = await agentProcess(['--local', b.uri, '--hub', hub.uri, '--db', DB, '--device-id', 'bench-b', ...extra]);
    children.push(agentA, agentB);
    meter = new CpuMeter({ 'agent A': agentA.pid, 'agent B': agentB.pid, hub: hub.pid, 'till A': a.pid, 'till B': b.pid });
    const rssStart = rssMb(agentA.pid);
    const [hubClient, tillA, tillB] = await connectAll([hub.uri, a.uri, b.uri]);
    clients.push(hubClient as MongoClient, tillA as MongoClient, tillB as MongoClient);
    await propagation(tillA as MongoClient, tillB as MongoClient);
    if (only !== 'propagation') await throughput(tillA as MongoClient, tillB as MongoClient, hubClient as MongoClient);
    const rssEnd = rssMb(agentA.pid);
    report({
      measure: 'till A agent resident memory, start → end',
      value: `${rssStart.toFixed(0)} MB → ${rssEnd.toFixed(0)} MB`,
      target: 'steady',
    });
  } catch (err) {
    for (const child of children) {
      if ('lines' in child) process.stderr.write(`--- agent ${child.pid} said:\n${(child.lines as string[]).slice(-20).join('\n')}\n`);
    }
    throw err;
  } finally {
    for (const c of clients) await c.close();
    for (const child of children.reverse()) await child.stop();
  }
}

function printTable(): void {
  const w = Math.max(...rows.map((r) => r.measure.length));
  const v = Math.max(...rows.map((r) => r.value.length));
  console.log(
    `\nSync benchmark${quick ? ' (quick)' : ''} — one hub, two tills, one agent per till, each in its own process; node ${process.version}`,
  );
  console.log(`${'measure'.padEnd(w)}  ${'value'.padEnd(v)}  target`);
  for (const r of rows)
    console.log(`${r.measure.padEnd(w)}  ${r.value.padEnd(v)}  ${r.target}${r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED'}`);
}

await main();
