/**
 * Crash safety: the headless agents are SIGKILLed at random points during a
 * burst of 5,000 writes on two tills and restarted. Afterwards the hub and the
 * tills converge and every write is there exactly once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Document } from 'mongodb';
import {
  startAgent,
  startTopology,
  TEST_ENGINE_SETTINGS,
  waitConverged,
  waitFor,
  type AgentProcess,
  type Till,
  type Topology,
} from './topology.ts';

const WRITES_PER_TILL = 2_500;

/** A small seeded generator, so a failing run can be replayed with CRASH_SEED. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('crash safety', () => {
  let topology: Topology;
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
  const random = prng(seed);
  const configDir = mkdtempSync(join(tmpdir(), 'tillsync-crash-'));
  const configFile = join(configDir, 'engine.json');

  before(async () => {
    topology = await startTopology({ tills: 2, startEngines: false });
    writeFileSync(configFile, JSON.stringify(TEST_ENGINE_SETTINGS));
  });

  after(async () => {
    await topology.stop();
  });

  /** POS traffic on one till: new documents with sequence numbers, a counter, and updates. */
  async function posTraffic(till: Till, counts: { touches: Map<string, number> }): Promise<void> {
    const docs = till.db.collection<Document>('tickets');
    const counters = till.db.collection<Document>('counters');
    for (let i = 0; i < WRITES_PER_TILL; i += 1) {
      const r = random();
      if (r < 0.7 || i < 10) {
        await docs.insertOne({ _id: `${till.name}-${i}`, till: till.name, seq: i, touched: 0 } as Document);
      } else if (r < 0.85) {
        await counters.updateOne({ _id: `counter-${till.name}` } as Document, { $inc: { n: 1 }, $set: { lastSeq: i } }, { upsert: true });
        counts.touches.set(`counter-${till.name}`, (counts.touches.get(`counter-${till.name}`) ?? 0) + 1);
      } else {
        // Touch one of this till's earlier tickets that is known to exist.
        const target = `${till.name}-${Math.floor(random() * Math.min(i, 10))}`;
        await docs.updateOne({ _id: target } as Document, { $inc: { touched: 1 } });
        counts.touches.set(target, (counts.touches.get(target) ?? 0) + 1);
      }
    }
  }

  it(`survives SIGKILL of the agents during ${2 * WRITES_PER_TILL} writes on two tills (seed ${seed})`, { timeout: 240_000 }, async () => {
    const agents = new Map<string, AgentProcess>();
    for (const till of topology.tills) agents.set(till.name, startAgent(till, ['--config', configFile]));
    // Writes made before a till's engine ever ran are the first-start reconciliation's job, not this test's.
    for (const agent of agents.values()) await agent.waitForEvent('engine.started');
    const counts = { touches: new Map<string, number>() };
    let writing = true;
    let kills = 0;
    const killer = (async () => {
      while (writing) {
        await new Promise((resolve) => setTimeout(resolve, 300 + random() * 1200));
        if (!writing) break;
        const till = topology.tills[Math.floor(random() * topology.tills.length)] as Till;
        await agents.get(till.name)?.kill('SIGKILL');
        kills += 1;
        await new Promise((resolve) => setTimeout(resolve, 50 + random() * 300));
        agents.set(till.name, startAgent(till, ['--config', configFile]));
      }
    })();
    await Promise.all(topology.tills.map((till) => posTraffic(till, counts)));
    writing = false;
    await killer;
    assert.ok(kills >= 3, `the run killed agents ${kills} times; expected several`);

    try {
      await waitConverged(topology, ['tickets', 'counters'], 60_000);
      // Exactly once: every ticket once with its own sequence number, every increment counted once.
      const hubTickets = await topology.hubDb.collection<Document>('tickets').find({}).toArray();
      const inserted = await Promise.all(topology.tills.map((t) => t.db.collection('tickets').countDocuments()));
      assert.equal(hubTickets.length, inserted[0], 'the hub holds every ticket');
      for (const doc of hubTickets) {
        const [tillName, seq] = String(doc._id).split(/-(?=\d+$)/);
        assert.equal(doc.till, tillName, `ticket ${String(doc._id)} belongs to ${tillName}`);
        assert.equal(doc.seq, Number(seq), `ticket ${String(doc._id)} keeps its sequence number`);
        assert.equal(
          doc.touched,
          counts.touches.get(String(doc._id)) ?? 0,
          `ticket ${String(doc._id)} was touched exactly as often as the POS did`,
        );
      }
      for (const till of topology.tills) {
        const counter = await topology.hubDb.collection<Document>('counters').findOne({ _id: `counter-${till.name}` } as Document);
        assert.equal(counter?.n ?? 0, counts.touches.get(`counter-${till.name}`) ?? 0, `${till.name}'s counter counts each increment once`);
        await waitFor(
          `${till.name}'s outbox to drain`,
          async () => (await till.client.db('tillsync').collection('outbox').countDocuments()) === 0,
          30_000,
        );
      }
    } catch (err) {
      for (const [name, agent] of agents) process.stderr.write(`--- ${name} agent, last lines:\n${agent.lines.slice(-15).join('\n')}\n`);
      throw err;
    } finally {
      for (const agent of agents.values()) await agent.kill('SIGTERM');
    }
  });
});
