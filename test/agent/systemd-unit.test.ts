/**
 * The agent as a systemd service: `npm run agent -- --print-systemd-unit`
 * prints a unit for this machine that `systemd-analyze verify` accepts, with
 * the hub connection string kept out of it; the command line in it, run the
 * way systemd runs it, syncs and stops cleanly on SIGTERM; restarts back off
 * and never stop for good except after a configuration mistake; the
 * hardening rates "OK" or better in `systemd-analyze security`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { detectSystemdVersion, quoteExecArg, renderAgentUnit } from '../../src-main/agent/systemd-unit.ts';
import { startReplSet, type ReplSet } from '../harness/replset.ts';
import { waitFor } from '../integration/topology.ts';
import { REPO, runAgentToExit, startAgent, writeHubFile } from './agent-process.ts';
import { buildAgent } from '../../scripts/build-agent.mjs';

/** Why `systemd-analyze verify` cannot be used here, or undefined when it can: checked on a unit known to be good. */
async function systemdAnalyzeProblem(): Promise<string | undefined> {
  const version = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  if (version.error) return 'systemd-analyze is not installed (Debian: apt-get install systemd; .ci/run installs it)';
  const dir = await mkdtemp(join(tmpdir(), 'tillsync-systemd-probe-'));
  try {
    const unit = join(dir, 'probe.service');
    await writeFile(unit, `[Service]\nType=exec\nExecStart=${process.execPath} --version\n`);
    const probe = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    if (probe.status !== 0) return `systemd-analyze verify cannot run here (a minimal unit fails): ${probe.stderr.trim()}`;
    return undefined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** systemd-analyze verify: exit 0 and not a word (it warns about unknown keys on stderr but still exits 0). */
function verify(path: string): void {
  const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
  assert.equal(result.status, 0, `systemd-analyze verify refused the unit:\n${result.stderr}`);
  assert.equal(`${result.stdout}${result.stderr}`.trim(), '', 'no warnings either');
}

/** The value of a setting in the unit (the first one). */
function setting(unit: string, key: string): string | undefined {
  return unit
    .split('\n')
    .find((line) => line.startsWith(`${key}=`))
    ?.slice(key.length + 1);
}

/** ExecStart= split into arguments as systemd does: whitespace outside quotes, \\ and \" inside them, %% and $$. */
function splitExecStart(value: string): string[] {
  const args: string[] = [];
  for (const match of value.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)) {
    const raw = match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
    args.push(raw.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return args;
}

const problem = await systemdAnalyzeProblem();

describe('the agent as a systemd service', { skip: problem ?? false }, () => {
  let dir: string;
  let hub: ReplSet;
  let till: ReplSet;
  let hubClient: MongoClient;
  let unit: string;
  let unitPath: string;
  let hubFile: string;
  let bundle: string;
  const secret = 'env-s3cret';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-systemd-'));
    hub = await startReplSet();
    till = await startReplSet();
    hubClient = await hub.connect();
    hubFile = join(dir, 'hub-uri');
    const config = join(dir, 'tillsync.json');
    await writeFile(config, JSON.stringify({ collections: { drawer: { mode: 'local-only' } } }));
    // Printed as `npm run agent` prints it: by the agent's bundle, which the unit then runs.
    bundle = await buildAgent();
    // A hub URI in the environment of whoever prints the unit must not end up in it.
    const printed = await runAgentToExit(
      ['--print-systemd-unit', '--local', till.uri, '--db', 'pos', '--hub-file', hubFile, '--config', config, '--device-id', 'till-7'],
      { env: { TILLSYNC_HUB_URI: `mongodb://u:${secret}@hub.example.net/` }, command: [process.execPath, bundle] },
    );
    assert.equal(printed.code, 0, printed.output);
    unit = printed.output;
    unitPath = join(dir, 'tillsync-agent.service');
    await writeFile(unitPath, unit);
  });

  after(async () => {
    await hubClient?.close();
    await till?.stop();
    await hub?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints a unit for this machine that systemd-analyze verify accepts', () => {
    verify(unitPath);
    const command = splitExecStart(setting(unit, 'ExecStart') ?? '');
    assert.equal(command[0], process.execPath, 'this Node.js');
    assert.equal(command[1], join(REPO, 'dist', 'agent', 'agent.js'), 'the bundle, no loader');
    assert.equal(command[1], bundle);
    assert.deepEqual(command.slice(2), [
      '--local',
      till.uri,
      '--db',
      'pos',
      '--hub-file',
      hubFile,
      '--config',
      join(dir, 'tillsync.json'),
      '--device-id',
      'till-7',
    ]);
    assert.equal(setting(unit, 'WorkingDirectory'), REPO, 'this checkout');
    assert.equal(setting(unit, 'User'), userInfo().username, 'this user');
    assert.ok(!unit.includes(secret) && !unit.includes('hub.example.net'), 'the hub connection string stays out of the unit');
  });

  it('restarts after a failure with a delay, never gives up, and stops with SIGTERM and time to finish', () => {
    assert.equal(setting(unit, 'Restart'), 'on-failure');
    assert.match(setting(unit, 'RestartSec') ?? '', /^\d+s$/);
    assert.equal(setting(unit, 'StartLimitIntervalSec'), '0', 'a till must come back by itself');
    assert.equal(setting(unit, 'RestartPreventExitStatus'), '2', 'not after a configuration mistake');
    assert.equal(setting(unit, 'KillSignal'), 'SIGTERM');
    assert.equal(setting(unit, 'TimeoutStopSec'), '30s');

    const recent = renderAgentUnit({
      command: ['/usr/bin/node'],
      workingDirectory: '/srv/tillsync',
      user: 'till',
      hubFile: '/etc/tillsync/hub-uri',
      systemdVersion: 256,
    });
    assert.equal(setting(recent, 'RestartSteps'), '10', 'systemd 254 and newer: the delay grows');
    assert.equal(setting(recent, 'RestartMaxDelaySec'), '5min');
    const here = detectSystemdVersion();
    assert.equal(setting(unit, 'RestartSteps') !== undefined, here !== null && here >= 254, `filled in for systemd ${here} here`);
  });

  it('is hardened: systemd-analyze security rates it OK or better', (t) => {
    const result = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitPath], { encoding: 'utf8' });
    const match = /Overall exposure level for \S+: (\d+\.\d+) (\S+)/.exec(`${result.stdout}${result.stderr}`);
    if (!match) return t.skip(`systemd-analyze security --offline is not available here: ${result.stderr.trim()}`);
    assert.ok(Number(match[1]) < 5, `exposure ${match[1]} ${match[2]} (OK is below 5):\n${result.stdout}`);
  });

  it("runs the unit's command line as systemd would: it syncs, and stops cleanly on SIGTERM", async () => {
    await writeHubFile(hubFile, `${hub.uri}\n`, 0o600);
    await till.connect().then(async (client) => {
      await client
        .db('pos')
        .collection('menu')
        .insertOne({ _id: 'from-service' as never, price: 7 });
      await client.close();
    });
    const agent = startAgent([], { command: splitExecStart(setting(unit, 'ExecStart')!), cwd: setting(unit, 'WorkingDirectory') });
    try {
      await waitFor(
        "the till's write on the hub",
        async () =>
          (
            await hubClient
              .db('pos')
              .collection('menu')
              .findOne({ _id: 'from-service' as never })
          )?.price === 7,
        60_000,
      );
    } finally {
      const exit = await agent.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, agent.output());
    }
    assert.match(agent.output(), /"event":"agent\.stopping"[\s\S]*"event":"engine\.stopped"[\s\S]*"event":"agent\.stopped"/);
  });

  it('quotes paths so systemd runs the right program with the right arguments, whatever their characters', async () => {
    const odd = join(dir, 'node dir 100% $HOME é');
    await mkdir(odd, { recursive: true });
    await symlink(process.execPath, join(odd, 'node'));
    const path = join(dir, 'odd.service');
    const args = ['--version', ';', 'a b', '"q" \\b $HOME 100%', ''];
    const command = [join(odd, 'node'), ...args];
    const text = renderAgentUnit({ command, workingDirectory: odd, user: 'till', hubFile: '/etc/tillsync/hub-uri', systemdVersion: null });
    await writeFile(path, text);
    verify(path); // verify checks that the program exists: a wrongly quoted path would not
    assert.deepEqual(splitExecStart(setting(text, 'ExecStart')!).slice(0, 1), [command[0]]);
    assert.deepEqual(
      args.map((a) => quoteExecArg(a)),
      ['--version', '\\;', '"a b"', '"\\"q\\" \\\\b $$HOME 100%%"', '""'],
      'a lone ; would end the command; $ and % would be expanded',
    );
    assert.throws(
      () => renderAgentUnit({ command: ["/opt/it's/node"], workingDirectory: '/', user: 'till', hubFile: '/h', systemdVersion: null }),
      /systemd cannot start a program whose path holds a quote or a backslash/,
    );
  });

  it('refuses to put the hub connection string in a unit', async () => {
    const run = await runAgentToExit(['--print-systemd-unit', '--hub', `mongodb://u:${secret}@hub.example.net/`]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /a systemd unit never carries the hub connection string: leave out --hub/);
    assert.ok(!run.output.includes(secret));
  });
});
