/**
 * Checks run inside the dashboard's page: axe-core's accessibility rules, and
 * the size of every control a finger can press. axe-core is evaluated through
 * the DevTools protocol, which the page's strict CSP does not govern (a
 * <script> tag would be refused, as it should be).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** WCAG 2.5.5 (AAA) and the platforms' own guidelines: 44 × 44 CSS px. */
export const MIN_TARGET_PX = 44;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** axe-core over the whole page, every rule it runs by default (WCAG A/AA and best practices); the violations. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  // (In-page code is a string: this project's Node type-check has no DOM types.)
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(AXE_SOURCE);
  return page.evaluate<AxeViolation[]>(`(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  })()`);
}

export interface SmallTarget {
  control: string;
  width: number;
  height: number;
}

/**
 * Every visible control smaller than 44 × 44. A checkbox's target is its
 * label (pressing the words ticks the box), so that is what is measured.
 */
export async function smallTargets(page: Page): Promise<{ measured: number; small: SmallTarget[] }> {
  return page.evaluate<{ measured: number; small: SmallTarget[] }>(`(() => {
    const min = ${MIN_TARGET_PX};
    const selector = 'button, select, textarea, summary, a[href], [role="tab"], input:not([type="hidden"]), [tabindex]:not([tabindex="-1"])';
    const small = [];
    let measured = 0;
    for (const el of document.querySelectorAll(selector)) {
      if (!el.checkVisibility({ visibilityProperty: true })) continue;
      const choice = el instanceof HTMLInputElement && (el.type === 'checkbox' || el.type === 'radio');
      const box = (choice && el.closest('label')) || el;
      const rect = box.getBoundingClientRect();
      measured += 1;
      if (rect.width + 0.01 < min || rect.height + 0.01 < min) {
        const name = (el.getAttribute('aria-label') ?? el.textContent ?? '').trim();
        const type = el.getAttribute('type');
        small.push({
          control: el.tagName.toLowerCase() + (type ? '[type=' + type + ']' : '') + ' "' + name.slice(0, 40) + '"',
          width: Math.round(rect.width * 10) / 10,
          height: Math.round(rect.height * 10) / 10,
        });
      }
    }
    return { measured, small };
  })()`);
}

export function describeViolations(violations: AxeViolation[]): string {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join('\n    ')}`).join('\n');
}
