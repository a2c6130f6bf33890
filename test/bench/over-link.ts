/**
 * The sync figures with the hub behind a simulated internet link:
 *   npm run bench -- --rtt 80 [--jitter J] [--kbps K] [--quick] [--only sync|propagation|push|reconcile]
 * One hub and two tills (emulators, each in its own process), an agent per
 * till whose hub connection goes through a link of its own (a till's line),
 * and a third link with the same settings for the bench's own clients, which
 * measure the floors: what the driver alone does through such a link. Each
 * figure is printed beside its floor and the ratio of the two, with the wire
 * messages the agent's link carried where they explain the figure.
 */
import type { MongoClient, Timestamp } from 'mongodb';
import { linkTarget, linkedUri } from '../harness/link/uri.ts';
import { LinkProcess } from '../harness/link/process.ts';
import type { LinkCounters, LinkSettings } from '../harness/link/proxy.ts';
import { countersSince, describeRequests, requestCount } from '../harness/link/counts.ts';
import { readAllMs, rawInsertRate, streamReadRate, writeToEventMs } from './floors.ts';
import { connectAll, DB, insertDocs, insertInBatches, kbDoc, percentile, propagation, reconcileOnce, stamped, waitCount } from './load.ts';
import { cpus } from 'node:os';
import { agentProcess, CpuMeter, emulatorProcess, type Child } from './processes.ts';

export interface LinkBenchOptions extends LinkSettings {
  quick: boolean;
  /** `sync` (propagation, push, pull), `propagation` alone, `push` alone, or `reconcile` (late join) alone. */
  only: string | undefined;
}

interface Row {
  figure: string;
  value: string;
  floor: string;
  ratio: string;
  target: string;
  ok?: boolean;
}

/** The issue's targets at 80 and 200 ms (benchmark figures on the 2-core build machine). */
interface Targets {
  p50Ms?: number;
  p99Ms?: number;
  perSecond?: number;
  pushOverRaw?: number;
  lateJoinS?: number;
}
function targetsAt(rttMs: number): Targets {
  if (rttMs === 80) return { p50Ms: 250, p99Ms: 500, perSecond: 3_000, pushOverRaw: 0.5, lateJoinS: 30 };
  if (rttMs === 200) return { p50Ms: 600, perSecond: 1_500 };
  return {};
}

const rows: Row[] = [];
function add(row: Row): void {
  rows.push(row);
  const what = row.figure.trim() ? `${row.figure.trim()}: ${row.value}` : '  and';
  process.stderr.write(`  ${what}${row.floor ? ` (floor ${row.floor})` : ''}\n`);
}

const n0 = (x: number): string => Math.round(x).toLocaleString('en');
function ratio(x: number): string {
  return !Number.isFinite(x) ? '-' : x.toFixed(x >= 10 ? 0 : x >= 1 ? 1 : 2);
}
function within(value: number, max: number | undefined): boolean | undefined {
  return max === undefined ? undefined : value <= max;
}

/**
 * A row of the hub requests an agent's link carried over a figure: how many per `unit` (`per` of them), then
 * each command's count, per unit when `perBatch`, else in all. For a push batch, the `getMore`s of the pull's
 * change stream, running beside it, are counted apart.
 */
function requestsRow(figure: string, c: LinkCounters, per: number, unit: string, perBatch = false): void {
  const { getMore, ...rest } = c.commands;
  const counted = perBatch ? rest : c.commands;
  const total = requestCount(counted);
  const each = perBatch ? describeRequests(counted, per) : `in all ${total}: ${describeRequests(counted)}`;
  const besides = perBatch && getMore ? `; besides, the pull stream's getMore ${getMore.requests} in all` : '';
  add({ figure, value: `${(total / per).toFixed(1)} ${unit}: ${each}${besides}`, floor: '', ratio: '', target: '' });
}

