/**
 * The agent's monitor API, over real HTTP to a real agent process syncing a
 * till with a hub: health and metrics for anyone on the machine; conflicts
 * and the toggle only with the token; every refusal with its status and
 * words; a token made on first start, owner-only, its path logged and the
 * token never; and nothing listening beyond 127.0.0.1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createServer, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAgent, startTopology, waitFor, type AgentProcess, type Till, type Topology } from '../integration/topology.ts';
import { freePort } from '../e2e/demo-process.ts';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: () => Record<string, unknown>;
}

function call(port: number, method: string, path: string, options: { token?: string; body?: string; host?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: options.host ?? `127.0.0.1:${port}` };
    if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const TOKEN = 'test-token-0123456789abcdef';

describe('monitor API of a running agent', () => {
  let topology: Topology;
  let a: Till;
  let b: Till;
  let agentA: AgentProcess;
  let agentB: AgentProcess | undefined;
  let port: number;
  let dir: string;

  before(async () => {
    topology = await startTopology({ tills: 2, startEngines: false });
    [a, b] = topology.tills as [Till, Till];
    dir = mkdtempSync(join(tmpdir(), 'tillsync-monitor-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    port = await freePort();
    agentA = startAgent(a, ['--monitor-port', String(port), '--monitor-token-file', tokenFile]);
    await agentA.waitForEvent('monitor.listening');
  });

  after(async () => {
    await agentA?.kill('SIGTERM');
    await agentB?.kill('SIGTERM');
    await topology?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('GET /health: 200 with the state, lag and outbox once synced; no token needed', async () => {
    const reply = await waitFor('/health to answer 200, synced', async () => {
      const r = await call(port, 'GET', '/health');
      return r.status === 200 && r.json().state === 'synced' ? r : undefined;
    });
    const body = reply.json();
    assert.equal(body.state, 'synced');
    assert.equal(body.deviceId, 'till-a');
    assert.deepEqual(Object.keys(body.lagMs as object).sort(), ['pull', 'push']);
    assert.deepEqual(body.outbox, { depth: 0, oldestPendingAgeMs: null });
    assert.match(String(reply.headers['content-type']), /^application\/json/);
  });

  it('GET /metrics: Prometheus text, every figure under a tillsync_ name with the device label', async () => {
    await a.db.collection('mon_sales').insertOne({ _id: 'm1' as never, total: 3 });
    await waitFor('the sale on the hub', async () => (await topology.hubDb.collection('mon_sales').countDocuments()) === 1);
    const reply = await waitFor('metrics with push lag', async () => {
      const r = await call(port, 'GET', '/metrics');
      return /tillsync_lag_seconds\{device="till-a",direction="push",stat="p95"\} [\d.e-]+/.test(r.text) ? r : undefined;
    });
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const samples = reply.text.split('\n').filter((line) => line && !line.startsWith('#'));
    assert.ok(samples.length >= 20, `many samples (${samples.length})`);
    for (const line of samples) assert.match(line, /^tillsync_[a-z_]+\{device="till-a"[,}]/, line);
    for (const expected of [
      'tillsync_state{device="till-a",state="synced"} 1',
      'tillsync_state{device="till-a",state="offline"} 0',
      'tillsync_enabled{device="till-a"} 1',
      'tillsync_outbox_depth{device="till-a"} 0',
      'tillsync_conflicts{device="till-a"} 0',
      'tillsync_set_aside{device="till-a"} 0',
    ]) {
      assert.ok(samples.includes(expected), `has "${expected}"`);
    }
    for (const name of ['changes_per_second', 'checkpoint_age_seconds', 'last_synced_timestamp_seconds', 'warnings']) {
      assert.match(reply.text, new RegExp(`^# HELP tillsync_${name} `, 'm'));
    }
  });

  it('/conflicts and /toggle refuse a missing or wrong token with 401', async () => {
    for (const [method, path, body] of [
      ['GET', '/conflicts', undefined],
      ['POST', '/toggle', '{"enabled": false}'],
    ] as const) {
      for (const token of [undefined, 'wrong-token-0123456789', `${TOKEN}x`, '']) {
        const r = await call(port, method, path, { token, body });
        assert.equal(r.status, 401, `${method} ${path} with token ${JSON.stringify(token)}`);
        assert.equal(r.headers['www-authenticate'], 'Bearer realm="tillsync"');
        assert.match(String(r.json().error), /needs "Authorization: Bearer <token>"/);
      }
    }
    const h = await call(port, 'GET', '/health');
    assert.equal(h.json().enabled, true, 'nothing was paused by the refused requests');
  });

  it('POST /toggle pauses (health says 503) and resumes; the conflicts it let happen are listed by GET /conflicts', async () => {
    await a.db.collection('mon_menu').insertOne({ _id: 'soup' as never, price: 4 });
    await waitFor('the soup on the hub', async () => (await topology.hubDb.collection('mon_menu').countDocuments()) === 1);

    const paused = await call(port, 'POST', '/toggle', { token: TOKEN, body: '{"enabled": false}' });
    assert.equal(paused.status, 200, paused.text);
    assert.deepEqual(paused.json(), { enabled: false, state: 'disabled' });
    const health = await call(port, 'GET', '/health');
    assert.equal(health.status, 503);
    assert.equal(health.json().state, 'disabled');

    // While paused: the till edits the soup, then head office does (newer): a conflict when the till resumes.
    await a.db.collection('mon_menu').updateOne({ _id: 'soup' as never }, { $set: { price: 5 } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await topology.hubDb.collection('mon_menu').updateOne({ _id: 'soup' as never }, { $set: { price: 6 } });

    const resumed = await call(port, 'POST', '/toggle', { token: TOKEN, body: '{"enabled":true}' });
    assert.equal(resumed.status, 200, resumed.text);
    assert.equal(resumed.json().enabled, true);
    const conflicts = await waitFor('the conflict in /conflicts', async () => {
      const r = await call(port, 'GET', '/conflicts?limit=5', { token: TOKEN });
      return r.status === 200 && (r.json().total as number) > 0 ? r.json() : undefined;
    });
    const [first] = conflicts.items as Array<Record<string, unknown>>;
    assert.equal(first?.collection, 'mon_menu');
    assert.equal(first?.documentId, 'soup');
    assert.equal(first?.winner, 'hub', "head office's later edit wins");
    assert.equal(((first?.local as Record<string, unknown>).document as Record<string, unknown>).price, 5);
    assert.match(String((first?.at as { $date?: unknown }).$date), /^\d{4}-\d\d-\d\dT/, 'dates in MongoDB Extended JSON (relaxed)');
    const one = await call(port, 'GET', '/conflicts?limit=1', { token: TOKEN });
    assert.equal((one.json().items as unknown[]).length, 1);
    await waitFor('/health 200 again', async () => (await call(port, 'GET', '/health')).status === 200);
  });

  it('bad requests get 400 with a message; unknown paths 404; wrong methods 405; a foreign Host 421', async () => {
    const cases: Array<[string, string, { token?: string; body?: string; host?: string }, number, RegExp]> = [
      ['GET', '/conflicts?limit=abc', { token: TOKEN }, 400, /limit must be a whole number from 1 to 200; got "abc"/],
      ['GET', '/conflicts?limit=0', { token: TOKEN }, 400, /limit must be a whole number from 1 to 200; got "0"/],
      ['GET', '/conflicts?limit=201', { token: TOKEN }, 400, /from 1 to 200/],
      ['GET', '/conflicts?page=2', { token: TOKEN }, 400, /unknown query parameter "page"/],
      ['POST', '/toggle', { token: TOKEN, body: 'pause please' }, 400, /JSON like \{"enabled": false\}; it is not valid JSON/],
      ['POST', '/toggle', { token: TOKEN, body: '{"enabled":"no"}' }, 400, /"enabled" must be true or false, got "no"/],
      ['POST', '/toggle', { token: TOKEN, body: '{}' }, 400, /"enabled" must be true or false, got nothing/],
      ['POST', '/toggle', { token: TOKEN, body: '{"enabled":false,"now":true}' }, 400, /unknown field "now"/],
      ['POST', '/toggle', { token: TOKEN, body: `{"enabled":false,"x":"${'y'.repeat(2000)}"}` }, 400, /at most 1024 bytes/],
      ['GET', '/', {}, 404, /no such path "\/"; this API has \/health, \/metrics, \/conflicts and \/toggle/],
      ['GET', '/admin', { token: TOKEN }, 404, /no such path "\/admin"/],
      ['GET', '/toggle', { token: TOKEN }, 405, /\/toggle takes POST, not GET/],
      ['POST', '/health', {}, 405, /\/health takes GET or HEAD, not POST/],
      ['GET', '/health', { host: 'evil.example:80' }, 421, /only answers to its own address/],
    ];
    for (const [method, path, options, status, words] of cases) {
      const r = await call(port, method, path, options);
      assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
      assert.match(String(r.json().error), words, `${method} ${path}`);
    }
    assert.equal((await call(port, 'GET', '/health')).json().enabled, true, 'no bad request paused sync');
  });

  it('listens on 127.0.0.1 only', async (t) => {
    const external = Object.values(networkInterfaces())
      .flat()
      .find((i) => i && i.family === 'IPv4' && !i.internal);
    if (!external) return t.skip('this machine has no address besides loopback');
    const refused = await new Promise<string>((resolve) => {
      const socket = connect({ host: external.address, port }, () => {
        socket.destroy();
        resolve('connected');
      });
      socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    assert.equal(refused, 'ECONNREFUSED', `nothing answers on ${external.address}:${port}`);
  });

  it('without a token file, makes a token readable by its owner only, logs where, and never logs the token', async () => {
    const stateHome = join(dir, 'state');
    const bPort = await freePort();
    const saved = process.env.XDG_STATE_HOME;
    process.env.XDG_STATE_HOME = stateHome;
    try {
      agentB = startAgent(b, ['--monitor-port', String(bPort)]);
    } finally {
      if (saved === undefined) delete process.env.XDG_STATE_HOME;
      else process.env.XDG_STATE_HOME = saved;
    }
    await agentB.waitForEvent('monitor.listening');
    const file = join(stateHome, 'tillsync', 'monitor-token');
    assert.equal(statSync(file).mode & 0o777, 0o600, 'owner-only');
    const token = readFileSync(file, 'utf8').trim();
    assert.ok(token.length >= 32);
    const created = agentB.lines.find((l) => l.includes('"event":"monitor.token-created"'));
    assert.ok(created?.includes(JSON.stringify(file)), `the log names the file: ${created}`);
    const ok = await waitFor('till B conflicts with its token', async () => {
      const r = await call(bPort, 'GET', '/conflicts', { token });
      return r.status === 200 ? r : undefined;
    });
    assert.deepEqual(ok.json(), { total: 0, items: [] });
    assert.ok(!agentB.lines.some((l) => l.includes(token)) && !agentA.lines.some((l) => l.includes(TOKEN)), 'no log line holds a token');
  });
});

describe('agent monitor options', () => {
  function agent(args: string[]): Promise<{ code: number | null; stderr: string }> {
    const base = ['--local', 'mongodb://127.0.0.1:1/?replicaSet=rs0', '--hub', 'mongodb://127.0.0.1:2/', '--db', 'pos'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src-main/agent.ts', ...base, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })));
  }

  it('names a wrong port, a token file without a port, a port in use and a token too short, and exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tillsync-monitor-'));
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    try {
      const short = join(dir, 'short');
      writeFileSync(short, 'abc\n', { mode: 0o600 });
      const busyPort = String((busy.address() as { port: number }).port);
      const cases: Array<[string[], RegExp]> = [
        [['--monitor-port', 'nine'], /--monitor-port must be a whole number from 1 to 65535 \(0 picks a free one\); got "nine"/],
        [['--monitor-token-file', short], /--monitor-token-file needs --monitor-port/],
        [['--monitor-port', busyPort, '--monitor-token-file', short], /must hold one token of at least 16 characters/],
        [
          ['--monitor-port', busyPort, '--monitor-token-file', join(dir, 'new-token')],
          new RegExp(`port ${busyPort} on 127.0.0.1 is in use`),
        ],
      ];
      for (const [args, words] of cases) {
        const run = await agent(args);
        assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
        assert.match(run.stderr, words);
      }
    } finally {
      busy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
