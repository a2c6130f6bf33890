/**
 * The agent at rest (not a timed test): npm run bench:idle [-- --seconds S] [--settle S]
 *
 * One hub and one till, each an emulator in its own process, and the till's
 * headless agent. A few writes go each way so both streams and the push have
 * worked once; then nothing changes. After `--settle` seconds (default 20:
 * start-up, JIT, the first housekeeping), it measures for `--seconds` (default
 * 60) the CPU the agent uses, as a percentage of one core, its resident memory,
 * and the CPU each server spends answering it (the agent's polling, seen from
 * the other side). The agent reaches each server through a link with no
 * delay (test/harness/link), which counts what it asks there, per command.
 * Beside it, the floor: a process holding the same two driver clients and
 * doing nothing, for what the driver's monitoring costs by itself.
 * BENCH_AGENT_CONFIG=<file.json> runs the agent with that engine
 * configuration (e.g. another statusIntervalMs).
 */
import { MongoClient } from 'mongodb';
import { countersSince } from '../harness/link/counts.ts';
import { LinkProxy, type LinkCounters } from '../harness/link/proxy.ts';
import { linkTarget, linkedUri } from '../harness/link/uri.ts';
import { agentProcess, type Child, CpuMeter, driverAtRestProcess, emulatorProcess, rssMb } from './processes.ts';

function numberArg(name: string, fallback: number): number {
  const at = process.argv.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!(value > 0)) throw new Error(`${name}: got "${process.argv[at + 1]}", expected a positive number of seconds`);
  return value;
}

const seconds = numberArg('--seconds', 60);
const settle = numberArg('--settle', 20);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const [hub, till] = await Promise.all([emulatorProcess(), emulatorProcess()]);
const extra = process.env.BENCH_AGENT_CONFIG ? ['--config', process.env.BENCH_AGENT_CONFIG] : [];
// The agent reaches each server through a link with no delay, which counts what it asks at rest.
const [tillLink, hubLink] = await Promise.all([
  LinkProxy.start({ to: linkTarget(till.uri) }),
  LinkProxy.start({ to: linkTarget(hub.uri) }),
]);
const agent = await agentProcess([
  '--local',
  linkedUri(till.uri, tillLink.port),
  '--hub',
  linkedUri(hub.uri, hubLink.port),
  '--db',
  'pos',
  '--device-id',
  'idle-a',
  ...extra,
]);
const tillClient = new MongoClient(till.uri);
let floor: Child | undefined;
const hqClient = new MongoClient(hub.uri);
try {
  await tillClient
    .db('pos')
    .collection<{ _id: string }>('orders')
    .insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: `order-${i}`, total: i })));
  await hqClient
    .db('pos')
    .collection<{ _id: string }>('menu')
    .insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: `menu-${i}`, price: i })));
  const deadline = Date.now() + 60_000;
  while (
    (await tillClient.db('pos').collection('menu').countDocuments()) < 20 ||
    (await hqClient.db('pos').collection('orders').countDocuments()) < 20
  ) {
    if (Date.now() > deadline) throw new Error('the first writes did not sync within a minute');
    await sleep(200);
  }
  console.log(`synced; settling for ${settle} s, then measuring ${seconds} s at rest`);
  // Beside it, the floor: the same two driver clients, straight to the servers (so the links count only the agent), doing nothing.
  const direct = (uri: string): string => {
    const [host, port] = linkTarget(uri).split(':') as [string, string];
    return linkedUri(uri, Number(port), host);
  };
  floor = await driverAtRestProcess(direct(till.uri), direct(hub.uri));
  await sleep(settle * 1000);
  const meter = new CpuMeter({ agent: agent.pid, till: till.pid, hub: hub.pid, floor: floor.pid });
  const rssBefore = rssMb(agent.pid);
  const linksBefore = [tillLink.counters(), hubLink.counters()];
  meter.start();
  await sleep(seconds * 1000);
  const { wallS, cpu } = meter.read();
  const [tillAsked, hubAsked] = [tillLink.counters(), hubLink.counters()].map((after, i) =>
    countersSince(after, linksBefore[i] as LinkCounters),
  );
  const rssAfter = rssMb(agent.pid);
  const pct = (s: number | undefined): string => `${(((s ?? 0) / wallS) * 100).toFixed(2)} %`;
  console.log(`\nat rest for ${wallS.toFixed(0)} s (${new Date().toISOString()}):`);
  console.log(`  agent CPU              ${pct(cpu.agent)} of a core (${(cpu.agent ?? 0).toFixed(2)} s)`);
  console.log(
    `  floor: the driver alone ${pct(cpu.floor)} of a core (its two clients, same options, nothing else: test/bench/driver-at-rest.ts)`,
  );
  console.log(`  agent resident memory  ${rssBefore.toFixed(0)} MB at the start, ${rssAfter.toFixed(0)} MB at the end`);
  console.log(`  till server CPU        ${pct(cpu.till)} (answering the agent)`);
  console.log(`  hub server CPU         ${pct(cpu.hub)}`);
  const perMinute = (c: LinkCounters | undefined): string =>
    Object.entries(c?.commands ?? {})
      .filter(([, n]) => n.requests > 0)
      .sort((a, b) => b[1].requests - a[1].requests)
      .map(([name, n]) => `${name} ${((n.requests * 60) / wallS).toFixed(0)}`)
      .join(', ') || 'none';
  console.log(`  asked of the till      ${perMinute(tillAsked)} (requests a minute; ${tillAsked?.connections ?? 0} connection(s) opened)`);
  console.log(`  asked of the hub       ${perMinute(hubAsked)} (requests a minute; ${hubAsked?.connections ?? 0} connection(s) opened)`);
  console.log('  targets (issue 18): agent <= 0.3 % of a core and <= 100 MB resident');
} finally {
  await tillClient.close();
  await hqClient.close();
  await agent.stop();
  await floor?.stop();
  await hub.stop();
  await till.stop();
  await Promise.all([tillLink.stop(), hubLink.stop()]);
}
