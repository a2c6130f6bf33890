/**
 * "Start TillSync when the till is switched on", on Linux: the XDG autostart
 * entry the app writes passes Debian's `desktop-file-validate`
 * (desktop-file-utils) and starts the AppImage by its real path, quoted so
 * odd paths survive; ticking and unticking the box (through the same IPC
 * handlers as the dashboard) write and remove it; the box shows what is on
 * disk when the app starts, whatever the settings file remembers; an
 * AppImage that moved is followed at the next start.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpcResult, SettingsView } from '../../src-shared/ipc.ts';
import { EngineBackend } from '../../src-main/app/backend.ts';
import { createIpcHandlers } from '../../src-main/app/handlers.ts';
import { SettingsStore } from '../../src-main/app/settings-store.ts';
import { AUTOSTART_ARG, launchCommand, type LaunchCommand } from '../../src-main/app/start-at-login.ts';
import { AUTOSTART_FILE, autostartDir, XdgAutostart } from '../../src-main/app/xdg-autostart.ts';
import { testSecretBox } from './helpers.ts';

const VALIDATOR = spawnSync('desktop-file-validate', ['--help'], { encoding: 'utf8' });
const noValidator = VALIDATOR.error
  ? 'desktop-file-validate is not installed (Debian: apt-get install desktop-file-utils; .ci/run installs it)'
  : undefined;

/** Runs Debian's validator; it prints nothing and exits 0 for a valid entry. */
function validate(path: string): void {
  const result = spawnSync('desktop-file-validate', [path], { encoding: 'utf8' });
  assert.equal(result.status, 0, `desktop-file-validate refused ${path}:\n${result.stdout}${result.stderr}`);
  assert.equal(`${result.stdout}${result.stderr}`.trim(), '', 'no warnings either');
}

