/**
 * The web bridge's access token: only the address the bridge prints opens
 * the dashboard. A page load or a WebSocket without the token is refused
 * (401), with a wrong one too (403), each with words saying what to open; the
 * page load that carries it gives the page a cookie its scripts and its
 * WebSocket then use. The token never reaches the log.
 *
 * No MongoDB here: the backend has no hub set, so no engine starts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SyncStatus } from '../../src-shared/status.ts';
import { EngineBackend } from '../../src-main/app/backend.ts';
import { SettingsStore } from '../../src-main/app/settings-store.ts';
import { startBridge, type Bridge } from '../../src-main/bridge/server.ts';
import type { Logger, LogFields } from '../../src-main/sync/log.ts';
import { get, Page, tokenCookie } from './bridge-page.ts';
import { testSecretBox } from './helpers.ts';

function recordingLogger(lines: string[]): Logger {
  const record =
    (level: string) =>
    (fields: LogFields, msg?: string): void => {
      lines.push(`${level} ${JSON.stringify(fields)} ${msg ?? ''}`);
    };
  const log: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => log };
  return log;
}

describe('web bridge access token', () => {
  let dir: string;
  let backend: EngineBackend;
  let bridge: Bridge;
  let other: Bridge;
  const logLines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-bridge-token-'));
    const renderer = join(dir, 'renderer');
    await mkdir(join(renderer, 'assets'), { recursive: true });
    await writeFile(
      join(renderer, 'index.html'),
      '<!doctype html><title>TillSync</title><script type="module" src="./assets/app.js"></script>',
    );
    await writeFile(join(renderer, 'assets', 'app.js'), 'export {};');
    backend = new EngineBackend({
      settings: await SettingsStore.open(join(dir, 'settings'), testSecretBox()),
      localUri: 'mongodb://127.0.0.1:1/?replicaSet=rs0',
      database: 'pos',
      info: { version: '0.0.0-test', backend: 'emulator', tillName: 'Till A' },
    });
    await backend.start();
    const log = recordingLogger(logLines);
    bridge = await startBridge({ backend, rendererDir: renderer, log });
    other = await startBridge({ backend, rendererDir: renderer, log });
  });

  after(async () => {
    await other?.close();
    await bridge?.close();
    await backend?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints an address that carries a long random token, a new one per bridge', () => {
    assert.match(bridge.url, /^http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]{32,}$/);
    assert.equal(bridge.url, `${bridge.origin}/?token=${bridge.token}`);
    assert.notEqual(bridge.token, other.token, 'each bridge makes its own token');
    assert.notEqual(bridge.cookieName, other.cookieName, 'two bridges on one machine keep their cookies apart');
  });

  it('opens the page from the printed address and gives it the cookie its scripts then use', async () => {
    const page = await get(bridge, bridge.url.slice(bridge.origin.length), { cookie: null });
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>TillSync<\/title>/);
    const setCookie = String(page.headers['set-cookie']);
    assert.ok(setCookie.startsWith(`${tokenCookie(bridge)};`), setCookie);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    const script = await get(bridge, '/assets/app.js', { cookie: tokenCookie(bridge) });
    assert.equal(script.status, 200, 'the page’s script loads with the cookie');
  });

  it('refuses a page or a script without the token (401) and with a wrong one (403), saying what to open', async () => {
    const none = await get(bridge, '/', { cookie: null });
    assert.equal(none.status, 401);
    assert.match(none.body, /needs its access token.*\?token=/);
    assert.doesNotMatch(none.body, /<title>TillSync/, 'the dashboard itself is not served');
    assert.equal((await get(bridge, '/assets/app.js', { cookie: null })).status, 401);

    const wrongQuery = await get(bridge, `/?token=${'x'.repeat(bridge.token.length)}`, { cookie: null });
    assert.equal(wrongQuery.status, 403);
    assert.match(wrongQuery.body, /not the one this dashboard expects/);
    assert.equal(wrongQuery.headers['set-cookie'], undefined, 'a wrong token gets no cookie');
    assert.equal((await get(bridge, '/', { cookie: tokenCookie(bridge, 'short') })).status, 403, 'a wrong cookie');
    assert.equal(
      (await get(bridge, '/', { cookie: tokenCookie(bridge, other.token) })).status,
      403,
      "another bridge's token does not open this one",
    );
    assert.equal((await get(bridge, '/', { cookie: tokenCookie(other) })).status, 401, "another bridge's cookie is not this one's");
  });

  it('refuses a WebSocket without the token or with a wrong one, and accepts the cookie or the token in its address', async () => {
    await assert.rejects(Page.open(bridge, { cookie: null }), /HTTP 401: This dashboard needs its access token/);
    await assert.rejects(Page.open(bridge, { cookie: tokenCookie(bridge, 'wrong') }), /HTTP 403: The access token/);
    await assert.rejects(Page.open(bridge, { cookie: null, query: '?token=wrong' }), /HTTP 403/);
    await assert.rejects(
      Page.open(bridge, { origin: 'http://attacker.example' }),
      /HTTP 403/,
      'the origin check still holds with the token',
    );

    for (const options of [{}, { cookie: null, query: `?token=${bridge.token}` }]) {
      const page = await Page.open(bridge, options);
      try {
        const settings = await page.value<{ enabled: boolean }>('settings.get');
        assert.equal(settings.enabled, true);
        const status = page.latest<SyncStatus>('status') ?? (await page.value<SyncStatus>('status.get'));
        assert.match(status.lastError?.message ?? '', /No hub connection string/, 'the page shows the till’s state');
      } finally {
        page.close();
      }
    }
  });

  it('never writes the token to the log', () => {
    assert.ok(
      logLines.some((line) => line.includes('bridge.listening')),
      'the bridge logged that it listens',
    );
    assert.ok(
      logLines.some((line) => line.includes('bridge.request-refused')),
      'refusals are logged',
    );
    for (const token of [bridge.token, other.token]) {
      assert.ok(!logLines.some((line) => line.includes(token)), `no log line holds a token:\n${logLines.join('\n')}`);
    }
  });
});
