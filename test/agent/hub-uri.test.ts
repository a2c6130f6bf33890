/**
 * The hub password stays off the command line (issue 13, item 7), with the
 * real agent process against servers the test harness starts: the agent
 * syncs with the hub named in a `--hub-file` only its owner can read, or in
 * TILLSYNC_HUB_URI; it refuses a hub file other users could read or change,
 * naming the file and the `chmod 600` that fixes it; it warns when `--hub`
 * carries a password, without ever printing it. And it stops cleanly on
 * SIGTERM, as a service manager stops it, even while it is still starting.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { waitFor } from '../integration/topology.ts';
import { runAgentToExit, startAgent, writeHubFile, type AgentProcess } from './agent-process.ts';

const SECRET = 's3cret-pa55word';
const UNREACHABLE_HUB = `mongodb://tillsync:${SECRET}@127.0.0.1:1/?replicaSet=rs0`;

function logLines(agent: AgentProcess, event: string): string[] {
  return agent
    .output()
    .split('\n')
    .filter((line) => line.includes(`"event":"${event}"`));
}

/** Stops the agent with SIGTERM and checks it stopped cleanly: exit 0, after saying it stopped. */
async function stopCleanly(agent: AgentProcess): Promise<void> {
  const exit = await agent.stop('SIGTERM');
  assert.deepEqual(exit, { code: 0, signal: null }, `exit code 0 after SIGTERM:\n${agent.output()}`);
  const output = agent.output();
  assert.match(output, /"event":"agent\.stopping"[^\n]*"signal":"SIGTERM"[\s\S]*"event":"agent\.stopped"/, output);
}

