/**
 * Bad input does not stop sync:
 * - hub documents the engine cannot apply (malformed `_sync`, as a broken
 *   client might write) are quarantined with a reason the status shows, and
 *   later writes still sync;
 * - the headless agent refuses an invalid configuration with exit code 2,
 *   naming every bad field and the form it expects, and never prints the hub
 *   password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Document } from 'mongodb';
import { contentHash } from '../../src-main/sync/documents.ts';
import type { SyncStatus } from '../../src-shared/status.ts';
import { startReplSet } from '../harness/replset.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

describe('bad hub documents are quarantined and sync carries on', () => {
  let topology: Topology;

  before(async () => {
    topology = await startTopology({ tills: 2 });
    await waitFor('both tills synced', () => topology.tills.every((t) => t.engine?.status().state === 'synced'));
  });

  after(async () => {
    await topology?.stop();
  });

  function statusOf(till: Till): SyncStatus {
    assert.ok(till.engine, `${till.name} has an engine`);
    return till.engine.status();
  }

  it('documents with a malformed _sync are set aside with their reason, shown in the status; later writes still sync', async () => {
    const coll = 'bi_malformed';
    const hubColl = topology.hubDb.collection(coll);
    const before = topology.tills.map((t) => statusOf(t).quarantine.count);

    const content = { _id: 'bad-version', price: 3, name: 'Tea' };
    const bad: Document[] = [
      { _id: 'not-a-document', price: 1, _sync: 'oops' },
      { ...content, _sync: { v: 'not-a-version', o: 'x', h: contentHash(content) } },
      { _id: 'missing-fields', price: 2, _sync: { v: 17 } },
    ];
    // Written the way a broken client would: straight to the hub.
    for (const doc of bad) await hubColl.insertOne(doc as never);
    await hubColl.insertOne({ _id: 'good-after' as never, price: 4 });
    await topology.tills[0]!.db.collection(coll).insertOne({ _id: 'good-from-till' as never, price: 5 });

    await waitFor('the good documents on every replica', async () => {
      for (const db of [topology.hubDb, ...topology.tills.map((t) => t.db)]) {
        if ((await db.collection(coll).countDocuments({ _id: { $in: ['good-after', 'good-from-till'] } as never })) !== 2) return false;
      }
      return true;
    });
    const statuses = await waitFor('every till to show the three quarantined documents', () => {
      const list = topology.tills.map((t) => statusOf(t));
      return list.every((s, i) => s.quarantine.count >= (before[i] as number) + bad.length) ? list : undefined;
    });

    for (const [i, till] of topology.tills.entries()) {
      const s = statuses[i] as SyncStatus;
      assert.equal(s.quarantine.count, (before[i] as number) + bad.length, `${till.name}: quarantine count grew by ${bad.length}`);
      const latest = s.quarantine.latest.filter((q) => q.collection === coll);
      const reasonFor = (id: string): string | undefined => latest.find((q) => q.documentId === JSON.stringify(id))?.reason;
      assert.match(
        reasonFor('not-a-document') ?? '',
        /_sync is "oops"/,
        `${till.name}: the reason names the malformed _sync (${JSON.stringify(latest)})`,
      );
      assert.match(
        reasonFor('bad-version') ?? '',
        /not-a-version/,
        `${till.name}: the reason names the malformed version (${JSON.stringify(latest)})`,
      );
      assert.match(
        reasonFor('missing-fields') ?? '',
        /_sync/,
        `${till.name}: the reason names the incomplete _sync (${JSON.stringify(latest)})`,
      );
      for (const q of latest) assert.ok(Number.isFinite(q.at) && q.at > 0, 'each quarantined change has a time');
      for (const doc of bad) {
        assert.equal(
          await till.db.collection(coll).countDocuments({ _id: doc._id }),
          0,
          `${till.name}: ${String(doc._id)} was not applied`,
        );
      }
      assert.notEqual(s.state, 'error', `${till.name}: the engine carries on (state ${s.state})`);
    }
    await waitFor('both tills synced after the bad input', () => topology.tills.every((t) => statusOf(t).state === 'synced'));

    // A correct write to a quarantined document's _id later still syncs.
    await hubColl.replaceOne({ _id: 'not-a-document' as never }, { price: 10 });
    await waitFor('the corrected document on every till', async () => {
      for (const till of topology.tills)
        if ((await till.db.collection(coll).findOne({ _id: 'not-a-document' as never }))?.price !== 10) return false;
      return true;
    });
  });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the headless agent with `args` until it exits. An agent that starts runs until stopped: it gets SIGTERM once
 * its output matches `stopWhen`, and SIGKILL after `timeoutMs` in any case.
 */
