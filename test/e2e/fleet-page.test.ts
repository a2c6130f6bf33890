/**
 * The fleet page in Debian's Chromium, served by `npm run fleet` (a real
 * process) for a hub with three tills in two stores: one well, one whose
 * TillSync was stopped, one with a change the hub will not take. The page
 * says which need attention and why, worst first by store, opens a till's
 * detail on click, and updates by itself when a till recovers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, Page } from 'playwright-core';
import { POS_DB, startTopology, waitFor, type Till, type Topology } from '../integration/topology.ts';
import { browserMissing, launchChromium, openDashboard, screenshot } from './browser.ts';
import { freePort } from './demo-process.ts';

const skip = browserMissing();
const RULES = { notSeen: { minutes: 0.1 }, changeWaiting: { minutes: 0.05 }, oplogHeadroom: { colour: 'off' } };
const DEVICES: Record<string, Record<string, string>> = {
  'till-a': { name: 'Till A', storeId: 'soho' },
  'till-b': { name: 'Till B', storeId: 'soho' },
  'till-c': { name: 'Till C', storeId: 'leeds', region: 'north' },
};

describe('fleet page in Chromium', { skip: skip ?? false, timeout: 300_000 }, () => {
  let topology: Topology;
  let b: Till;
  let c: Till;
  let dir: string;
  let fleet: ChildProcess;
  const lines: string[] = [];
  let url: string;
  let browser: Browser;
  let page: Page;
  let problems: string[];

  before(async () => {
    topology = await startTopology({ tills: 3, startEngines: false, engine: { heartbeatIntervalMs: 1_000 } });
    [, b, c] = topology.tills as [Till, Till, Till];
    for (const till of topology.tills) await till.startEngine({ device: DEVICES[till.name] });
    dir = mkdtempSync(join(tmpdir(), 'tillsync-fleet-page-'));
    const rules = join(dir, 'rules.json');
    writeFileSync(rules, JSON.stringify(RULES));
    const port = await freePort();
    fleet = spawn(
      process.execPath,
      ['--import', 'tsx', 'src-main/fleet/cli.ts', '--db', POS_DB, '--port', String(port), '--config', rules],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TILLSYNC_HUB_URI: topology.hub.uri } },
    );
    createInterface({ input: fleet.stdout! }).on('line', (line) => lines.push(line));
    createInterface({ input: fleet.stderr! }).on('line', (line) => lines.push(line));
    await waitFor('the fleet server to listen', () => lines.some((l) => l.includes('"event":"fleet.listening"')), 60_000);
    url = `http://127.0.0.1:${port}/`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    if (fleet && fleet.exitCode === null) {
      const exited = new Promise((resolve) => fleet.once('exit', resolve));
      fleet.kill('SIGTERM');
      await exited;
    }
    await topology?.hubClient
      .db('admin')
      .command({ configureFailPoint: 'failCommand', mode: 'off' })
      .catch(() => undefined);
    await topology?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const colourOf = (deviceId: string) => page.locator(`[data-testid="fleet-till"][data-device="${deviceId}"]`).getAttribute('data-colour');

  it('shows every till green while all is well', async () => {
    ({ page, problems } = await openDashboard(browser, url));
    await page.getByRole('heading', { level: 1, name: 'TillSync fleet' }).waitFor();
    await page.getByTestId('fleet-headline').filter({ hasText: 'All 3 tills are well' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('fleet-till').count(), 3);
  });

  it('turns a stopped till and a till with a change waiting red, with the reason in words, worst first by store', async () => {
    await b.stopEngine();
    await topology.hubClient.db('admin').command({
      configureFailPoint: 'failCommand',
      mode: 'alwaysOn',
      data: { failCommands: ['commitTransaction'], errorCode: 2, appName: 'tillsync-engine-till-c' },
    });
    await c.db.collection('fp_sales').insertOne({ _id: 'sale-1' as never, total: 9 });

    await page.getByTestId('fleet-headline').filter({ hasText: '2 tills need attention' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId('fleet-counts').textContent(), '2 red · 0 amber · 1 green');
    const stores = await page.getByTestId('fleet-store').locator('h2').allTextContents();
    assert.deepEqual(stores, ['Store leeds', 'Store soho']);
    const soho = page.getByTestId('fleet-store').filter({ has: page.getByRole('heading', { name: 'Store soho' }) });
    assert.deepEqual(await soho.locator('.fleet-name').allTextContents(), ['Till B', 'Till A'], 'worst first within a store');
    assert.equal(await colourOf('till-a'), 'green');
    assert.equal(await colourOf('till-b'), 'red');
    assert.equal(await colourOf('till-c'), 'red');
    const reasonB = await page.locator('[data-device="till-b"] [data-testid="fleet-reason"]').textContent();
    assert.match(reasonB ?? '', /^TillSync was stopped on this till \d+ seconds ago and has not been heard from since \(\+1 more\)$/);
    const rowC = page.locator('[data-device="till-c"]');
    assert.match(
      (await rowC.getByTestId('fleet-reason').textContent()) ?? '',
      /^A change has waited \d+ seconds to be sent to head office/,
    );
    assert.match((await rowC.textContent()) ?? '', /Needs attention/, 'the colour is said in words too');

    // A click opens the till's detail: every reason and what its heartbeat said.
    await rowC.getByRole('button').click();
    const detail = rowC.getByTestId('fleet-detail');
    await detail.waitFor();
    assert.equal(await rowC.getByRole('button').getAttribute('aria-expanded'), 'true');
    const text = (await detail.textContent()) ?? '';
    assert.match(text, /Red: A change has waited/);
    assert.match(text, /Changes waiting to be sent1, the oldest made/);
    assert.match(text, /regionnorth/, 'device parameters are shown');
    assert.match(text, /Till idtill-c/);
    await screenshot(page, 'fleet-two-red');
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
  });

  it('updates by itself when the tills recover', async () => {
    await topology.hubClient.db('admin').command({ configureFailPoint: 'failCommand', mode: 'off' });
    await b.startEngine({ device: DEVICES['till-b'] });
    await page.getByTestId('fleet-headline').filter({ hasText: 'All 3 tills are well' }).waitFor({ timeout: 60_000 });
    assert.equal(await colourOf('till-c'), 'green');
    await screenshot(page, 'fleet-all-well');
    assert.deepEqual(problems, []);
  });
});