/** A row under a figure: the CPU seconds each process used while it was taken, to show whether the cores were the limit. */
function cpuRow({ wallS, cpu }: { wallS: number; cpu: Record<string, number> }, changes: number): void {
  const s = (name: string): string => (cpu[name] ?? 0).toFixed(1);
  const agentUs = ((cpu['agent A'] ?? 0) * 1e6) / changes;
  add({
    figure: '  CPU used meanwhile, by process',
    value: `agent A ${s('agent A')} s (${Math.round(agentUs)} µs/change), B ${s('agent B')} s; servers hub ${s('hub')} s, A ${s('till A')} s, B ${s('till B')} s; A's link ${s('links')} s; of ${(wallS * cpus().length).toFixed(1)} s (${cpus().length} cores)`,
    floor: '',
    ratio: '',
    target: '',
  });
}

/** Till A → till B at a till's pace, new orders and then changes to orders, beside the floors through the same link. */
async function propagationFigures(
  o: LinkBenchOptions,
  t: Targets,
  tillA: MongoClient,
  tillB: MongoClient,
  { writer, watcher }: { writer: MongoClient; watcher: MongoClient },
  agentLinks: { A: LinkProcess; B: LinkProcess },
): Promise<void> {
  const samples = o.quick ? 10 : 30;
  const plain = await writeToEventMs(writer, watcher, { transaction: false, samples });
  const inTxn = await writeToEventMs(writer, watcher, { transaction: true, samples });

  // Propagation at a till's pace.
  let before: Array<Promise<LinkCounters>> = [];
  const run = await propagation(tillA, tillB, {
    rate: 20,
    seconds: o.quick ? 5 : 20,
    warmupSeconds: o.quick ? 1 : 3,
    onCounted: () => {
      before = [agentLinks.A.counters(), agentLinks.B.counters()];
    },
  });
  const [beforeA, beforeB] = await Promise.all(before);
  const [afterA, afterB] = await Promise.all([agentLinks.A.counters(), agentLinks.B.counters()]);
  const p50 = percentile(run.latencies, 50);
  const p99 = percentile(run.latencies, 99);
  const [f50, f99, x50, x99] = [percentile(plain, 50), percentile(plain, 99), percentile(inTxn, 50), percentile(inTxn, 99)];
  const arrivedAll = run.latencies.length === run.total;
  const okP50 = within(p50, t.p50Ms);
  const okP99 = within(p99, t.p99Ms);
  add({
    figure: `till A → till B at ${run.rate} writes/s for ${run.seconds} s (${run.latencies.length}/${run.total} arrived), p50 / p99`,
    value: `${n0(p50)} / ${n0(p99)} ms`,
    floor: `${n0(f50)} / ${n0(f99)} ms: a write, then its change event on another client`,
    ratio: `${ratio(p50 / f50)} / ${ratio(p99 / f99)}`,
    target: [t.p50Ms && `p50 <= ${t.p50Ms} ms`, t.p99Ms && `p99 <= ${t.p99Ms} ms`].filter(Boolean).join(', ') || '-',
    ok: okP50 === undefined && okP99 === undefined ? undefined : arrivedAll && okP50 !== false && okP99 !== false,
  });
  add({
    figure: '',
    value: '',
    floor: `${n0(x50)} / ${n0(x99)} ms: the same inside a transaction`,
    ratio: `${ratio(p50 / x50)} / ${ratio(p99 / x99)}`,
    target: '',
  });
  const duringA = countersSince(afterA as LinkCounters, beforeA as LinkCounters);
  const commits = duringA.commands.commitTransaction?.requests ?? 0;
  if (commits > 0)
    requestsRow(`  hub requests per push batch, agent A (${commits} batches for ${run.total} writes)`, duringA, commits, 'a batch', true);
  requestsRow(
    '  hub requests per write, agent B (pull)',
    countersSince(afterB as LinkCounters, beforeB as LinkCounters),
    run.total,
    'a write',
  );

  // The same pace, each write a change to an order both tills already have: the push reads the hub's side first.
  const upd = await propagation(tillA, tillB, {
    rate: 20,
    seconds: o.quick ? 5 : 20,
    warmupSeconds: o.quick ? 1 : 3,
    kind: 'update',
    onCounted: () => {
      before = [agentLinks.A.counters()];
    },
  });
  const [beforeUpd] = await Promise.all(before);
  const duringUpd = countersSince((await agentLinks.A.counters()) as LinkCounters, beforeUpd as LinkCounters);
  const [u50, u99] = [percentile(upd.latencies, 50), percentile(upd.latencies, 99)];
  add({
    figure: `  the same, each write a change to an order both have (${upd.latencies.length}/${upd.total} arrived), p50 / p99`,
    value: `${n0(u50)} / ${n0(u99)} ms`,
    floor: `${n0(x50)} / ${n0(x99)} ms: a write and its event inside a transaction`,
    ratio: `${ratio(u50 / x50)} / ${ratio(u99 / x99)}`,
    target: '-',
  });
  const updCommits = duringUpd.commands.commitTransaction?.requests ?? 0;
  if (updCommits > 0)
    requestsRow(
      `  hub requests per push batch, agent A (${updCommits} batches for ${upd.total} changes)`,
      duringUpd,
      updCommits,
      'a batch',
      true,
    );
}

