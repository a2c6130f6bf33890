/**
 * `npm run fleet -- --json` against a hub with three tills, as head office's
 * cron job would run it: one till well, one whose TillSync was stopped, one
 * with a change the hub will not take. Each shows the right colour and reason
 * in words, grouped by store, worst first, and the exit code says whether any
 * till is red. Thresholds come from a rules file, so the test waits seconds,
 * not minutes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FleetReport, FleetTill } from '../../src-shared/fleet.ts';
import { parseFleetRules } from '../../src-main/fleet/rules-config.ts';
import { FleetSource } from '../../src-main/fleet/source.ts';
import { POS_DB, startTopology, waitFor, type Till, type Topology } from '../integration/topology.ts';

/**
 * Not seen for 6 s is red; a change waiting 3 s is red. Oplog headroom is off:
 * the servers here were started seconds ago, so their oplogs span seconds and
 * the engine's estimate of the hours they hold reads 0 (see docs/fleet.md).
 */
const RULES = { notSeen: { minutes: 0.1 }, changeWaiting: { minutes: 0.05 }, oplogHeadroom: { colour: 'off' } };
const DEVICES: Record<string, Record<string, string>> = {
  'till-a': { name: 'Till A', storeId: 'soho' },
  'till-b': { name: 'Till B', storeId: 'soho' },
  'till-c': { name: 'Till C', storeId: 'leeds', region: 'north' },
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the fleet command as a user would, and waits for it to exit. */
export function runFleet(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/fleet/cli.ts', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

function tillIn(report: FleetReport, deviceId: string): FleetTill | undefined {
  return report.stores.flatMap((s) => s.tills).find((t) => t.deviceId === deviceId);
}

describe('npm run fleet -- --json with three tills', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;
  let c: Till;
  let dir: string;
  let rulesFile: string;
  let source: FleetSource;
  const rules = parseFleetRules(RULES);

  before(async () => {
    topology = await startTopology({ tills: 3, startEngines: false, engine: { heartbeatIntervalMs: 1_000 } });
    [a, b, c] = topology.tills as [Till, Till, Till];
    for (const till of topology.tills) await till.startEngine({ device: DEVICES[till.name] });
    dir = mkdtempSync(join(tmpdir(), 'tillsync-fleet-'));
    rulesFile = join(dir, 'rules.json');
    writeFileSync(rulesFile, JSON.stringify(RULES));
    source = new FleetSource(topology.hub.uri, POS_DB);
  });

  after(async () => {
    await topology.hubClient
      .db('admin')
      .command({ configureFailPoint: 'failCommand', mode: 'off' })
      .catch(() => undefined);
    await source?.close();
    await topology?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('shows a stopped till and a till with a change waiting as red, with the reason in words, and exits 1', async () => {
    await waitFor('three green tills', async () => {
      const report = await source.report(rules);
      return report.counts.green === 3;
    });

    // Till B: TillSync stopped (it says goodbye to the hub as it goes).
    await b.stopEngine();
    // Till C: the hub refuses its pushes (every commit of its engine fails), and a sale is made there.
    await topology.hubClient.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['commitTransaction'], errorCode: 2, appName: 'tillsync-engine-till-c' },
    });
    await c.db.collection('fj_sales').insertOne({ _id: 'sale-1' as never, total: 12.5 });

    await waitFor(
      'till B and till C to be red',
      async () => {
        const report = await source.report(rules);
        return tillIn(report, 'till-b')?.colour === 'red' && tillIn(report, 'till-c')?.colour === 'red';
      },
      30_000,
    );

    const run = await runFleet(['--json', '--hub', topology.hub.uri, '--db', POS_DB, '--config', rulesFile]);
    assert.equal(run.code, 1, `exit 1 when a till is red; stderr: ${run.stderr}`);
    const report = JSON.parse(run.stdout) as FleetReport;
    assert.deepEqual(report.counts, { red: 2, amber: 0, green: 1 });
    assert.deepEqual(
      report.stores.map((s) => [s.storeId, s.colour, s.tills.map((t) => [t.name, t.colour])]),
      [
        ['leeds', 'red', [['Till C', 'red']]],
        [
          'soho',
          'red',
          [
            ['Till B', 'red'],
            ['Till A', 'green'],
          ],
        ],
      ],
      'grouped by store, worst first',
    );

    const tillA = tillIn(report, 'till-a');
    assert.deepEqual(tillA?.reasons, [], 'a till that is well has no reason against it');
    assert.equal(tillA?.heartbeat.state, 'synced');

    const tillB = tillIn(report, 'till-b');
    assert.deepEqual(
      tillB?.reasons.map((r) => [r.rule, r.colour]),
      [
        ['notSeen', 'red'],
        ['paused', 'amber'],
      ],
    );
    assert.match(tillB?.reasons[0]?.text ?? '', /^TillSync was stopped on this till \d+ seconds ago and has not been heard from since$/);
    assert.equal(tillB?.heartbeat.state, 'stopped');

    const tillC = tillIn(report, 'till-c');
    assert.equal(tillC?.reasons[0]?.rule, 'changeWaiting');
    assert.match(tillC?.reasons[0]?.text ?? '', /^A change has waited \d+ seconds to be sent to head office \(1 change waiting\)$/);
    assert.equal(tillC?.heartbeat.outbox.depth, 1);
    assert.deepEqual(tillC?.heartbeat.params, DEVICES['till-c'], 'the device parameters travel with the heartbeat');
    assert.ok((tillC?.heartbeat.oplogHeadroomHours ?? null) === null || tillC!.heartbeat.oplogHeadroomHours! >= 0);
  });

  it('exits 0 once every till is well again; the hub can be given in TILLSYNC_HUB_URI', async () => {
    await topology.hubClient.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    await b.startEngine({ device: DEVICES['till-b'] });
    await waitFor('the sale from till C on the hub', async () => (await topology.hubDb.collection('fj_sales').countDocuments()) === 1);
    await waitFor('three green tills again', async () => (await source.report(rules)).counts.green === 3, 30_000);
    const run = await runFleet(['--json', '--config', rulesFile], { TILLSYNC_HUB_URI: topology.hub.uri });
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as FleetReport;
    assert.deepEqual(report.counts, { red: 0, amber: 0, green: 3 });
    assert.equal(typeof report.hubTime, 'number');
    assert.ok(a.engine, 'till A still runs');
  });
});

