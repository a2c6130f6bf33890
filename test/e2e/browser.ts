/**
 * Debian's Chromium, driven by playwright-core (no browser download), at a
 * till's screen size; screenshots go to test-results/screenshots/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const TILL_SCREEN = { width: 1024, height: 768 };
export const SCREENSHOT_DIR = join('test-results', 'screenshots');

/** Why the browser tests cannot run here, or null. On CI a missing browser is a failure, not a skip. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`;
  if (process.env.CI) throw new Error(reason);
  return reason;
}

export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

export const SMALL_TILL_SCREEN = { width: 800, height: 600 };

export interface DashboardPageOptions {
  viewport?: { width: number; height: number };
  /** The browser's language (navigator.languages), e.g. `fr-FR`; the dashboard follows it unless settings name one. */
  locale?: string;
}

/** A page (1024×768 unless told) that records script errors and CSP violations, which the tests then check are absent. */
export async function openDashboard(
  browser: Browser,
  url: string,
  options: DashboardPageOptions = {},
): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({
    viewport: options.viewport ?? TILL_SCREEN,
    ...(options.locale ? { locale: options.locale } : {}),
  });
  const page = await context.newPage();
  // The page's context goes with it. When the whole browser is closing, the context may be gone
  // already: that is no error (left unhandled, it failed a file after all its tests had passed).
  page.on('close', () => void context.close().catch(() => undefined));
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) problems.push(`CSP: ${message.text()}`);
  });
  await page.goto(url);
  return { page, problems };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`) });
}