async function syncFigures(o: LinkBenchOptions, t: Targets): Promise<void> {
  const children: Array<{ stop(): Promise<void> }> = [];
  const clients: MongoClient[] = [];
  const agents: Array<Child & { lines: string[] }> = [];
  try {
    const [hub, a, b] = await Promise.all([emulatorProcess(), emulatorProcess(), emulatorProcess()]);
    children.push(hub, a, b);
    const [linkA, linkB, linkBench] = await Promise.all([1, 2, 3].map(() => LinkProcess.start(linkTarget(hub.uri), o)));
    children.push(linkA as LinkProcess, linkB as LinkProcess, linkBench as LinkProcess);
    const extra = process.env.BENCH_AGENT_CONFIG ? ['--config', process.env.BENCH_AGENT_CONFIG] : [];
    for (const [till, link, device] of [
      [a, linkA, 'bench-a'],
      [b, linkB, 'bench-b'],
    ] as const) {
      const agent = await agentProcess([
        '--local',
        till.uri,
        '--hub',
        linkedUri(hub.uri, (link as LinkProcess).port),
        '--db',
        DB,
        '--device-id',
        device,
        ...extra,
      ]);
      agents.push(agent);
      children.push(agent);
    }
    const benchUri = linkedUri(hub.uri, (linkBench as LinkProcess).port);
    const [hubClient, tillA, tillB, writer, watcher] = (await connectAll([hub.uri, a.uri, b.uri, benchUri, benchUri])) as [
      MongoClient,
      MongoClient,
      MongoClient,
      MongoClient,
      MongoClient,
    ];
    clients.push(hubClient, tillA, tillB, writer, watcher);
    // Both agents are up and through their links: a write on till A reaches till B.
    await tillA.db(DB).collection('bench_ready').insertOne({ at: new Date() });
    await waitCount(tillB, 'bench_ready', 1, 120_000);

    const agentLinks = { A: linkA as LinkProcess, B: linkB as LinkProcess };
    if (o.only !== 'push') await propagationFigures(o, t, tillA, tillB, { writer, watcher }, agentLinks);
    if (o.only === 'propagation') return;

    const n = o.quick ? 2_000 : 10_000;
    // Push: inserts on till A, timed until all are on the hub. First as many, not timed, both ways: a till runs
    // for hours, and until then neither the agents nor the emulators have compiled the paths large batches take
    // (after a fifth as many, the next push was still 25-60% faster than the first).
    const warm = n;
    await insertInBatches(tillA, 'push_warmup', warm);
    await waitCount(tillB, 'push_warmup', warm, 600_000);
    const meter = new CpuMeter({
      'agent A': agents[0]?.pid as number,
      'agent B': agents[1]?.pid as number,
      hub: hub.pid,
      'till A': a.pid,
      'till B': b.pid,
      links: (linkA as LinkProcess).pid,
    });
    /** Inserts `n` on till A into `coll`, timed until all are on the hub; then waits for till B to have them too. */
    const timedPush = async (coll: string, pauseB = false) => {
      const before = await agentLinks.A.counters();
      if (pauseB) process.kill(agents[1]?.pid as number, 'SIGSTOP');
      try {
        meter.start();
        const start = performance.now();
        await insertInBatches(tillA, coll, n);
        await waitCount(hubClient, coll, n, 600_000);
        const rate = n / ((performance.now() - start) / 1000);
        return { rate, cpu: meter.read(), counts: countersSince(await agentLinks.A.counters(), before) };
      } finally {
        if (pauseB) process.kill(agents[1]?.pid as number, 'SIGCONT');
        await waitCount(tillB, coll, n, 600_000); // till B's pull of them is not part of the next figures
      }
    };
    const { rate: pushRate, cpu: pushCpu, counts: pushCounts } = await timedPush('push_load');
    // The same with till B's agent paused: in the field its pull runs on its own till, not on these two cores.
    const alone = await timedPush('push_alone', true);
    const rawRate = await rawInsertRate(writer, n, 'raw_load');
    const pushOverRaw = pushRate / rawRate;
    const okPush =
      t.perSecond === undefined ? undefined : pushRate >= t.perSecond && (t.pushOverRaw === undefined || pushOverRaw >= t.pushOverRaw);
    add({
      figure: `push: ${n0(n)} inserts on till A, until all are on the hub`,
      value: `${n0(pushRate)} changes/s`,
      floor: `${n0(rawRate)} docs/s: raw driver insertMany, 1,000 a call`,
      ratio: ratio(pushOverRaw),
      target:
        [t.perSecond && `>= ${n0(t.perSecond)}/s`, t.pushOverRaw && `push / raw >= ${t.pushOverRaw}`].filter(Boolean).join(', ') || '-',
      ok: okPush,
    });
    cpuRow(pushCpu, n);
    const batches = pushCounts.commands.commitTransaction?.requests ?? 0;
    if (batches > 0)
      requestsRow(
        `  hub requests per push batch, agent A (${batches} batches, ~${n0(n / batches)} changes each)`,
        pushCounts,
        batches,
        'a batch',
        true,
      );
    add({
      figure: "  the same, till B's agent paused meanwhile (its pull runs on its own till in the field)",
      value: `${n0(alone.rate)} changes/s`,
      floor: `${n0(rawRate)} docs/s: raw insertMany (above)`,
      ratio: ratio(alone.rate / rawRate),
      target: '-',
    });
    cpuRow(alone.cpu, n);
    if (o.only === 'push') return;

    // Pull: HQ inserts on the hub (head office's own line, not a till's), timed until all are on till A.
    const since = (await hubClient.db('admin').command({ ping: 1 })).operationTime as Timestamp;
    const pullBefore = await agentLinks.A.counters();
    const pullStart = performance.now();
    await insertInBatches(hubClient, 'pull_load', n);
    await waitCount(tillA, 'pull_load', n, 600_000);
    const pullRate = n / ((performance.now() - pullStart) / 1000);
    const pullCounts = countersSince(await agentLinks.A.counters(), pullBefore);
    await waitCount(tillB, 'pull_load', n, 600_000);
    const readRate = await streamReadRate(watcher, 'pull_load', since, n);
    add({
      figure: `pull: ${n0(n)} HQ inserts on the hub, until all are on till A`,
      value: `${n0(pullRate)} changes/s`,
      floor: `${n0(rawRate)} docs/s: raw insertMany (above)`,
      ratio: ratio(pullRate / rawRate),
      target: t.perSecond ? `>= ${n0(t.perSecond)}/s` : '-',
      ok: t.perSecond === undefined ? undefined : pullRate >= t.perSecond,
    });
    add({
      figure: '',
      value: '',
      floor: `${n0(readRate)} events/s: reading them from a change stream`,
      ratio: ratio(pullRate / readRate),
      target: '',
    });
    const stamps = pullCounts.commands.commitTransaction?.requests ?? 0;
    requestsRow(
      `  hub requests per 1,000 pulled changes, agent A (${stamps} stamp transactions in all)`,
      pullCounts,
      n / 1000,
      'per 1,000',
    );
  } catch (err) {
    for (const agent of agents) process.stderr.write(`--- agent ${agent.pid} said:\n${agent.lines.slice(-20).join('\n')}\n`);
    throw err;
  } finally {
    for (const c of clients) await c.close();
    for (const child of children.reverse()) await child.stop();
  }
}

