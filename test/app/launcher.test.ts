/**
 * `npm start` on a machine without the Electron program or a mongod (no
 * internet): one clear message naming what is missing, how to get it, and
 * `npm run demo`, and a non-zero exit — never a stack trace, never a download.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LAUNCHER = join('src-main', 'app', 'launch.ts');

function launch(env: Record<string, string>, args: string[] = []) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', LAUNCHER, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
    // No proxy, no download mirror: a download attempt would fail loudly instead of hanging.
    env: { ...process.env, MONGOMS_DISABLE_POSTINSTALL: '1', ...env },
  });
  return { code: result.status, out: `${result.stdout}${result.stderr}` };
}

describe('npm start launcher', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tillsync-launch-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('says in one message that Electron and mongod are missing, how to get them, and to try the demo; exits 1', () => {
    const { code, out } = launch({
      ELECTRON_OVERRIDE_DIST_PATH: join(dir, 'no-electron'),
      MONGOMS_SYSTEM_BINARY: join(dir, 'no-mongod', 'mongod'),
    });
    assert.equal(code, 1, out);
    assert.equal(out.match(/TillSync cannot start/g)?.length, 1, out);
    assert.match(out, /Electron: /);
    assert.match(out, /MongoDB: MONGOMS_SYSTEM_BINARY is set, but there is no file/);
    assert.match(out, /node node_modules\/electron\/install\.js/);
    assert.match(out, /npx electron --version/);
    assert.match(out, /--download-mongod/);
    assert.match(out, /npm run demo/);
    assert.ok(!/\n\s+at .+:\d+:\d+/.test(out), `no stack trace:\n${out}`);
  });

  it('names only what is missing', async () => {
    const electronDir = join(dir, 'electron-dist');
    await mkdir(electronDir, { recursive: true });
    await writeFile(join(electronDir, 'electron'), '#!/bin/sh\nexit 0\n');
    await chmod(join(electronDir, 'electron'), 0o755);
    const { code, out } = launch({ ELECTRON_OVERRIDE_DIST_PATH: electronDir, MONGOMS_SYSTEM_BINARY: join(dir, 'no-mongod', 'mongod') });
    assert.equal(code, 1, out);
    assert.ok(!out.includes('Electron: '), out);
    assert.match(out, /MongoDB: /);
    assert.ok(!out.includes('install.js'), 'no Electron advice when Electron is there');
  });

  it('finds both programs when they are there', async () => {
    const mongod = join(dir, 'bin', 'mongod');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(mongod, '#!/bin/sh\nexit 0\n');
    await chmod(mongod, 0o755);
    const { code, out } = launch({ ELECTRON_OVERRIDE_DIST_PATH: join(dir, 'electron-dist'), MONGOMS_SYSTEM_BINARY: mongod }, ['--check']);
    assert.equal(code, 0, out);
    assert.match(out, /Electron and mongod are both present/);
  });
});
