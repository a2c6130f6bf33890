/**
 * The dashboard in a real browser (Debian's Chromium) against `npm run demo`:
 * a hub and two tills with simulated traffic, one dashboard per till served
 * by the web bridge. What the page shows is checked against the databases
 * themselves, through the official driver.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Db } from 'mongodb';
import type { Browser, Page } from 'playwright-core';
import { browserMissing, launchChromium, openDashboard, screenshot } from './browser.ts';
import { freePort, startDemo, type RunningDemo } from './demo-process.ts';

const skip = browserMissing();
const CONFLICT_EVERY_S = 8;
/** Fields the demo's head office rewrites all the time; a conflict's other fields stay put long enough to check. */
const BUSY_FIELDS = new Set(['price', 'updatedBy']);

async function eventually<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A field value as the dashboard prints it. */
function shown(value: unknown): string {
  if (value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

async function tab(page: Page, name: RegExp): Promise<void> {
  await page.getByRole('tab', { name }).click();
}

describe('dashboard in Chromium against npm run demo', { skip: skip ?? false, timeout: 600_000 }, () => {
  let demo: RunningDemo;
  let browser: Browser;
  const clients: MongoClient[] = [];
  let hubDb: Db;
  let tillADb: Db;
  let tillBDb: Db;
  const problems: string[][] = [];

  async function open(url: string): Promise<Page> {
    const opened = await openDashboard(browser, url);
    problems.push(opened.problems);
    // The till's name arrives with the first full load (settings, conflicts), not with the first status push.
    await opened.page.getByRole('heading', { level: 1, name: /^Till [AB]$/ }).waitFor();
    await opened.page.getByTestId('status-headline').waitFor();
    return opened.page;
  }

  async function connect(uri: string | null, which: string): Promise<Db> {
    assert.ok(
      uri,
      `npm run demo printed no connection string for ${which}; the browser tests need a line such as "  ${which} database: mongodb://127.0.0.1:PORT/?replicaSet=rs0" to check the data. It printed:\n${demo.output()}`,
    );
    const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000 });
    await client.connect();
    clients.push(client);
    return client.db('pos');
  }

  before(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    demo = await startDemo(['--port-a', String(portA), '--port-b', String(portB), '--conflict-every', String(CONFLICT_EVERY_S)]);
    browser = await launchChromium();
  });

  after(async () => {
    await conflictPage?.close();
    await browser?.close();
    for (const client of clients) await client.close().catch(() => undefined);
    await demo?.stop();
  });

  it('shows the state in words and a lag chart that moves as changes flow', async () => {
    const page = await open(demo.tillA.dashboard);
    await page.getByRole('heading', { level: 1, name: 'Till A' }).waitFor();
    const chart = page.getByTestId('lag-chart');
    const firstT = await eventually('points on the lag chart', async () => {
      const t = Number(await chart.getAttribute('data-last-t'));
      return Number(await chart.getAttribute('data-points')) > 0 && t > 0 ? t : null;
    });
    // The first points may all be changes received: the line of changes sent is drawn once it has some.
    const pushLine = page.getByTestId('lag-line-push');
    const pathBefore = await eventually('a line of changes sent', async () => (await pushLine.getAttribute('d')) || null);
    await eventually('a newer point on the lag chart', async () => Number(await chart.getAttribute('data-last-t')) > firstT);
    await eventually('the line of changes sent redrawn', async () => (await pushLine.getAttribute('d')) !== pathBefore);
    assert.match((await page.getByTestId('lag-summary').textContent()) ?? '', /Last change sent took \d/);
    assert.match((await page.getByTestId('status-headline').textContent()) ?? '', /^(Up to date|Sending and receiving changes)$/);
    await screenshot(page, '01-till-a-status');
    await page.close();
  });

  // Shared by the next two tests: the conflict found on till B's dashboard.
  let conflictPage: Page | undefined;
  let documentId = '';
  let loserValues: Record<string, string> = {};

  it('lists a conflict and shows both versions side by side, the changed fields highlighted', async () => {
    const page = await open(demo.tillB.dashboard);
    await tab(page, /^Conflicts/);
    const view = page.getByRole('button', { name: /^View conflict on menu/ }).first();
    await view.waitFor({ timeout: (CONFLICT_EVERY_S * 4 + 30) * 1000 });
    await screenshot(page, '02-till-b-conflicts');
    await view.click();

    await page.getByTestId('conflict-detail').waitFor();
    const title = (await page.locator('#conflict-title').textContent()) ?? '';
    documentId = JSON.parse(title.replace(/^Conflict on menu /, '')) as string;
    const sides = await Promise.all(['local', 'hub'].map(async (side) => (await page.getByTestId(`side-${side}`).textContent()) ?? ''));
    assert.match(sides[0]!, /^This till's version/);
    assert.match(sides[1]!, /^The hub's version/);
    assert.equal(sides.filter((s) => /not kept/.test(s)).length, 1, 'exactly one side is marked as not kept');
    const loserColumn = /not kept/.test(sides[0]!) ? 0 : 1;

    // The highlighted fields and the losing version's values, as the page shows them.
    const changedRows = page.locator('[data-testid="conflict-versions"] tbody tr.changed');
    assert.ok((await changedRows.count()) > 0, 'the fields that differ are highlighted');
    loserValues = {};
    for (const row of await changedRows.all()) {
      const field = (await row.getAttribute('data-field'))!;
      const cells = await row.locator('td').allTextContents();
      assert.notEqual(cells[0], cells[1], `the two versions of "${field}" differ on screen`);
      if (!BUSY_FIELDS.has(field)) loserValues[field] = cells[loserColumn]!;
    }
    assert.ok(Object.keys(loserValues).length > 0, `a changed field to check besides ${[...BUSY_FIELDS].join(', ')}`);
    assert.match((await page.getByTestId('conflict-explanation').textContent()) ?? '', /\w/);
    await screenshot(page, '03-conflict-detail');
    conflictPage = page;
  });

  it('"Apply the other version", once confirmed, changes the record on the hub and on the tills', async () => {
    const page = conflictPage;
    assert.ok(page, 'the previous test found a conflict');
    hubDb = await connect(demo.hub.database, 'Hub');
    tillBDb = await connect(demo.tillB.database, 'Till B');
    tillADb = await connect(demo.tillA.database, 'Till A');
    const matchesLoser = (doc: Record<string, unknown> | null) =>
      doc !== null && Object.entries(loserValues).every(([field, value]) => shown(doc[field]) === value);
    const menu = (db: Db) => db.collection<Record<string, unknown> & { _id: string }>('menu');
    assert.equal(matchesLoser(await menu(hubDb).findOne({ _id: documentId })), false, 'before: the hub holds the kept version');

    await page.getByRole('button', { name: 'Apply the other version' }).click();
    const dialog = page.getByRole('dialog', { name: 'Apply the other version?' });
    await dialog.waitFor();
    await screenshot(page, '04-apply-confirmation');
    await dialog.getByRole('button', { name: 'Yes, apply it' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByTestId('conflict-reapplied').waitFor();

    for (const [name, db] of [
      ['hub', hubDb],
      ['till B', tillBDb],
      ['till A', tillADb],
    ] as const) {
      await eventually(`the other version of menu ${documentId} on ${name}`, async () =>
        matchesLoser(await menu(db).findOne({ _id: documentId })),
      );
    }
    await screenshot(page, '05-other-version-applied');
  });

  it('pauses and resumes sync from the dashboard, as the databases show', async () => {
    hubDb ??= await connect(demo.hub.database, 'Hub');
    tillADb ??= await connect(demo.tillA.database, 'Till A');
    tillBDb ??= await connect(demo.tillB.database, 'Till B');
    const page = await open(demo.tillA.dashboard);
    await tab(page, /^Settings$/);
    await page.getByRole('button', { name: 'Pause sync' }).click();
    await page.getByRole('button', { name: 'Resume sync' }).waitFor();
    await page.getByTestId('status-headline').filter({ hasText: 'Sync is paused' }).waitFor();

    const stamp = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const notes = (db: Db) => db.collection<{ _id: string; text: string }>('e2e_notes');
    await notes(tillADb).insertOne({ _id: `from-paused-a-${stamp}`, text: 'written on till A while paused' });
    await notes(hubDb).insertOne({ _id: `from-hub-${stamp}`, text: 'written on the hub while till A is paused' });
    await notes(tillBDb).insertOne({ _id: `from-b-${stamp}`, text: 'written on till B, which keeps syncing' });
    // Till B still syncs both ways, so these arriving shows how long sync takes right now...
    await eventually("till B's note on the hub", async () => notes(hubDb).findOne({ _id: `from-b-${stamp}` }));
    await eventually("the hub's note on till B", async () => notes(tillBDb).findOne({ _id: `from-hub-${stamp}` }));
    // ...and till A, paused, has sent and received nothing in that time.
    assert.equal(await notes(hubDb).findOne({ _id: `from-paused-a-${stamp}` }), null, 'a paused till sends nothing');
    assert.equal(await notes(tillADb).findOne({ _id: `from-hub-${stamp}` }), null, 'a paused till receives nothing');
    await page
      .getByTestId('waiting')
      .filter({ hasText: /^[1-9]\d* changes? waiting to be sent/ })
      .waitFor();
    await screenshot(page, '06-till-a-paused');

    await page.getByRole('button', { name: 'Resume sync' }).click();
    await page.getByRole('button', { name: 'Pause sync' }).waitFor();
    await eventually("till A's note on the hub after resuming", async () => notes(hubDb).findOne({ _id: `from-paused-a-${stamp}` }));
    await eventually("the hub's note on till A after resuming", async () => notes(tillADb).findOne({ _id: `from-hub-${stamp}` }));
    await page
      .getByTestId('status-headline')
      .filter({ hasText: /^(Up to date|Sending and receiving changes)$/ })
      .waitFor();
    await page.close();
  });

  it('refuses an invalid hub connection string and reports an unreachable hub in plain words', async () => {
    const page = await open(demo.tillA.dashboard);
    await tab(page, /^Settings$/);
    const maskedBefore = await page.getByTestId('hub-uri-masked').textContent();
    const field = page.getByLabel('New hub connection string');
    await field.fill('http://hub.example.net/pos');
    await page.getByRole('button', { name: 'Save' }).click();
    const error = page.getByTestId('hub-uri-error');
    assert.equal(await error.textContent(), 'The hub connection string must start with mongodb:// or mongodb+srv://.');
    assert.equal(await field.getAttribute('aria-invalid'), 'true');
    await screenshot(page, '07-invalid-hub-uri');
    assert.equal(await page.getByTestId('hub-uri-masked').textContent(), maskedBefore, 'nothing was saved');

    const closedPort = await freePort();
    await field.fill(`mongodb://127.0.0.1:${closedPort}/`);
    await page.getByRole('button', { name: 'Test connection' }).click();
    const outcome = page.getByTestId('hub-outcome');
    await outcome.waitFor({ timeout: 30_000 });
    assert.match((await outcome.textContent()) ?? '', new RegExp(`127\\.0\\.0\\.1:${closedPort}`));
    assert.match((await outcome.getAttribute('class')) ?? '', /banner-bad/);
    await page.close();
  });

  it('is usable from the keyboard alone', async () => {
    const page = await open(demo.tillA.dashboard);
    await page.getByRole('tab', { name: 'Sync status' }).focus();
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Settings' }).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Tab');
    const focused = await page.locator(':focus').textContent();
    assert.equal(focused, 'Pause sync', 'Tab moves from the tabs into the panel');
    const outline = await page.evaluate('getComputedStyle(document.activeElement).outlineStyle');
    assert.equal(outline, 'solid', 'the focused control shows a focus ring');
    await page.close();
  });

  it('ran without script errors or Content-Security-Policy violations', () => {
    assert.deepEqual(problems.flat(), []);
  });

  it('says so when the sync service goes away', async () => {
    const page = await open(demo.tillB.dashboard);
    await demo.stop();
    await page.getByText('Dashboard lost contact with the sync service — retrying').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('status-headline').count(), 0, 'the last known state is no longer claimed');
    await screenshot(page, '08-lost-contact');
    await page.close();
  });
});
