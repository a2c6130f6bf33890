/**
 * One engine per till database: a second engine on the same till (the app
 * and an agent, a copy started by hand beside the one started with the till)
 * waits, says which TillSync is syncing, and takes over when that one stops:
 * when it lets go, when its process is gone, or (another machine's, or a hung
 * one) once its lease lapses.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Document } from 'mongodb';
import { createSyncEngine } from '../../src-main/sync/engine.ts';
import { startAgent, TEST_ENGINE_SETTINGS, waitFor, withTopology, type Topology } from './topology.ts';

const LEASE_TTL_MS = 2_000;

describe('one engine per till', () => {
  let topology: Topology;
  withTopology({ tills: 1, engine: { leaseTtlMs: LEASE_TTL_MS } }, (t) => (topology = t));

  const onHub = (id: string) => async () => (await topology.hubDb.collection('lease_items').findOne({ _id: id as never })) !== null;

  it('a second engine waits, says who syncs this till, and takes over when the first stops', async () => {
    const till = topology.tills[0]!;
    const second = createSyncEngine(till.config());
    const started = second.start();
    try {
      await waitFor('the second engine to say another TillSync syncs this till', () =>
        second.status().warnings.some((w) => /Another TillSync is syncing this till \(device till-a/.test(w)),
      );
      assert.equal(second.status().state, 'starting', 'the second engine does not sync');
      await till.db.collection<Document>('lease_items').insertOne({ _id: 'while-first' } as Document);
      await waitFor('the first engine to sync a change', onHub('while-first'));

      await till.stopEngine(); // lets go of the lease
      await started;
      await waitFor('the second engine to sync', () => second.status().state === 'synced');
      assert.ok(!second.status().warnings.some((w) => /Another TillSync/.test(w)), 'the warning is gone once it syncs');
      await till.db.collection<Document>('lease_items').insertOne({ _id: 'while-second' } as Document);
      await waitFor('the second engine to sync a change', onHub('while-second'));
    } finally {
      await second.stop();
    }
  });

  it('takes over at once from an engine whose process was killed', async () => {
    const till = topology.tills[0]!;
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-lease-'));
    const configFile = join(dir, 'engine.json');
    // A lease far longer than the test: only seeing that the holder's process is gone lets the other take over.
    writeFileSync(configFile, JSON.stringify({ ...TEST_ENGINE_SETTINGS, leaseTtlMs: 600_000 }));
    const agent = startAgent(till, ['--config', configFile]);
    await agent.waitForEvent('agent.started');
    const waiting = createSyncEngine(till.config());
    const started = waiting.start();
    try {
      await waitFor('the waiting engine to name the agent', () => waiting.status().warnings.some((w) => /Another TillSync/.test(w)));
      await agent.kill('SIGKILL'); // dies holding the lease
      await started;
      await till.db.collection<Document>('lease_items').insertOne({ _id: 'after-kill' } as Document);
      await waitFor('the engine that took over to sync a change', onHub('after-kill'));
    } finally {
      await agent.kill('SIGKILL');
      await waiting.stop();
    }
  });

  it('takes over once the lease lapses, from an engine it cannot see (another machine, or hung)', async () => {
    const till = topology.tills[0]!;
    await till.stopEngine();
    const meta = till.client.db('tillsync').collection<Document>('meta');
    const lapses = Date.now() + LEASE_TTL_MS;
    await meta.replaceOne(
      { _id: 'lease' as never },
      {
        holder: 'elsewhere',
        device: 'till-a',
        host: 'another-machine',
        pid: 1,
        since: new Date(),
        renewedAt: new Date(),
        expiresAt: new Date(lapses),
      },
      { upsert: true },
    );
    const engine = createSyncEngine(till.config());
    const started = engine.start();
    try {
      await waitFor('the engine to name the other one', () => engine.status().warnings.some((w) => /on another-machine/.test(w)));
      await started;
      assert.ok(Date.now() >= lapses, 'it waited for the lease to lapse');
      await till.db.collection<Document>('lease_items').insertOne({ _id: 'after-lapse' } as Document);
      await waitFor('the engine to sync a change', onHub('after-lapse'));
    } finally {
      await engine.stop();
    }
  });
});
