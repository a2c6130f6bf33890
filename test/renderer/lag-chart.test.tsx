// @jsxRuntime automatic
import './setup-dom.ts';
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, screen } from '@testing-library/react';
import { FakeTillSync, makeStatus } from './fake-api.ts';
import { renderDashboard, settle } from './render.tsx';
import type { LagPoint } from '../../src-shared/status.ts';

afterEach(cleanup);

function series(seconds: number, end: number): LagPoint[] {
  return Array.from({ length: seconds }, (_, i) => ({
    t: end - (seconds - 1 - i) * 1000,
    pushMs: i % 2 === 0 ? 40 + i : null,
    pullMs: 25,
  }));
}

describe('lag chart', () => {
  it('says in words how long the last changes took', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({ lag: { push: { lastMs: 40, p50Ms: 40, p95Ms: 40 }, pull: { lastMs: 1200, p50Ms: 1200, p95Ms: 1200 } } });
    await renderDashboard(api);
    assert.equal(screen.getByTestId('lag-summary').textContent, 'Last change sent took 40 ms. Last change received took 1.2 seconds.');
    assert.match(screen.getByRole('img').getAttribute('aria-label') ?? '', /Last change sent took 40 ms/);
  });

  it('draws new points as status updates arrive', async () => {
    const api = new FakeTillSync();
    const now = Date.now();
    api.status = makeStatus({ lagSeries: [] });
    await renderDashboard(api);
    const chart = screen.getByTestId('lag-chart');
    assert.equal(chart.getAttribute('data-points'), '0');
    screen.getByText('No changes in the last 15 minutes.');
    assert.equal(screen.getByTestId('lag-line-push').getAttribute('d'), '');

    await settle(() => api.emit('status', makeStatus({ lagSeries: series(10, now - 1000) })));
    assert.equal(chart.getAttribute('data-points'), '15');
    assert.equal(chart.getAttribute('data-last-t'), String(now - 1000));
    const pushPath = screen.getByTestId('lag-line-push').getAttribute('d') ?? '';
    assert.equal(pushPath.match(/M/g)?.length, 5, 'a second without a change leaves a gap in the line');

    await settle(() => api.emit('status', makeStatus({ lagSeries: series(11, now) })));
    assert.equal(chart.getAttribute('data-last-t'), String(now));
    assert.notEqual(screen.getByTestId('lag-line-pull').getAttribute('d'), pushPath);
  });

  it('leaves out points older than 15 minutes', async () => {
    const api = new FakeTillSync();
    const now = Date.now();
    api.status = makeStatus({
      lagSeries: [
        { t: now - 20 * 60_000, pushMs: 50, pullMs: 50 },
        { t: now - 1000, pushMs: 30, pullMs: null },
      ],
    });
    await renderDashboard(api);
    assert.equal(screen.getByTestId('lag-chart').getAttribute('data-points'), '1');
  });
});