describe('the agent takes the hub connection string from a private file or the environment', () => {
  let dir: string;
  let hub: ReplSet;
  let till: ReplSet;
  let hubClient: MongoClient;
  let tillClient: MongoClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-hub-uri-'));
    hub = await startReplSet();
    till = await startReplSet();
    hubClient = await hub.connect();
    tillClient = await till.connect();
  });

  after(async () => {
    await hubClient?.close();
    await tillClient?.close();
    await till?.stop();
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('syncs with the hub named in a --hub-file only its owner can read, and stops cleanly on SIGTERM', async () => {
    const hubFile = await writeHubFile(join(dir, 'hub-uri'), `# the head-office hub\n${hub.uri}\n`, 0o600);
    await tillClient
      .db('pos')
      .collection('menu')
      .insertOne({ _id: 'from-file' as never, price: 3 });
    const agent = startAgent(['--local', till.uri, '--hub-file', hubFile, '--db', 'pos', '--status-every', '1']);
    try {
      await waitFor(
        "the till's write on the hub",
        async () =>
          (
            await hubClient
              .db('pos')
              .collection('menu')
              .findOne({ _id: 'from-file' as never })
          )?.price === 3,
        60_000,
      );
    } finally {
      await stopCleanly(agent);
    }
    assert.match(logLines(agent, 'agent.starting')[0] ?? '', /"hubFrom":"hub-file"/, agent.output());
    assert.deepEqual(logLines(agent, 'agent.password-on-command-line'), [], 'no warning: the password is not on the command line');
  });

  it(`syncs with the hub named in TILLSYNC_HUB_URI`, async () => {
    await hubClient
      .db('pos')
      .collection('menu')
      .insertOne({ _id: 'from-env' as never, price: 4 });
    const agent = startAgent(['--local', till.uri, '--db', 'pos', '--status-every', '1'], { env: { TILLSYNC_HUB_URI: hub.uri } });
    try {
      await waitFor(
        "the hub's write on the till",
        async () =>
          (
            await tillClient
              .db('pos')
              .collection('menu')
              .findOne({ _id: 'from-env' as never })
          )?.price === 4,
        60_000,
      );
    } finally {
      await stopCleanly(agent);
    }
    assert.match(logLines(agent, 'agent.starting')[0] ?? '', /"hubFrom":"environment"/, agent.output());
    assert.deepEqual(logLines(agent, 'agent.password-on-command-line'), []);
  });

  it('refuses a hub file other users can read or change, naming the file and the chmod 600 fix, never the password', async () => {
    const hubFile = join(dir, 'shared-hub-uri');
    for (const [mode, what] of [
      [0o644, 'can be read by other users'],
      [0o640, 'can be read by other users'],
      [0o604, 'can be read by other users'],
      [0o620, 'can be changed by other users'],
    ] as const) {
      await writeHubFile(hubFile, `${UNREACHABLE_HUB}\n`, mode);
      const run = await runAgentToExit(['--local', till.uri, '--hub-file', hubFile, '--db', 'pos']);
      const permissions = mode.toString(8);
      assert.equal(run.code, 2, `mode ${permissions}: exit code 2:\n${run.output}`);
      assert.ok(run.stderr.includes(`the hub file "${hubFile}" ${what}`), `mode ${permissions}: names the file and why:\n${run.stderr}`);
      assert.ok(run.stderr.includes(`(permissions ${permissions})`), run.stderr);
      assert.ok(run.stderr.includes(`chmod 600 '${hubFile}'`), `mode ${permissions}: says how to fix it:\n${run.stderr}`);
      assert.ok(!run.output.includes(SECRET), `mode ${permissions}: the password is never printed:\n${run.output}`);
    }

    // Made private, the same file is used: the agent starts (the hub is unreachable) with the password masked.
    await writeHubFile(hubFile, `${UNREACHABLE_HUB}\n`, 0o600);
    const agent = startAgent(['--local', till.uri, '--hub-file', hubFile, '--db', 'pos', '--status-every', '1']);
    try {
      await agent.waitForEvent('engine.error');
    } finally {
      await stopCleanly(agent);
    }
    assert.match(logLines(agent, 'agent.starting')[0] ?? '', /tillsync:\*\*\*@127\.0\.0\.1:1/, agent.output());
    assert.ok(!agent.output().includes(SECRET), `the password is never logged:\n${agent.output()}`);
  });

  it('says what to do when the hub file is missing or empty, given twice, or no hub is given at all', async () => {
    const base = ['--local', till.uri, '--db', 'pos'];
    const missing = await runAgentToExit([...base, '--hub-file', join(dir, 'nowhere')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the hub file ".*nowhere": there is no such file/);

    const empty = await writeHubFile(join(dir, 'empty-hub-uri'), '\n# only a comment\n', 0o600);
    const emptyRun = await runAgentToExit([...base, '--hub-file', empty]);
    assert.equal(emptyRun.code, 2);
    assert.match(emptyRun.stderr, /the hub file ".*empty-hub-uri" is empty; put the hub connection string/);

    const both = await runAgentToExit([...base, '--hub-file', empty, '--hub', hub.uri]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give the hub connection string once: --hub-file <file> or --hub <uri>, not both/);

    const none = await runAgentToExit(base);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no hub connection string: pass --hub-file <file> \(a file only you can read\), or set TILLSYNC_HUB_URI/);
  });

  it('warns when --hub carries a password, without printing it, and still runs', async () => {
    const agent = startAgent(['--local', till.uri, '--hub', UNREACHABLE_HUB, '--db', 'pos', '--status-every', '1']);
    try {
      await agent.waitForEvent('engine.error');
    } finally {
      await stopCleanly(agent);
    }
    const warning = logLines(agent, 'agent.password-on-command-line');
    assert.equal(warning.length, 1, agent.output());
    assert.match(warning[0]!, /"level":40/, 'a warning');
    assert.match(warning[0]!, /every user of this computer can see in the process list.*--hub-file <file>.*TILLSYNC_HUB_URI/);
    assert.match(logLines(agent, 'agent.starting')[0] ?? '', /"hubFrom":"argument"/);
    assert.ok(!agent.output().includes(SECRET), `the password is never printed:\n${agent.output()}`);

    // The same connection string from the environment: nothing to warn about.
    const fromEnv = startAgent(['--local', till.uri, '--db', 'pos'], { env: { TILLSYNC_HUB_URI: UNREACHABLE_HUB } });
    try {
      await fromEnv.waitForEvent('agent.starting');
    } finally {
      await stopCleanly(fromEnv);
    }
    assert.deepEqual(logLines(fromEnv, 'agent.password-on-command-line'), []);
    assert.ok(!fromEnv.output().includes(SECRET), fromEnv.output());
  });

  it("stops cleanly on SIGTERM while it is still waiting for the till's database", async () => {
    const down = 'mongodb://127.0.0.1:1/?replicaSet=rs0';
    const agent = startAgent(['--local', down, '--db', 'pos'], { env: { TILLSYNC_HUB_URI: hub.uri } });
    await agent.waitForEvent('agent.starting'); // the first start is under way
    await stopCleanly(agent);
    assert.deepEqual(logLines(agent, 'agent.started'), [], 'it never got to sync');
  });
});
