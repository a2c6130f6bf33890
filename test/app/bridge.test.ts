/**
 * The web bridge over a real WebSocket, against a real engine on the MongoDB
 * harness: the page and its CSP are served, only the bridge's own page may
 * connect, commands go through the contract, status is pushed, and a conflict
 * made by two edits reaches the page and its losing version can be applied.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BRIDGE_WS_PATH,
  type AppInfo,
  type BridgeServerMessage,
  type ConflictPageView,
  type ConflictView,
  type SettingsView,
} from '../../src-shared/ipc.ts';
import type { SyncStatus } from '../../src-shared/status.ts';
import { EngineBackend } from '../../src-main/app/backend.ts';
import { SettingsStore } from '../../src-main/app/settings-store.ts';
import { startBridge, type Bridge } from '../../src-main/bridge/server.ts';
import { startTopology, TEST_ENGINE_SETTINGS, waitFor, type Till, type Topology } from '../integration/topology.ts';
import { get, Page } from './bridge-page.ts';
import { testSecretBox } from './helpers.ts';

describe('web bridge', () => {
  let dir: string;
  let topology: Topology;
  let till: Till;
  let backend: EngineBackend;
  let bridge: Bridge;
  let page: Page;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-bridge-'));
    const renderer = join(dir, 'renderer');
    await mkdir(join(renderer, 'assets'), { recursive: true });
    await writeFile(
      join(renderer, 'index.html'),
      '<!doctype html><title>TillSync</title><script type="module" src="./assets/app.js"></script>',
    );
    await writeFile(join(renderer, 'assets', 'app.js'), 'export {};');
    await writeFile(join(dir, 'secret.txt'), 'not for the browser');
    topology = await startTopology({ tills: 2, startEngines: false });
    till = topology.tills[0]!;
    backend = new EngineBackend({
      settings: await SettingsStore.open(join(dir, 'settings'), testSecretBox()),
      localUri: till.rs.uri,
      database: 'pos',
      engine: { ...TEST_ENGINE_SETTINGS, deviceId: 'till-a' },
      info: { version: '0.0.0-test', backend: topology.hub.kind === 'emulator' ? 'emulator' : 'mongod', tillName: 'Till A' },
    });
    await backend.start();
    // Till B runs a plain engine from the start (a till joining later would not get earlier data yet).
    await topology.tills[1]!.startEngine();
    bridge = await startBridge({ backend, rendererDir: renderer });
    page = await Page.open(bridge);
  });

  after(async () => {
    page?.close();
    await bridge?.close();
    await backend?.stop();
    await topology?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the dashboard with a strict CSP that allows only its own WebSocket', async () => {
    const res = await get(bridge, '/');
    assert.equal(res.status, 200);
    assert.match(res.body, /<title>TillSync<\/title>/);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.ok(csp.includes(`connect-src 'self' ws://127.0.0.1:${bridge.port}${BRIDGE_WS_PATH}`), csp);
    assert.ok(!csp.includes('unsafe'), csp);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    const js = await get(bridge, '/assets/app.js');
    assert.equal(js.status, 200);
    assert.match(String(js.headers['content-type']), /text\/javascript/);
  });

  it('serves nothing outside the dashboard folder, and only under its own host name', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/missing.js']) {
      const res = await get(bridge, path);
      assert.equal(res.status, 404, path);
      assert.ok(!res.body.includes('not for the browser'), path);
    }
    assert.equal((await get(bridge, '/', { host: 'attacker.example:80' })).status, 421, 'a DNS-rebinding host is refused');
  });

  it('refuses WebSocket connections from other origins', async () => {
    await assert.rejects(Page.open(bridge, 'http://attacker.example'), /HTTP 403/);
    await assert.rejects(Page.open(bridge, 'null'), /HTTP 403/);
  });

  it('answers bad messages and bad input with errors that say what is expected', async () => {
    const raw = await Page.open(bridge);
    try {
      const answer = new Promise<BridgeServerMessage>((resolve) =>
        raw.ws.once('message', (d) => resolve(JSON.parse(d.toString()) as BridgeServerMessage)),
      );
      raw.ws.send('not json');
      const first = await answer;
      // The first frame may be the welcome status; skip to the result.
      const result =
        first.type === 'result'
          ? first
          : await new Promise<BridgeServerMessage>((resolve) =>
              raw.ws.on('message', (d) => {
                const m = JSON.parse(d.toString()) as BridgeServerMessage;
                if (m.type === 'result') resolve(m);
              }),
            );
      assert.ok(result.type === 'result' && !result.result.ok, JSON.stringify(result));
      assert.equal(result.result.error.code, 'invalid-input');
      assert.match(result.result.error.message, /"type":"invoke"/);
    } finally {
      raw.close();
    }
    const bad = await page.invoke('settings.setHubUri', { uri: 'http://hub' });
    assert.ok(!bad.ok && bad.error.field === 'uri' && /mongodb:\/\//.test(bad.error.message), JSON.stringify(bad));
    const unknown = await page.invoke('tills.reboot');
    assert.ok(!unknown.ok && unknown.error.code === 'unknown-command');
  });

  it('starts syncing once the hub is set, pushes status every second, and says which MongoDB it runs on', async () => {
    const view = await page.value<SettingsView>('settings.setHubUri', { uri: topology.hub.uri });
    assert.equal(view.hubUriMasked, topology.hub.uri);
    assert.deepEqual(page.latest<SettingsView>('settings'), view, 'the settings event reached the page');
    await waitFor('the till to be synced', () => page.latest<SyncStatus>('status')?.state === 'synced', 30_000);
    const before = page.events.filter((e) => e.event === 'status').length;
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assert.ok(page.events.filter((e) => e.event === 'status').length > before, 'status keeps coming');
    const info = await page.value<AppInfo>('app.info');
    assert.equal(info.deviceId, 'till-a');
    assert.equal(info.backend, topology.hub.kind === 'emulator' ? 'emulator' : 'mongod');

    await topology.hubDb.collection('menu').insertOne({ _id: 'soup' as never, price: 4 });
    await waitFor(
      'the hub write on the till',
      async () => (await till.db.collection('menu').findOne({ _id: 'soup' as never }))?.price === 4,
    );
  });

  it('pauses and resumes sync from the page', async () => {
    await page.value<SettingsView>('settings.setEnabled', { enabled: false });
    await waitFor('state disabled', () => page.latest<SyncStatus>('status')?.state === 'disabled');
    await till.db.collection('menu').insertOne({ _id: 'tea' as never, price: 2 });
    await new Promise((resolve) => setTimeout(resolve, 800));
    assert.equal(
      await topology.hubDb.collection('menu').countDocuments({ _id: 'tea' as never }),
      0,
      'nothing reaches the hub while paused',
    );
    await page.value<SettingsView>('settings.setEnabled', { enabled: true });
    await waitFor(
      'the paused write on the hub',
      async () => (await topology.hubDb.collection('menu').countDocuments({ _id: 'tea' as never })) === 1,
    );
  });

  it('shows a conflict as it happens, and applying the other version changes both databases', async () => {
    // Till B edits the same menu item while till A is paused: B's version is newer, so the hub keeps it.
    const other = topology.tills[1]!;
    await waitFor(
      'till B to have the soup',
      async () => (await other.db.collection('menu').findOne({ _id: 'soup' as never }))?.price === 4,
    );
    await page.value('settings.setEnabled', { enabled: false });
    await till.db.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 5 } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await other.db.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 6, note: 'B' } });
    await waitFor(
      "till B's edit on the hub",
      async () => (await topology.hubDb.collection('menu').findOne({ _id: 'soup' as never }))?.price === 6,
    );
    await page.value('settings.setEnabled', { enabled: true });

    const pushed = await waitFor('a conflict event', () => page.latest<ConflictView>('conflict'), 30_000);
    assert.equal(pushed.collection, 'menu');
    assert.equal(pushed.documentId, '"soup"');
    assert.equal(pushed.winner, 'hub');
    assert.deepEqual(pushed.changedFields, ['note', 'price']);
    assert.equal(pushed.local.document?.price, 5);
    assert.equal(pushed.hub.document?.price, 6);
    assert.equal(pushed.hub.origin, 'till-b');
    assert.match(pushed.explanation, /hub's version was newer/);
    await waitFor(
      "the hub's version on till A",
      async () => (await till.db.collection('menu').findOne({ _id: 'soup' as never }))?.price === 6,
    );

    const list = await page.value<ConflictPageView>('conflicts.list', { collection: 'menu' });
    assert.equal(list.total, 1);
    assert.equal(list.items[0]?.id, pushed.id);
    assert.equal((await page.value<ConflictPageView>('conflicts.list', { collection: 'orders' })).total, 0);
    assert.deepEqual(await page.value<ConflictView | null>('conflicts.get', { id: pushed.id }), pushed);
    assert.equal(await page.value<ConflictView | null>('conflicts.get', { id: '0123456789abcdef01234567' }), null);

    const applied = await page.value<ConflictView>('conflicts.applyLoser', { id: pushed.id });
    assert.ok(applied.reappliedAt !== null);
    for (const [name, db] of [
      ['the hub', topology.hubDb],
      ['till B', other.db],
      ['till A', till.db],
    ] as const) {
      await waitFor(`till A's version on ${name}`, async () => {
        const doc = await db.collection('menu').findOne({ _id: 'soup' as never });
        return doc?.price === 5 && doc.note === undefined;
      });
    }
    const missing = await page.invoke('conflicts.applyLoser', { id: 'no-such-conflict' });
    assert.ok(!missing.ok && missing.error.code === 'not-found', JSON.stringify(missing));
  });

  it('applies the other version of a conflict with a head-office edit, when no other till is running', async () => {
    await topology.tills[1]!.stopEngine();
    await page.value('settings.setEnabled', { enabled: false });
    await till.db.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 7 } });
    await new Promise((resolve) => setTimeout(resolve, 50));
    await topology.hubDb.collection('menu').updateOne({ _id: 'soup' as never }, { $set: { price: 8, note: 'HQ' } });
    const seen = page.events.length;
    await page.value('settings.setEnabled', { enabled: true });
    const conflict = await waitFor(
      'an HQ conflict',
      () => page.events.slice(seen).find((e) => e.event === 'conflict')?.payload as ConflictView | undefined,
      30_000,
    );
    assert.equal(conflict.hub.origin, 'hq');
    await page.value('conflicts.applyLoser', { id: conflict.id });
    await waitFor(
      "till A's version on the hub",
      async () => (await topology.hubDb.collection('menu').findOne({ _id: 'soup' as never }))?.price === 7,
      8_000,
    );
  });

  it('tests a hub connection string in plain words', async () => {
    assert.deepEqual(await page.value('settings.testHub', {}), { ok: true, message: 'Connected to the hub.' });
    const down = await page.value<{ ok: boolean; message: string }>('settings.testHub', {
      uri: 'mongodb://tillsync:pw-123@127.0.0.1:1/?serverSelectionTimeoutMS=500',
    });
    assert.equal(down.ok, false);
    assert.match(down.message, /Could not reach the hub at 127\.0\.0\.1:1/);
    assert.ok(!down.message.includes('pw-123'));
  });
});