function runAgent(
  args: string[],
  options: { timeoutMs?: number; stopWhen?: RegExp; onOutput?: (output: string) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/agent.ts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    const check = (): void => {
      options.onOutput?.(stdout + stderr);
      if (!signalled && options.stopWhen?.test(stdout + stderr)) {
        signalled = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      check();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      check();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the headless agent refuses an invalid configuration', () => {
  let dir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tillsync-bad-input-'));
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits with code 2 and names each bad field and the form expected', async () => {
    const config = join(dir, 'bad.json');
    writeFileSync(config, JSON.stringify({ batchSize: 0, collections: { x: { mode: 'pull' } } }));
    const run = await runAgent(['--local', 'not-a-uri', '--hub', 'mongodb://127.0.0.1:1', '--db', 'pos', '--config', config]);
    assert.equal(run.code, 2, `exit code 2 (stderr: ${run.stderr})`);
    const lines = run.stderr.split('\n');
    const line = (field: string): string | undefined => lines.find((l) => l.includes(`${field}:`));
    assert.match(
      line('local.uri') ?? '',
      /got "not-a-uri".*expected a connection string starting with mongodb:\/\//,
      `local.uri is named with the form expected:\n${run.stderr}`,
    );
    assert.match(
      line('batchSize') ?? '',
      /got 0.*expected an integer from 1 to 10000/,
      `batchSize is named with the form expected:\n${run.stderr}`,
    );
    assert.match(
      line('collections.x.mode') ?? '',
      /got "pull".*expected one of both, push-only, pull-only, local-only/,
      `the policy mode is named with the forms expected:\n${run.stderr}`,
    );
    assert.ok(!/hub\.uri|database:/.test(run.stderr), `fields that are fine are not reported:\n${run.stderr}`);
    assert.match(run.stderr, /usage:/, 'the usage line is shown');
  });

  it('never prints the hub password, whether the hub URI is fine or itself invalid', async () => {
    const secret = 's3cret';
    const validHub = `mongodb://user:${secret}@127.0.0.1:1/?replicaSet=rs0`;
    const badDb = await runAgent(['--local', 'mongodb://127.0.0.1:1/?replicaSet=rs0', '--hub', validHub, '--db', 'bad/db']);
    assert.equal(badDb.code, 2, `exit code 2 for a bad --db (stderr: ${badDb.stderr})`);
    assert.match(
      badDb.stderr,
      /database: got "bad\/db", expected a MongoDB database name/,
      `the bad database name is reported:\n${badDb.stderr}`,
    );
    assert.ok(
      !`${badDb.stdout}${badDb.stderr}`.includes(secret),
      `the password never appears in the output:\n${badDb.stdout}${badDb.stderr}`,
    );

    // A hub URI that is itself wrong gets quoted in the message: the password must be masked there too.
    const badHub = await runAgent([
      '--local',
      'mongodb://127.0.0.1:1/?replicaSet=rs0',
      '--hub',
      `mongodb://user:${secret}@`,
      '--db',
      'pos',
    ]);
    assert.equal(badHub.code, 2, `exit code 2 for a bad --hub (stderr: ${badHub.stderr})`);
    assert.match(badHub.stderr, /hub\.uri: got "mongodb:\/\/user:\*\*\*@"/, `the bad hub URI is reported, masked:\n${badHub.stderr}`);
    assert.ok(
      !`${badHub.stdout}${badHub.stderr}`.includes(secret),
      `the password never appears in the output:\n${badHub.stdout}${badHub.stderr}`,
    );
  });

  it('an agent that starts but cannot reach the hub logs the hub URI masked, keeps running, and stops cleanly', async () => {
    const secret = 's3cret';
    const local = await startReplSet();
    let running: Run;
    try {
      running = await runAgent(
        ['--local', local.uri, '--hub', `mongodb://user:${secret}@127.0.0.1:1/?replicaSet=rs0`, '--db', 'pos', '--status-every', '1'],
        {
          // Stop it once it has reported the unreachable hub AND printed a status line after that (it is still alive).
          stopWhen: /"event":"engine\.error"[\s\S]*"event":"agent\.status"/,
          timeoutMs: 30_000,
        },
      );
    } finally {
      await local.stop();
    }
    const output = `${running.stdout}${running.stderr}`;
    assert.match(output, /"event":"agent\.starting"[^\n]*user:\*\*\*@/, `the hub URI is logged masked:\n${output}`);
    assert.match(output, /"event":"engine\.error"[^\n]*hub-unreachable/, `the agent reported that the hub is unreachable:\n${output}`);
    assert.ok(!output.includes(secret), `the password never appears in a running agent's logs:\n${output}`);
    assert.match(
      output,
      /"event":"engine\.error"[\s\S]*"event":"agent\.status"[^\n]*offline/,
      `the agent goes on (status offline) after the hub error:\n${output}`,
    );
    assert.match(output, /"event":"agent\.stopping"/, 'it stopped because of SIGTERM');
    assert.equal(running.code, 0, `the agent stopped cleanly with exit code 0 (got ${running.code})`);
  });
});

describe("the headless agent when the till's database is down", () => {
  it('says it cannot start, keeps trying, and syncs once the database is up', async (t) => {
    const hub = await startReplSet();
    const local = await startReplSet();
    try {
      if (!local.emulator) return t.skip('needs the emulator to stop and start the till server on one port');
      await local.emulator.stop();
      let restarted = false;
      const running = await runAgent(['--local', local.uri, '--hub', hub.uri, '--db', 'pos', '--status-every', '1'], {
        stopWhen: /"event":"agent\.start-failed"[\s\S]*"event":"agent\.status"[^\n]*"state":"synced"/,
        timeoutMs: 60_000,
        onOutput: (output) => {
          if (!restarted && /"event":"agent\.start-failed"/.test(output)) {
            restarted = true;
            void local.restart();
          }
        },
      });
      const output = `${running.stdout}${running.stderr}`;
      assert.match(
        output,
        /"event":"agent\.start-failed"[^\n]*is the till's database running\?[^\n]*trying again in 5 s/,
        `it said why and that it tries again:\n${output}`,
      );
      assert.match(output, /"event":"agent\.status"[^\n]*"state":"synced"/, `it started once the database was up:\n${output}`);
      assert.equal(running.code, 0, `it stopped cleanly on SIGTERM (got ${running.code}):\n${output}`);
    } finally {
      await local.stop();
      await hub.stop();
    }
  });
});
