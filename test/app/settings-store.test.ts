import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SETTINGS_FILE, SettingsError, SettingsStore } from '../../src-main/app/settings-store.ts';
import { testSecretBox } from './helpers.ts';

const URI = 'mongodb+srv://pos-user:S3cret-Pa55@cluster0.example.net/?retryWrites=true';

describe('settings store', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-settings-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with defaults when nothing is saved', async () => {
    const store = await SettingsStore.open(join(dir, 'fresh'), testSecretBox());
    assert.deepEqual(store.get(), { enabled: true, hubUri: null, policies: {}, startAtLogin: false });
    assert.equal(store.loadProblem, null);
  });

  it('keeps every setting across a reopen, with the hub connection string never on disk in plain text', async () => {
    const box = testSecretBox();
    const path = join(dir, 'kept');
    const store = await SettingsStore.open(path, box);
    await store.update({
      enabled: false,
      hubUri: URI,
      policies: { menu: { mode: 'pull-only', conflict: 'document' } },
      startAtLogin: true,
    });

    const onDisk = await readFile(join(path, SETTINGS_FILE), 'utf8');
    for (const secret of [URI, 'S3cret-Pa55', 'cluster0.example.net', 'pos-user'])
      assert.ok(!onDisk.includes(secret), `"${secret}" is not in the settings file`);
    assert.ok(box.sealed > 0, 'the connection string went through the secret box');

    const reopened = await SettingsStore.open(path, box);
    assert.deepEqual(reopened.get(), {
      enabled: false,
      hubUri: URI,
      policies: { menu: { mode: 'pull-only', conflict: 'document' } },
      startAtLogin: true,
    });
    assert.equal(reopened.view().hubUriMasked, 'mongodb+srv://pos-user:***@cluster0.example.net/?retryWrites=true');
  });

  it("keeps the dashboard's language, and reads a file from before there was one as automatic", async () => {
    const path = join(dir, 'language');
    const store = await SettingsStore.open(path, testSecretBox());
    assert.equal(store.view().language, null, 'automatic until one is chosen');
    await store.update({ language: 'fr' });
    assert.equal((await SettingsStore.open(path, testSecretBox())).view().language, 'fr');
    await store.update({ language: null });
    const onDisk = JSON.parse(await readFile(join(path, SETTINGS_FILE), 'utf8')) as Record<string, unknown>;
    assert.equal('language' in onDisk, false, 'automatic leaves the file as older versions wrote it');
    assert.equal((await SettingsStore.open(path, testSecretBox())).view().language, null);
  });

  it('refuses to save a connection string when there is no secure storage, and keeps the old settings', async () => {
    const path = join(dir, 'no-keyring');
    const store = await SettingsStore.open(path, testSecretBox({ available: false }));
    await store.update({ startAtLogin: true });
    await assert.rejects(
      store.update({ hubUri: URI }),
      (err: unknown) => err instanceof SettingsError && err.reason === 'no-secure-storage' && !err.message.includes('S3cret'),
    );
    assert.equal(store.get().hubUri, null);
    assert.equal(store.get().startAtLogin, true);
    assert.ok(!(await readFile(join(path, SETTINGS_FILE), 'utf8')).includes('S3cret'));
  });

  it('falls back to defaults with a plain-words reason when the file is damaged', async () => {
    const path = join(dir, 'damaged');
    const store = await SettingsStore.open(path, testSecretBox());
    await store.update({ enabled: false });
    await writeFile(join(path, SETTINGS_FILE), '{"version":1,"enabled":"yes"');
    const reopened = await SettingsStore.open(path, testSecretBox());
    assert.equal(reopened.get().enabled, true);
    assert.match(reopened.loadProblem ?? '', /damaged/);
  });

  it('asks for the connection string again when it cannot be unlocked (another computer or user)', async () => {
    const path = join(dir, 'moved');
    await (await SettingsStore.open(path, testSecretBox())).update({ hubUri: URI, enabled: false });
    const elsewhere = await SettingsStore.open(path, testSecretBox({ key: 99 }));
    assert.equal(elsewhere.get().hubUri, null);
    assert.equal(elsewhere.get().enabled, false, 'the other settings are kept');
    assert.match(elsewhere.loadProblem ?? '', /enter it again/);
  });
});
