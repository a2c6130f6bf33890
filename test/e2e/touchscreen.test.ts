/**
 * The dashboard as a till operator meets it, against `npm run demo` in
 * Debian's Chromium: at 800×600 and 1024×768, in English and French (the
 * browser's language, as a till's locale would be), every view passes
 * axe-core and every control is at least 44×44 px; the main tasks work from
 * the keyboard alone, focus is never dropped, and a screen reader hears each
 * new conflict and each settled change of state once. Screenshots of every
 * view go to test-results/screenshots/.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { browserMissing, launchChromium, openDashboard, screenshot, SMALL_TILL_SCREEN, TILL_SCREEN } from './browser.ts';
import { freePort, startDemo, type RunningDemo } from './demo-process.ts';
import { axeViolations, describeViolations, smallTargets } from './page-checks.ts';

const skip = browserMissing();
const CONFLICT_EVERY_S = 6;

/** The focused element as `tag:name` (its aria-label, else its text). */
function focusedOn(page: Page): Promise<string> {
  return page.evaluate<string>(`(() => {
    const el = document.activeElement;
    return el ? el.tagName.toLowerCase() + ':' + (el.getAttribute('aria-label') ?? el.textContent ?? '').trim() : 'none';
  })()`);
}

const LANGUAGES = [
  { lang: 'en', locale: 'en-GB', settings: 'Settings', conflicts: /^Conflicts/ },
  { lang: 'fr', locale: 'fr-FR', settings: 'Réglages', conflicts: /^Conflits/ },
] as const;