/** A till that joins late, its engine's hub connection through the link: the hub has the documents, the till nothing. */
async function lateJoin(o: LinkBenchOptions, t: Targets): Promise<void> {
  const n = o.quick ? 20_000 : 100_000;
  const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
  const link = await LinkProcess.start(linkTarget(hub.uri), o);
  const [hubClient, tillClient] = await connectAll([hub.uri, till.uri]);
  const reader = (await connectAll([linkedUri(hub.uri, link.port)]))[0] as MongoClient;
  try {
    await insertDocs(
      hubClient as MongoClient,
      'menu',
      Array.from({ length: n }, (_, i) => stamped(kbDoc(i))),
    );
    const before = await link.counters();
    const { ms } = await reconcileOnce(till.uri, linkedUri(hub.uri, link.port), 'bench-late', n);
    const counts = countersSince(await link.counters(), before);
    const arrived = await (tillClient as MongoClient).db(DB).collection('menu').countDocuments();
    const floor = await readAllMs(reader, 'menu');
    add({
      figure: `late-joining till, ${n0(n)} hub docs of 1 KB (${n0(arrived)} arrived)`,
      value: `${(ms / 1000).toFixed(1)} s`,
      floor: `${(floor.ms / 1000).toFixed(1)} s: reading them all with one find`,
      ratio: ratio(ms / floor.ms),
      target: t.lateJoinS ? `<= ${t.lateJoinS} s` : '-',
      ok: t.lateJoinS === undefined ? undefined : ms <= t.lateJoinS * 1000 && arrived === n,
    });
    requestsRow('  hub requests per 1,000 documents', counts, n / 1000, 'per 1,000');
  } finally {
    await reader.close();
    await (hubClient as MongoClient).close();
    await (tillClient as MongoClient).close();
    await link.stop();
    await hub.stop();
    await till.stop();
  }
}

