/**
 * The IPC handlers every dashboard command goes through, without Electron:
 * senders the app did not create are refused, unknown commands are named,
 * bad input says which field and what is expected, and failures reach the
 * dashboard in plain words without stack traces or passwords.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcResult, SettingsView } from '../../src-shared/ipc.ts';
import { EngineBackend, type AppBackend } from '../../src-main/app/backend.ts';
import { createIpcHandlers, type IpcHandler } from '../../src-main/app/handlers.ts';
import { SettingsStore } from '../../src-main/app/settings-store.ts';
import { testSecretBox } from './helpers.ts';

interface Sender {
  id: number;
}
const OWN: Sender = { id: 1 };
const STRANGER: Sender = { id: 666 };

function errorOf(result: IpcResult<unknown>) {
  assert.equal(result.ok, false, `expected an error, got ${JSON.stringify(result)}`);
  return (result as Extract<IpcResult<unknown>, { ok: false }>).error;
}

function valueOf<T>(result: IpcResult<unknown>): T {
  assert.ok(result.ok, `expected success, got ${JSON.stringify(result)}`);
  return result.value as T;
}

describe('IPC handlers', () => {
  let dir: string;
  let backend: EngineBackend;
  let handle: IpcHandler<Sender>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-handlers-'));
    backend = new EngineBackend({
      settings: await SettingsStore.open(dir, testSecretBox()),
      localUri: 'mongodb://127.0.0.1:1/?replicaSet=rs0',
      database: 'pos',
      info: { version: '0.0.0-test', backend: 'emulator', tillName: 'Till T' },
    });
    await backend.start();
    handle = createIpcHandlers(backend, { isTrustedSender: (s) => s === OWN });
  });

  after(async () => {
    await backend.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a sender the app did not create, without running the command', async () => {
    const error = errorOf(await handle('settings.setEnabled', { enabled: false }, STRANGER));
    assert.equal(error.code, 'forbidden');
    assert.match(error.message, /not part of TillSync/);
    assert.equal(backend.settings().enabled, true, 'the setting is unchanged');
  });

  it('treats a sender check that throws as a refusal', async () => {
    const strict = createIpcHandlers<Sender>(backend, {
      isTrustedSender: () => {
        throw new Error('window is gone');
      },
    });
    assert.equal(errorOf(await strict('settings.get', {}, OWN)).code, 'forbidden');
  });

  it('names an unknown command and lists the known ones', async () => {
    const error = errorOf(await handle('settings.deleteEverything', {}, OWN));
    assert.equal(error.code, 'unknown-command');
    assert.match(error.message, /"settings\.deleteEverything"/);
    assert.match(error.message, /settings\.setEnabled/);
    assert.equal(errorOf(await handle(42, {}, OWN)).code, 'unknown-command');
    assert.equal(errorOf(await handle('__proto__', {}, OWN)).code, 'unknown-command');
  });

  it('names the field at fault and what is expected', async () => {
    let error = errorOf(await handle('settings.setEnabled', { enabled: 'yes' }, OWN));
    assert.equal(error.code, 'invalid-input');
    assert.equal(error.field, 'enabled');
    assert.match(error.message, /"enabled"/);
    assert.match(error.message, /boolean/);

    error = errorOf(await handle('settings.setHubUri', { uri: 'http://hub.example.net' }, OWN));
    assert.equal(error.field, 'uri');
    assert.match(error.message, /must start with mongodb:\/\/ or mongodb\+srv:\/\//);

    error = errorOf(await handle('conflicts.list', { pageSize: 0 }, OWN));
    assert.equal(error.field, 'pageSize');

    error = errorOf(await handle('settings.setPolicy', { collection: 'menu', mode: 'sideways' }, OWN));
    assert.equal(error.field, 'mode');
    assert.match(error.message, /both/);

    error = errorOf(await handle('conflicts.get', { id: 'x', extra: true }, OWN));
    assert.equal(error.code, 'invalid-input');
    assert.match(error.message, /extra/);
  });

  it('runs a valid command and tells every listener about the change', async () => {
    const seen: SettingsView[] = [];
    const off = backend.on('settings', (s) => seen.push(s));
    try {
      const view = valueOf<SettingsView>(await handle('settings.setPolicy', { collection: 'menu', mode: 'pull-only' }, OWN));
      assert.deepEqual(view.policies.menu, { mode: 'pull-only', conflict: 'document' });
      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0]?.policies.menu, { mode: 'pull-only', conflict: 'document' });
    } finally {
      off();
    }
  });

  it("keeps the till's language for the dashboard and the tray, and refuses one TillSync does not speak", async () => {
    const seen: SettingsView[] = [];
    const off = backend.on('settings', (s) => seen.push(s));
    try {
      assert.equal(valueOf<SettingsView>(await handle('settings.setLanguage', { language: 'fr' }, OWN)).language, 'fr');
      assert.equal(seen.at(-1)?.language, 'fr', 'every dashboard and the tray hear of it');
      const error = errorOf(await handle('settings.setLanguage', { language: 'de' }, OWN));
      assert.equal(error.field, 'language');
      assert.equal(valueOf<SettingsView>(await handle('settings.setLanguage', { language: null }, OWN)).language, null);
    } finally {
      off();
    }
  });

  it('says in plain words, and as a code, why sync is not running before a hub is set', async () => {
    const status = valueOf<{ lastError: { code?: string } }>(await handle('status.get', {}, OWN));
    assert.equal(status.lastError.code, 'no-hub-set');
  });

  it("refuses a policy for TillSync's own collections, naming the field", async () => {
    const error = errorOf(await handle('settings.setPolicy', { collection: '_tillsync_outbox', mode: 'both' }, OWN));
    assert.equal(error.code, 'invalid-input');
    assert.equal(error.field, 'collection');
  });

  it('says in plain words why conflicts cannot be listed before a hub is set', async () => {
    const status = valueOf<{ state: string; lastError: { message: string } }>(await handle('status.get', {}, OWN));
    assert.equal(status.state, 'error');
    assert.match(status.lastError.message, /No hub connection string is set/);
    const error = errorOf(await handle('conflicts.list', {}, OWN));
    assert.equal(error.code, 'unavailable');
    assert.match(error.message, /No hub connection string is set/);
  });

  it('masks the password of a saved hub connection string in every answer', async () => {
    const view = valueOf<SettingsView>(
      await handle('settings.setHubUri', { uri: 'mongodb://admin:hunter2@127.0.0.1:1/?replicaSet=rs0' }, OWN),
    );
    assert.equal(view.hubUriMasked, 'mongodb://admin:***@127.0.0.1:1/?replicaSet=rs0');
    assert.ok(!JSON.stringify(valueOf(await handle('settings.get', {}, OWN))).includes('hunter2'));
    assert.ok(!JSON.stringify(valueOf(await handle('status.get', {}, OWN))).includes('hunter2'));
  });

  it('turns an unexpected failure into plain words, with no stack trace or password', async () => {
    const failing = {
      ...Object.fromEntries(Object.getOwnPropertyNames(EngineBackend.prototype).map((name) => [name, () => undefined])),
      listConflicts: async () => {
        throw new Error(
          'connection to mongodb://admin:hunter2@10.0.0.5:27017/ closed\n    at Socket.<anonymous> (/opt/tillsync/node_modules/mongodb/lib/cmap/connection.js:1:1)',
        );
      },
    } as unknown as AppBackend;
    const error = errorOf(await createIpcHandlers(failing, { isTrustedSender: () => true })('conflicts.list', {}, OWN));
    assert.equal(error.code, 'internal');
    assert.ok(!error.message.includes('hunter2'));
    assert.ok(!/\bat \S+ \(|\.js:\d/.test(error.message), `no stack trace in "${error.message}"`);
    assert.match(error.message, /Try again/);
  });
});
