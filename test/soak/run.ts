/**
 * One soak run: a hub and N tills (each its own server process), an agent
 * process per till, POS traffic on every till and HQ traffic on the hub, and
 * faults from the same seed. At the end everything is healed, the run waits
 * for quiescence, checks the invariants (checks.ts) and summarises.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MongoClient, type Document } from 'mongodb';
import { fromStored, type StoredConflict } from '../../src-main/sync/till/conflict-form.ts';
import { LinkProcess } from '../harness/link/process.ts';
import { linkedUri, linkTarget } from '../harness/link/uri.ts';
import { Chaos, type Node } from './chaos.ts';
import { runChecks, type Violation } from './checks.ts';
import { Journal } from './journal.ts';
import { HubObserver } from './observer.ts';
import type { SoakOptions } from './options.ts';
import { Random } from './prng.ts';
import { AgentProcess, ServerProcess, serverKind } from './processes.ts';
import { buildAgent } from '../../scripts/build-agent.mjs';
import { summaryLines, type SoakSummary } from './report.ts';
import { waitQuiescent, type TillView } from './settle.ts';
import { POS_COLLECTIONS, Writer } from './traffic.ts';

/** Engine settings for the agents: short retry delays, so recovery after a fault is quick. */
export const SOAK_ENGINE_SETTINGS = { retry: { initialMs: 100, maxMs: 2_000 }, statusIntervalMs: 500 };

export interface SoakResult {
  violations: Violation[];
  summary: SoakSummary;
  lines: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function waitFor(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(200);
  }
}