function printTable(o: LinkBenchOptions): void {
  const headers: Row = {
    figure: 'figure',
    value: 'value',
    floor: 'floor through the same link',
    ratio: 'figure / floor',
    target: 'target',
  };
  const all = [headers, ...rows];
  const w = (key: keyof Omit<Row, 'ok'>): number => Math.max(...all.map((r) => r[key].length));
  const [wf, wv, wl, wr] = [w('figure'), w('value'), w('floor'), w('ratio')];
  const jitter = o.jitterMs ? `, jitter ±${o.jitterMs / 2} ms each way` : '';
  const bandwidth = o.kbps === null ? 'no bandwidth cap' : `${n0(o.kbps)} kbit/s each way`;
  console.log(
    `\nSync over a simulated link${o.quick ? ' (quick)' : ''}: round trip +${o.rttMs} ms${jitter}, ${bandwidth}; one hub, two tills, an agent per till, each in its own process, every agent's hub connection through its own link; node ${process.version}`,
  );
  for (const r of all)
    console.log(
      `${r.figure.padEnd(wf)}  ${r.value.padEnd(wv)}  ${r.floor.padEnd(wl)}  ${r.ratio.padEnd(wr)}  ${r.target}${r.ok === undefined ? '' : r.ok ? '  ok' : '  MISSED'}`.trimEnd(),
    );
}

export async function runLinkBench(o: LinkBenchOptions): Promise<void> {
  const t = targetsAt(o.rttMs);
  if (o.only !== 'reconcile') await syncFigures(o, t);
  if (o.only === undefined || o.only === 'reconcile') await lateJoin(o, t);
  printTable(o);
}
