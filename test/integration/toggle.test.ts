/**
 * The enable toggle staff use to pause sync: `setEnabled(false)` closes the
 * till's hub connections within a second and the state says `disabled`; local
 * writes are kept in the outbox and hub writes wait; `setEnabled(true)` syncs
 * both ways again; and the choice survives an engine restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Db } from 'mongodb';
import type { SyncState } from '../../src-shared/status.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

/**
 * How long we watch to show something does NOT happen while disabled: an
 * enabled engine pushes and pulls within about a second (a change stream
 * answers as soon as something changes), so 1.5 s would show a leak.
 */
const QUIET_MS = 1_500;

/** The appName an engine's hub client gives (src-main/sync/engine.ts). */
const hubAppName = (deviceId: string): string => `tillsync-engine-${deviceId}`;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function has(db: Db, coll: string, id: string): Promise<boolean> {
  return (await db.collection(coll).countDocuments({ _id: id as never })) === 1;
}

describe('enable toggle', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;

  before(async () => {
    topology = await startTopology({ tills: 2 });
    [a, b] = topology.tills as [Till, Till];
    await waitFor('both tills to be synced', () => topology.tills.every((t) => t.engine?.status().state === 'synced'));
  });

  after(async () => {
    await topology?.stop();
  });

  it('disabling closes the till’s hub connections within a second and says disabled; enabling syncs both ways again', async (t) => {
    const engine = a.engine;
    assert.ok(engine);
    const states: SyncState[] = [];
    engine.on('state', (state) => states.push(state));
    const emulator = topology.hub.emulator;

    // Traffic from both tills first, so their pools are as big as they get; then measure.
    await a.db.collection('tg_main').insertOne({ _id: 'warm-a' as never });
    await b.db.collection('tg_main').insertOne({ _id: 'warm-b' as never });
    await waitFor('the warm-up writes on every replica', async () => {
      for (const db of [topology.hubDb, a.db, b.db])
        if (!(await has(db, 'tg_main', 'warm-a')) || !(await has(db, 'tg_main', 'warm-b'))) return false;
      return true;
    });
    await waitFor('till A synced', () => engine.status().state === 'synced');
    // Till A's own hub connections, told apart by the appName its hub client gives (other clients
    // open connections of their own at any time, e.g. the driver's round-trip-time monitor).
    const appA = hubAppName(engine.status().deviceId);
    if (emulator) assert.ok(emulator.connectionsOf(appA) > 0, `till A is connected to the hub as "${appA}"`);

    const began = Date.now();
    await engine.setEnabled(false);
    assert.ok(Date.now() - began < 1_000, `setEnabled(false) returned within a second (took ${Date.now() - began} ms)`);
    assert.equal(engine.status().state, 'disabled');
    assert.equal(engine.status().enabled, false);
    assert.equal(engine.enabled, false);
    await waitFor('a "state" event saying disabled', () => states.includes('disabled'), 1_000);

    if (emulator) {
      await waitFor(
        'till A to hold no hub connection within a second of disabling',
        () => emulator.connectionsOf(appA) === 0,
        Math.max(1, 1_000 - (Date.now() - began)),
      );
    } else {
      t.diagnostic('not on the emulator: hub connections not checked');
    }

    // While disabled: local writes are kept and do not reach the hub; hub writes do not reach this till.
    const depthBefore = engine.status().outbox.depth;
    await a.db.collection('tg_main').insertOne({ _id: 'while-off-a' as never, n: 1 });
    await a.db.collection('tg_main').updateOne({ _id: 'warm-b' as never }, { $set: { touchedByA: true } });
    await waitFor('the outbox to hold the two writes made while disabled', async () => {
      await sleep(250); // status refreshes every 200 ms
      return engine.status().outbox.depth >= depthBefore + 2;
    });
    await topology.hubDb.collection('tg_main').insertOne({ _id: 'while-off-hq' as never });
    // Till B is enabled: once it has HQ's write, the write has been on the hub's stream for any till to see.
    await waitFor('HQ’s write on till B', () => has(b.db, 'tg_main', 'while-off-hq'));
    await sleep(QUIET_MS);
    assert.equal(await has(topology.hubDb, 'tg_main', 'while-off-a'), false, 'a write made while disabled does not reach the hub');
    assert.equal(
      (await topology.hubDb.collection('tg_main').findOne({ _id: 'warm-b' as never }))?.touchedByA,
      undefined,
      'an edit made while disabled does not reach the hub',
    );
    assert.equal(await has(a.db, 'tg_main', 'while-off-hq'), false, 'a hub write does not reach a disabled till');
    assert.equal(engine.status().state, 'disabled', 'still disabled');
    assert.ok(engine.status().outbox.depth >= depthBefore + 2, 'the writes are still kept in the outbox');
    if (emulator) assert.equal(emulator.connectionsOf(appA), 0, 'no hub connection from till A while disabled');

    await engine.setEnabled(true);
    assert.equal(engine.enabled, true);
    await waitFor(
      'the writes kept while disabled to reach the hub and till B',
      async () =>
        (await has(topology.hubDb, 'tg_main', 'while-off-a')) &&
        (await has(b.db, 'tg_main', 'while-off-a')) &&
        (await topology.hubDb.collection('tg_main').findOne({ _id: 'warm-b' as never }))?.touchedByA === true,
    );
    await waitFor('HQ’s write made while disabled to reach till A', () => has(a.db, 'tg_main', 'while-off-hq'));
    await waitFor('till A synced with an empty outbox', () => engine.status().state === 'synced' && engine.status().outbox.depth === 0);
    // New writes both ways sync too.
    await a.db.collection('tg_main').insertOne({ _id: 'after-on-a' as never });
    await topology.hubDb.collection('tg_main').insertOne({ _id: 'after-on-hq' as never });
    await waitFor('new writes both ways', async () => (await has(b.db, 'tg_main', 'after-on-a')) && has(a.db, 'tg_main', 'after-on-hq'));
    if (emulator) assert.ok(emulator.connectionsOf(appA) > 0, 'till A is connected to the hub again');
  });

  it('the choice survives an engine restart: still disabled, no hub connection, nothing synced', async (t) => {
    const engine = a.engine;
    assert.ok(engine);
    const emulator = topology.hub.emulator;
    await engine.setEnabled(false);
    assert.equal(engine.status().state, 'disabled');
    const appA = hubAppName(engine.status().deviceId);
    if (emulator) await waitFor('till A to hold no hub connection', () => emulator.connectionsOf(appA) === 0);

    await a.stopEngine();
    const restarted = await a.startEngine();
    assert.equal(restarted.enabled, false, 'still disabled after the restart');
    assert.equal(restarted.status().state, 'disabled', 'state is disabled after the restart');
    await a.db.collection('tg_restart').insertOne({ _id: 'after-restart' as never });
    await topology.hubDb.collection('tg_restart').insertOne({ _id: 'hq-after-restart' as never });
    await waitFor('HQ’s write on till B', () => has(b.db, 'tg_restart', 'hq-after-restart'));
    // Bounded watch, as above.
    await sleep(QUIET_MS);
    assert.equal(restarted.status().state, 'disabled');
    assert.equal(await has(topology.hubDb, 'tg_restart', 'after-restart'), false, 'the restarted, disabled till pushes nothing');
    assert.equal(await has(a.db, 'tg_restart', 'hq-after-restart'), false, 'the restarted, disabled till pulls nothing');
    if (emulator) {
      assert.equal(emulator.connectionsOf(appA), 0, 'the restarted, disabled engine opened no hub connection');
    } else {
      t.diagnostic('not on the emulator: hub connection counts not checked');
    }

    await restarted.setEnabled(true);
    await waitFor(
      'both writes to sync once re-enabled',
      async () => (await has(topology.hubDb, 'tg_restart', 'after-restart')) && has(a.db, 'tg_restart', 'hq-after-restart'),
    );
    await a.stopEngine();
    const again = await a.startEngine();
    assert.equal(again.enabled, true, 'enabled is kept across a restart too');
    await waitFor('synced after the restart', () => again.status().state === 'synced');
  });

  it('a quiet till stops at once: its change streams waiting on the servers do not hold it up', async () => {
    // A change on till B reaches the hub; its capture stream then asks the till for more and the server
    // holds that request for up to STREAM_AWAIT_MS (5 s) while nothing changes. Stopping must not wait it out.
    await b.db.collection('tg_quiet').insertOne({ _id: 'last-order' as never });
    await waitFor('the change on the hub', () => has(topology.hubDb, 'tg_quiet', 'last-order'));
    await waitFor('till B synced', () => b.engine?.status().state === 'synced');
    const started = performance.now();
    await b.stopEngine();
    const tookMs = performance.now() - started;
    assert.ok(tookMs < 2_000, `stopping a quiet engine took ${tookMs.toFixed(0)} ms, expected well under the streams' 5 s wait`);
  });
});