/** The keys of an entry's [Desktop Entry] group. */
async function keysOf(path: string): Promise<Record<string, string>> {
  const text = await readFile(path, 'utf8');
  assert.ok(text.startsWith('[Desktop Entry]\n'), text);
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/**
 * An Exec value read back as the Desktop Entry spec says a session does: string escapes first,
 * then the quoting rule (inside double quotes, \" \` \$ \\ stand for the character), then %% for %.
 */
function decodeExec(value: string): string[] {
  const unescaped = value.replace(/\\([sntr\\])/g, (_m, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
  const args: string[] = [];
  let current = '';
  let started = false;
  let quoted = false;
  for (let i = 0; i < unescaped.length; i += 1) {
    const c = unescaped[i]!;
    if (quoted) {
      if (c === '\\' && '"`$\\'.includes(unescaped[i + 1] ?? '')) current += unescaped[++i];
      else if (c === '"') quoted = false;
      else current += c;
    } else if (c === '"') {
      quoted = true;
      started = true;
    } else if (c === ' ') {
      if (started) args.push(current);
      current = '';
      started = false;
    } else {
      current += c;
      started = true;
    }
  }
  assert.ok(!quoted, `unbalanced quotes in Exec=${value}`);
  if (started) args.push(current);
  return args.map((a) => a.replace(/%%/g, '%'));
}

describe('start at login on Linux (XDG autostart)', { skip: noValidator ?? false }, () => {
  let dir: string;
  let home: string;
  let env: NodeJS.ProcessEnv;
  let autostartFolder: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-autostart-'));
    home = join(dir, 'home');
    env = { XDG_CONFIG_HOME: join(dir, 'config') };
    autostartFolder = autostartDir(env, home);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the autostart folder in XDG_CONFIG_HOME, or in ~/.config when that is unset or relative', () => {
    assert.equal(autostartDir({ XDG_CONFIG_HOME: '/srv/cfg' }, '/home/ann'), '/srv/cfg/autostart');
    assert.equal(autostartDir({}, '/home/ann'), '/home/ann/.config/autostart');
    assert.equal(autostartDir({ XDG_CONFIG_HOME: '' }, '/home/ann'), '/home/ann/.config/autostart');
    assert.equal(autostartDir({ XDG_CONFIG_HOME: 'cfg' }, '/home/ann'), '/home/ann/.config/autostart', 'a relative path is ignored');
  });

  it('starts the AppImage by its real path, the deb by its program, a development run through Electron with the app', async () => {
    const apps = join(dir, 'apps');
    await mkdir(apps, { recursive: true });
    const file = join(apps, 'TillSync-0.1.0.AppImage');
    await writeFile(file, '');
    await symlink(file, join(apps, 'TillSync.AppImage'));
    const fromAppImage = launchCommand({ env: { APPIMAGE: join(apps, 'TillSync.AppImage') }, execPath: '/tmp/.mount_Till/tillsync' });
    assert.deepEqual(fromAppImage, { program: await realpath(file), args: [AUTOSTART_ARG] }, 'not the mount point, not the link');
    assert.deepEqual(launchCommand({ env: {}, execPath: '/opt/TillSync/tillsync' }), {
      program: '/opt/TillSync/tillsync',
      args: [AUTOSTART_ARG],
    });
    assert.deepEqual(launchCommand({ env: {}, execPath: '/repo/node_modules/electron/dist/electron', appPath: '/repo' }), {
      program: '/repo/node_modules/electron/dist/electron',
      args: ['/repo', AUTOSTART_ARG],
    });
  });

  it('writes a valid entry when ticked, reads it back, and removes it when unticked', async () => {
    const command: LaunchCommand = { program: '/home/ann/Apps/TillSync-0.1.0.AppImage', args: [AUTOSTART_ARG] };
    const autostart = new XdgAutostart({ dir: autostartFolder, command });
    assert.equal(autostart.path, join(dir, 'config', 'autostart', AUTOSTART_FILE));
    assert.equal(await autostart.isEnabled(), false, 'nothing written yet');

    await autostart.setEnabled(true);
    validate(autostart.path);
    const keys = await keysOf(autostart.path);
    assert.equal(keys.Type, 'Application');
    assert.equal(keys.Name, 'TillSync');
    assert.equal(keys.TryExec, command.program, 'a session skips the entry quietly if the AppImage is gone');
    assert.deepEqual(decodeExec(keys.Exec!), [command.program, AUTOSTART_ARG]);
    assert.equal(await autostart.isEnabled(), true);
    await autostart.setEnabled(true); // ticking twice is harmless
    assert.equal(await autostart.isEnabled(), true);

    await autostart.setEnabled(false);
    assert.equal(existsSync(autostart.path), false, 'the entry is removed');
    assert.equal(await autostart.isEnabled(), false);
    await autostart.setEnabled(false); // and unticking twice
  });

  it('quotes a path with spaces and shell characters so that the session starts that very file', async () => {
    const odd = join(dir, 'My Apps', `Till "Sync" $HOME \`id\` back\\slash 100% (1) & ; ~ # * ? < > | 'é'.AppImage`);
    const autostart = new XdgAutostart({ dir: join(dir, 'odd-autostart'), command: { program: odd, args: [AUTOSTART_ARG] } });
    await autostart.setEnabled(true);
    validate(autostart.path);
    const keys = await keysOf(autostart.path);
    assert.deepEqual(decodeExec(keys.Exec!), [odd, AUTOSTART_ARG]);
    assert.throws(() => new XdgAutostart({ dir, command: { program: '/tmp/a\nb', args: [] } }), /control character/);
  });

  it('follows an AppImage that moved: the next start rewrites the entry to the copy that runs', async () => {
    const folder = join(dir, 'moved-autostart');
    const before = new XdgAutostart({
      dir: folder,
      command: { program: '/home/ann/Downloads/TillSync-0.1.0.AppImage', args: [AUTOSTART_ARG] },
    });
    const after = new XdgAutostart({ dir: folder, command: { program: '/home/ann/Apps/TillSync-0.2.0.AppImage', args: [AUTOSTART_ARG] } });
    assert.equal(await after.refresh(), 'absent', 'no entry: none is made');
    assert.equal(existsSync(after.path), false);

    await before.setEnabled(true);
    assert.equal(await after.refresh(), 'rewritten');
    validate(after.path);
    assert.deepEqual(decodeExec((await keysOf(after.path)).Exec!), ['/home/ann/Apps/TillSync-0.2.0.AppImage', AUTOSTART_ARG]);
    assert.equal((await keysOf(after.path)).TryExec, '/home/ann/Apps/TillSync-0.2.0.AppImage');
    assert.equal(await after.refresh(), 'current', 'the next start finds it right');

    // Switched off by the user in the desktop's own settings: left as it is.
    const hidden = (await readFile(after.path, 'utf8')).replace('X-GNOME-Autostart-enabled=true', 'X-GNOME-Autostart-enabled=false');
    await writeFile(after.path, hidden);
    assert.equal(await before.isEnabled(), false);
    assert.equal(await before.refresh(), 'disabled');
    assert.equal(await readFile(after.path, 'utf8'), hidden, 'an entry switched off is not touched');
  });
});

describe('the settings box for start at login', { skip: noValidator ?? false }, () => {
  let dir: string;
  let settingsDir: string;
  let autostart: XdgAutostart;
  const running: EngineBackend[] = [];
  const OWN = { id: 1 };

  /** The app as it starts: settings from disk, start-at-login read back from the system. */
  async function startApp(system: XdgAutostart = autostart): Promise<EngineBackend> {
    const backend = new EngineBackend({
      settings: await SettingsStore.open(settingsDir, testSecretBox()),
      localUri: 'mongodb://127.0.0.1:1/?replicaSet=rs0',
      database: 'pos',
      info: { version: '0.0.0-test', backend: 'emulator', tillName: 'Till T' },
      startAtLogin: system,
    });
    await backend.start();
    running.push(backend);
    return backend;
  }

  function tick(backend: EngineBackend, enabled: boolean): Promise<IpcResult<SettingsView>> {
    const handle = createIpcHandlers(backend, { isTrustedSender: (s: { id: number }) => s === OWN });
    return handle('settings.setStartAtLogin', { enabled }, OWN) as Promise<IpcResult<SettingsView>>;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-login-box-'));
    settingsDir = join(dir, 'user-data');
    autostart = new XdgAutostart({
      dir: join(dir, 'config', 'autostart'),
      command: { program: '/opt/TillSync/tillsync', args: [AUTOSTART_ARG] },
    });
  });

  after(async () => {
    for (const backend of running) await backend.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('ticking writes the entry, unticking removes it, and each start shows what is on disk', async () => {
    const app = await startApp();
    assert.equal(app.settings().startAtLogin, false);

    const ticked = await tick(app, true);
    assert.ok(ticked.ok && ticked.value.startAtLogin === true, JSON.stringify(ticked));
    validate(autostart.path);
    assert.equal((await startApp()).settings().startAtLogin, true, 'the next start shows it ticked');

    const unticked = await tick(app, false);
    assert.ok(unticked.ok && unticked.value.startAtLogin === false, JSON.stringify(unticked));
    assert.equal(existsSync(autostart.path), false);
    assert.equal((await startApp()).settings().startAtLogin, false, 'the next start shows it unticked');
  });

  it('shows the entry on disk, not what the settings file remembers', async () => {
    const store = await SettingsStore.open(settingsDir, testSecretBox());
    await store.update({ startAtLogin: true });
    assert.equal((await startApp()).settings().startAtLogin, false, 'remembered ticked, but no entry: shown unticked');

    await store.update({ startAtLogin: false });
    await autostart.setEnabled(true); // e.g. put back by hand, or by another copy of TillSync
    assert.equal((await startApp()).settings().startAtLogin, true, 'remembered unticked, but the entry is there: shown ticked');
    await autostart.setEnabled(false);
  });

  it('says so in plain words when the entry cannot be written, and the box keeps showing the truth', async () => {
    const blocked = join(dir, 'blocked-config');
    await mkdir(blocked, { recursive: true });
    await writeFile(join(blocked, 'autostart'), 'a file where the folder should be');
    const app = await startApp(
      new XdgAutostart({ dir: join(blocked, 'autostart'), command: { program: '/opt/TillSync/tillsync', args: [] } }),
    );
    const result = await tick(app, true);
    assert.ok(!result.ok, JSON.stringify(result));
    assert.equal(result.error.code, 'unavailable');
    assert.match(
      result.error.message,
      /could not add itself to the programs this computer starts at login \(E[A-Z]+\)\. The setting was not changed\./,
    );
    assert.equal(app.settings().startAtLogin, false);
  });
});