export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const { out } = options;
  const dir = resolve(options.dir ?? mkdtempSync(join(tmpdir(), `tillsync-soak-${options.seed}-`)));
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const journal = new Journal(join(dir, 'journal.jsonl'));
  const configFile = join(dir, 'engine.json');
  writeFileSync(configFile, JSON.stringify(SOAK_ENGINE_SETTINGS));
  await buildAgent(); // the agents run the bundle a till runs (AgentProcess)
  out(
    `soak: seed ${options.seed}, ${options.tills} till(s), ${options.minutes} min, faults ${options.faults.join(',') || 'none'}, servers ${serverKind()}; run directory ${dir}`,
  );

  const tillNames = Array.from({ length: options.tills }, (_, i) => `till-${i + 1}`);
  const [hubServer, ...tillServers] = await Promise.all([
    ServerProcess.create('hub', dir),
    ...tillNames.map((n) => ServerProcess.create(n, dir)),
  ]);
  const hub: Node = { name: 'hub', server: hubServer as ServerProcess };
  // With slow-link, each till's agent reaches the hub through a line of its own (no delay until the fault).
  const links = options.faults.includes('slow-link')
    ? await Promise.all(tillNames.map(() => LinkProcess.start(linkTarget(hub.server.uri))))
    : [];
  const tills: Node[] = tillNames.map((name, i) => {
    const server = tillServers[i] as ServerProcess;
    const link = links[i];
    const hubUri = link ? linkedUri(hub.server.uri, link.port) : hub.server.uri;
    return { name, server, link, agent: new AgentProcess(name, server.uri, hubUri, configFile, dir) };
  });
  const clients: MongoClient[] = [];
  const connect = async (uri: string): Promise<MongoClient> => {
    const client = new MongoClient(uri, { retryWrites: false, serverSelectionTimeoutMS: 5_000 });
    await client.connect();
    clients.push(client);
    return client;
  };
  const observer = new HubObserver(hub.server.uri);
  let writers: Writer[] = [];
  let progress: NodeJS.Timeout | undefined;
  let passed = false;
  try {
    const hubClient = await connect(hub.server.uri);
    const hubDb = hubClient.db('pos');
    // Post-images on the hub, so the observer sees the document after every engine write.
    for (const c of POS_COLLECTIONS) await hubDb.createCollection(c, { changeStreamPreAndPostImages: { enabled: true } });
    const tillViews: TillView[] = [];
    for (const t of tills) {
      const client = await connect(t.server.uri);
      tillViews.push({ name: t.name, pos: client.db('pos'), engine: client.db('tillsync') });
    }
    await observer.start();
    for (const t of tills) t.agent?.start();
    // Writes made before a till's engine first ran are reconciliation's job, not this run's.
    await waitFor('every agent to report synced', () => tills.every((t) => t.agent?.view.state === 'synced'), 90_000);

    const startedAt = Date.now();
    const chaos = new Chaos(Random.for(options.seed, 'chaos'), options.faults, hub, tills, journal, startedAt);
    writers = [
      ...tills.map(
        (t, i) =>
          new Writer({
            name: t.name,
            db: (tillViews[i] as TillView).pos,
            rng: Random.for(options.seed, t.name),
            journal,
            owned: 'orders',
            pauseMs: [150, 450],
            skewed: () => chaos.skewedTill === t.name,
          }),
      ),
      new Writer({ name: 'hq', db: hubDb, rng: Random.for(options.seed, 'hq'), journal, owned: 'notes', pauseMs: [300, 900] }),
    ];
    for (const w of writers) w.start();
    chaos.start();
    progress = setInterval(() => {
      const faults = new Map<string, number>();
      for (const f of chaos.injected) faults.set(f.kind, (faults.get(f.kind) ?? 0) + 1);
      const agents = tills
        .map((t) => `${t.name} ${t.agent?.view.state}${t.agent?.view.outbox ? `/${t.agent.view.outbox}` : ''}`)
        .join(', ');
      out(
        `[soak ${clock(Date.now() - startedAt)}] writes ${journal.writes.length} · faults ${chaos.injected.length} (${[...faults].map(([k, n]) => `${k} ${n}`).join(', ') || '-'}) · agents ${agents}${chaos.skewedTill ? ` · ${chaos.skewedTill} clock fast` : ''}${[...chaos.slowLines].map(([t, ms]) => ` · ${t} line +${ms} ms`).join('')}`,
      );
    }, 10_000);

    await sleep(options.minutes * 60_000);
    out(`[soak ${clock(Date.now() - startedAt)}] traffic and faults stop; healing everything`);
    const writersStopped = Promise.all(writers.map((w) => w.stop()));
    await chaos.stop();
    await chaos.healAll();
    await writersStopped;
    const healedAt = Date.now();
    const settle = await waitQuiescent(hubDb, tillViews, options.settleSeconds * 1000);
    clearInterval(progress);
    await observer.caughtUp();

    const hubDocs = new Map<string, Map<string, Document>>();
    for (const c of POS_COLLECTIONS) hubDocs.set(c, new Map((await hubDb.collection(c).find({}).toArray()).map((d) => [String(d._id), d])));
    const conflicts = new Map<string, Document[]>();
    const quarantined: Record<string, number> = {};
    for (const t of tillViews) {
      conflicts.set(t.name, (await t.engine.collection<StoredConflict>('conflicts').find({}).toArray()).map(fromStored));
      quarantined[t.name] = await t.engine.collection('quarantine').countDocuments();
    }
    const checks = runChecks({ journal, writers, observer, settle, hubDocs, conflicts });
    const summary: SoakSummary = {
      options,
      serverKind: serverKind(),
      dir,
      writes: journal.writes,
      noops: writers.reduce((n, w) => n + w.noops, 0),
      faults: chaos.injected,
      skipped: chaos.skipped,
      faultErrors: chaos.errors,
      conflicts: Object.fromEntries([...conflicts].map(([t, list]) => [t, list.length])),
      quarantined,
      agents: Object.fromEntries(
        tills.map((t) => [
          t.name,
          { state: t.agent?.view.state ?? '-', unexpectedExits: t.agent?.unexpectedExits ?? 0, errors: t.agent?.errors ?? new Map() },
        ]),
      ),
      converged: settle.converged,
      convergeMs: settle.converged ? settle.ms : Date.now() - healedAt,
      checks,
      observer: {
        events: observer.events,
        gaps: observer.gaps.length,
        replacedClients: observer.replacedClients,
        failures: [...observer.failures].map(([what, count]) => `${count}× ${what}`),
        staleStampsOnHqWrites: observer.staleStampsOnHqWrites,
        tombstonesBesideLiveDocuments: observer.tombstonesBesideLiveDocuments,
      },
    };
    const lines = summaryLines(summary);
    for (const line of lines) out(line);
    writeFileSync(join(dir, 'summary.txt'), `${lines.join('\n')}\n`);
    passed = checks.violations.length === 0;
    return { violations: checks.violations, summary, lines };
  } finally {
    clearInterval(progress);
    await Promise.all(writers.map((w) => w.stop().catch(() => undefined)));
    await observer.stop().catch(() => undefined);
    await Promise.all(tills.map((t) => t.agent?.close()));
    await Promise.all(links.map((l) => l.stop()));
    for (const c of clients) await c.close(true).catch(() => undefined);
    await Promise.all([hub, ...tills].map((n) => n.server.close()));
    if (passed && !options.keep && !options.dir) rmSync(dir, { recursive: true, force: true });
  }
}