describe('npm run fleet: bad input and an unreachable hub', () => {
  it('names what is wrong and exits 2, never showing the hub password', async () => {
    const noHub = await runFleet(['--json'], { TILLSYNC_HUB_URI: '' });
    assert.equal(noHub.code, 2);
    assert.match(noHub.stderr, /give the hub's connection string with --hub or in TILLSYNC_HUB_URI/);

    const notUri = await runFleet(['--json', '--hub', 'http://example.com']);
    assert.equal(notUri.code, 2);
    assert.match(notUri.stderr, /starting with mongodb:\/\/ or mongodb\+srv:\/\//);

    const dir = mkdtempSync(join(tmpdir(), 'tillsync-fleet-'));
    try {
      const bad = join(dir, 'rules.json');
      writeFileSync(bad, JSON.stringify({ lag: { seconds: '30' } }));
      const badRules = await runFleet(['--json', '--hub', 'mongodb://127.0.0.1:1/', '--config', bad]);
      assert.equal(badRules.code, 2);
      assert.match(badRules.stderr, /lag\.seconds: got "30", expected a number above 0/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    const down = await runFleet(['--json', '--hub', 'mongodb://hq:s3cret-Pa55@127.0.0.1:1/?serverSelectionTimeoutMS=500']);
    assert.equal(down.code, 2, down.stderr);
    assert.match(down.stderr, /Cannot read the fleet from the hub \(mongodb:\/\/hq:\*\*\*@127\.0\.0\.1:1\//);
    assert.doesNotMatch(down.stderr + down.stdout, /s3cret/);
  });
});