describe('the dashboard on a till touchscreen, against npm run demo', { skip: skip ?? false, timeout: 600_000 }, () => {
  let demo: RunningDemo;
  let browser: Browser;
  const problems: string[][] = [];

  async function open(url: string, options: Parameters<typeof openDashboard>[2] = {}): Promise<Page> {
    const opened = await openDashboard(browser, url, options);
    problems.push(opened.problems);
    await opened.page.getByRole('heading', { level: 1, name: /^Till [AB]$/ }).waitFor();
    await opened.page.getByTestId('status-headline').waitFor();
    return opened.page;
  }

  /** axe-core finds nothing and every control is big enough; then a screenshot named after the view. */
  async function check(page: Page, view: string, name: string): Promise<void> {
    const violations = await axeViolations(page);
    assert.equal(violations.length, 0, `${view}: axe-core found\n${describeViolations(violations)}`);
    const { measured, small } = await smallTargets(page);
    assert.ok(measured > 0, `${view}: no controls found to measure`);
    assert.deepEqual(small, [], `${view}: controls under 44×44 px`);
    await screenshot(page, name);
  }

  before(async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    demo = await startDemo(['--port-a', String(portA), '--port-b', String(portB), '--conflict-every', String(CONFLICT_EVERY_S)]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  for (const viewport of [SMALL_TILL_SCREEN, TILL_SCREEN]) {
    for (const language of LANGUAGES) {
      const size = `${viewport.width}x${viewport.height}`;
      it(`${language.lang} at ${viewport.width}×${viewport.height}: every view passes axe-core, every control is at least 44×44`, async () => {
        const page = await open(demo.tillB.dashboard, { viewport, locale: language.locale });
        const shot = (view: string) => `${size}-${language.lang}-${view}`;
        assert.equal(await page.evaluate('document.documentElement.lang'), language.locale, 'the page says which language it is in');
        assert.equal(await page.locator('#tab-settings').textContent(), language.settings);

        // Header and tabs leave most of the screen to the content.
        const tabs = (await page.getByRole('tablist').boundingBox())!;
        assert.ok(
          tabs.y + tabs.height <= viewport.height * 0.32,
          `header and tabs end at ${tabs.y + tabs.height} px of ${viewport.height}`,
        );

        await page.locator('summary').click(); // "Details for support", open for axe to read
        await check(page, 'status', shot('status'));

        await page.locator('#tab-conflicts').click();
        assert.match((await page.locator('#tab-conflicts').textContent()) ?? '', language.conflicts);
        const view = page.locator('[data-testid="conflict-list"] tbody button').first();
        await view.waitFor({ timeout: (CONFLICT_EVERY_S * 4 + 30) * 1000 });
        await check(page, 'conflict list', shot('conflicts'));

        await view.click();
        await page.getByTestId('conflict-detail').waitFor();
        const apply = page.getByTestId('apply-other-version');
        const box = (await apply.boundingBox())!;
        assert.ok(box.y >= 0 && box.y + box.height <= viewport.height, `"apply the other version" is on screen (top ${box.y} px)`);
        await check(page, 'conflict detail', shot('conflict-detail'));

        await apply.click();
        await page.getByRole('dialog').waitFor();
        await check(page, 'confirmation dialog', shot('dialog'));
        await page.keyboard.press('Escape');
        await page.getByRole('dialog').waitFor({ state: 'detached' });

        await page.locator('#tab-settings').click();
        await page.getByTestId('language-choice').waitFor();
        await check(page, 'settings', shot('settings'));
        await page.close();
      });
    }
  }

  it('walks the main tasks with the keyboard alone, and focus is never dropped', async () => {
    const page = await open(demo.tillA.dashboard, { viewport: SMALL_TILL_SCREEN, locale: 'en-GB' });
    const focused = () => focusedOn(page);

    // Into the tabs, and to Settings with the arrow keys.
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button:Sync status');
    await page.keyboard.press('ArrowRight');
    await page.keyboard.press('ArrowRight');
    assert.equal(await focused(), 'button:Settings');

    // Pause, then resume, with two presses of Enter: the button keeps focus while the request runs.
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button:Pause sync');
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Resume sync' }).waitFor();
    assert.equal(await focused(), 'button:Resume sync', 'focus stays on the button after pausing');
    await page.getByTestId('announcements').filter({ hasText: 'Sync is paused' }).waitFor({ timeout: 10_000 });
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: 'Pause sync' }).waitFor();
    assert.equal(await focused(), 'button:Pause sync', 'a second press resumed sync');
    const log = (await page.getByTestId('announcements').locator('p').allTextContents()).filter((t) => /paused/.test(t));
    assert.equal(log.length, 1, `the pause was announced once: ${JSON.stringify(log)}`);

    // A policy for a new collection: send-only asks first; Enter on "Yes, change it" applies it.
    const collection = `e2e_keys_${Date.now().toString(36)}`;
    await page.getByLabel('Collection', { exact: true }).focus();
    await page.keyboard.type(collection);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'select:Both waysSend to the hub onlyReceive from the hub onlyKeep on this till only');
    await page.keyboard.press('ArrowDown'); // "Send to the hub only"
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'button:Set for this collection');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: `Change how ${collection} syncs?` });
    await dialog.waitFor();
    assert.equal(await focused(), 'button:Cancel', 'the dialog starts on Cancel');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'detached' });
    const mode = page.getByRole('combobox', { name: `How ${collection} syncs` });
    assert.equal(await mode.inputValue(), 'push-only');

    // Arrowing through the row's list saves nothing; Apply does, and focus comes back to the list.
    await mode.focus();
    await page.keyboard.press('ArrowUp'); // back to "Both ways"
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowUp');
    assert.equal(await page.getByTestId('policy-outcome').textContent(), `${collection}: send to the hub only, newest whole record wins.`);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), `button:Apply the changes to ${collection}`);
    await page.keyboard.press('Enter');
    await page
      .getByTestId('policy-outcome')
      .filter({ hasText: `${collection}: both ways` })
      .waitFor();
    assert.equal(await focused(), `select:How ${collection} syncs`, 'focus returns to the row once applied');
    await page.close();

    // A conflict, from the list to "Apply the other version" and back, on till B.
    const b = await open(demo.tillB.dashboard, { viewport: SMALL_TILL_SCREEN, locale: 'en-GB' });
    await b.keyboard.press('Tab');
    await b.keyboard.press('ArrowRight');
    await b
      .locator('[data-testid="conflict-list"] tbody button')
      .first()
      .waitFor({ timeout: (CONFLICT_EVERY_S * 4 + 30) * 1000 });
    await b.keyboard.press('Tab'); // the collection filter
    await b.keyboard.press('Tab'); // the newest conflict's "View"
    const opened = await b.evaluate<string>("document.activeElement?.getAttribute('aria-label') ?? ''");
    assert.match(opened, /^View conflict on menu /);
    await b.keyboard.press('Enter');
    await b.getByTestId('conflict-detail').waitFor();
    await b.keyboard.press('Tab');
    await b.keyboard.press('Tab');
    assert.equal(await b.evaluate<string>('document.activeElement?.textContent'), 'Apply the other version');
    await b.keyboard.press('Enter');
    await b.getByRole('dialog').waitFor();
    await b.keyboard.press('Escape');
    await b.getByRole('dialog').waitFor({ state: 'detached' });
    assert.equal(await b.evaluate<string>('document.activeElement?.textContent'), 'Apply the other version', 'Escape returns focus');
    await b.keyboard.press('Shift+Tab');
    await b.keyboard.press('Enter'); // "Back to the list"
    await b.getByTestId('conflict-list').waitFor();
    assert.equal(await b.evaluate<string>("document.activeElement?.getAttribute('aria-label')"), opened, 'focus returns to the row opened');
    await b.close();
  });

  it('announces each new conflict once, and only settled states', async () => {
    const page = await open(demo.tillB.dashboard, { locale: 'en-GB' });
    const announcements = page.getByTestId('announcements').locator('p');
    const count = async () => Number(/\((\d+)\)/.exec((await page.locator('#tab-conflicts').textContent()) ?? '')?.[1] ?? 0);
    const before = await count();
    await announcements
      .filter({ hasText: /^New conflict on menu "/ })
      .first()
      .waitFor({ timeout: (CONFLICT_EVERY_S * 4 + 30) * 1000 });
    const deadline = Date.now() + 5_000;
    let said: string[] = [];
    let recorded = 0;
    // The tab's count follows the once-a-second status; the announcement comes with the conflict itself.
    for (;;) {
      said = (await announcements.allTextContents()).filter((t) => t.startsWith('New conflict'));
      recorded = (await count()) - before;
      if (said.length === recorded || Date.now() > deadline) break;
      await page.waitForTimeout(250);
    }
    assert.equal(said.length, recorded, `one announcement per new conflict: ${JSON.stringify(said)}`);
    // The demo's traffic flips "up to date" and "sending" within a second, again and again: none of that is said.
    const states = (await announcements.allTextContents()).filter((t) => !t.startsWith('New conflict'));
    assert.ok(states.length <= 1, `brief states are not announced: ${JSON.stringify(states)}`);
    await page.close();
  });

  it('switches language in settings, keeps the choice for the till, and goes back to automatic', async () => {
    const page = await open(demo.tillA.dashboard, { locale: 'fr-FR' });
    await page.locator('#tab-settings').click();
    const choice = page.getByTestId('language-choice');
    try {
      await choice.getByRole('button', { name: 'English' }).click();
      await page
        .locator('#tab-settings')
        .filter({ hasText: /^Settings$/ })
        .waitFor();
      assert.equal(await page.evaluate('document.documentElement.lang'), 'en');
      // Kept by the till, not the page: a new page in a French browser opens in English.
      const again = await open(demo.tillA.dashboard, { locale: 'fr-FR' });
      assert.equal(await again.locator('#tab-settings').textContent(), 'Settings');
      await again.close();
      await screenshot(page, '08-language-chosen');
    } finally {
      await choice.getByRole('button', { name: /^(Automatic|Automatique)$/ }).click();
    }
    await page
      .locator('#tab-settings')
      .filter({ hasText: /^Réglages$/ })
      .waitFor();
    assert.equal(await page.evaluate('document.documentElement.lang'), 'fr-FR');
    await page.close();
  });

  it('ran without script errors or Content-Security-Policy violations', () => {
    assert.deepEqual(problems.flat(), []);
  });
});
