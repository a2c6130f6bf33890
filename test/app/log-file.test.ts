/** The desktop app's log file stays bounded: past its size it moves to `.1` and a new one starts. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { openLogFile } from '../../src-main/app/log-file.ts';

describe('the app log file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tillsync-log-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('moves a file past its size to .1 and goes on in a fresh one, keeping at most two', async () => {
    const path = join(dir, 'tillsync.log');
    const file = await openLogFile(path, { maxBytes: 4_096, checkEveryMs: 60_000 });
    const log = pino({ base: null }, file.destination);
    const line = 'x'.repeat(200);
    for (let i = 0; i < 30; i += 1) log.info({ i }, line);
    file.destination.flushSync();
    assert.equal(await file.rotateIfLarge(), true, 'about 7 KB written: past 4 KB');
    log.info({ i: 'after' }, 'the first line of the new file');
    file.destination.flushSync();
    assert.match(readFileSync(join(dir, 'tillsync.log.1'), 'utf8'), /"i":29/);
    assert.match(readFileSync(path, 'utf8'), /the first line of the new file/);
    assert.ok(statSync(path).size < 4_096);
    assert.equal(await file.rotateIfLarge(), false, 'a small file stays');
    file.stop();
  });

  it('moves a large file left by the last run aside before writing', async () => {
    const path = join(dir, 'left.log');
    writeFileSync(path, 'y'.repeat(5_000));
    const file = await openLogFile(path, { maxBytes: 4_096 });
    pino({ base: null }, file.destination).info('new run');
    file.destination.flushSync();
    assert.equal(statSync(`${path}.1`).size, 5_000);
    assert.match(readFileSync(path, 'utf8'), /new run/);
    assert.ok(existsSync(path));
    file.stop();
  });
});
