// @jsxRuntime automatic
import './setup-dom.ts';
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, screen } from '@testing-library/react';
import { FakeTillSync, makeStatus } from './fake-api.ts';
import { renderDashboard, settle } from './render.tsx';
import type { SyncState } from '../../src-shared/status.ts';

afterEach(cleanup);

describe('status header', () => {
  const expected: Array<[SyncState, RegExp]> = [
    ['synced', /^Up to date$/],
    ['syncing', /^Sending and receiving changes$/],
    ['offline', /^Working offline$/],
    ['disabled', /^Sync is paused$/],
    ['starting', /^Starting up$/],
    ['error', /^Sync has a problem$/],
  ];
  for (const [state, headline] of expected) {
    it(`says "${headline.source.slice(1, -1)}" when the state is ${state}`, async () => {
      const api = new FakeTillSync();
      api.status = makeStatus({ state });
      await renderDashboard(api);
      assert.match(screen.getByTestId('status-headline').textContent ?? '', headline);
      assert.doesNotMatch(screen.getByTestId('status-header').textContent ?? '', /oplog|outbox|HLC/i);
    });
  }

  it('explains offline work in full', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({ state: 'offline', outbox: { depth: 12, oldestPendingAgeMs: 5 * 60_000 } });
    await renderDashboard(api);
    screen.getByText('Working offline — changes are saved on this till and will be sent when the connection is back.');
    assert.equal(screen.getByTestId('waiting').textContent, '12 changes waiting to be sent (oldest made 5 minutes ago)');
  });

  it('shows the error in plain words when sync has a problem', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({
      state: 'error',
      lastError: {
        reason: 'hub-auth',
        message: 'The hub refused the user name or password. Check the hub connection string.',
        at: Date.now(),
      },
    });
    await renderDashboard(api);
    screen.getByText('The hub refused the user name or password. Check the hub connection string.');
  });

  it('shows when it was last up to date, what is waiting, set-aside changes and warnings', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({
      lastSyncedAt: Date.now() - 2 * 60_000 - 5_000,
      outbox: { depth: 1, oldestPendingAgeMs: 1000 },
      quarantine: { count: 3, latest: [] },
      warnings: ['Till B’s clock is 9 minutes ahead; its changes are refused until it is corrected.'],
      lastError: { reason: 'hub-auth', message: 'The hub could not be reached.', at: Date.now() - 30_000 },
    });
    await renderDashboard(api);
    assert.equal(screen.getByTestId('last-synced').textContent, 'Last up to date 2 minutes ago');
    assert.match(screen.getByTestId('waiting').textContent ?? '', /^1 change waiting to be sent/);
    assert.equal(screen.getByTestId('quarantined').textContent, '3 changes could not be synced and were set aside');
    assert.match(screen.getByTestId('warnings').textContent ?? '', /clock is 9 minutes ahead/);
    assert.equal(screen.getByTestId('last-error').textContent, 'Last problem (30 seconds ago): The hub could not be reached.');
  });

  it('shows the progress of a full comparison with the hub', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({ state: 'syncing', reconciliation: { compared: 120, total: 500 } });
    await renderDashboard(api);
    assert.equal(screen.getByTestId('reconciliation').textContent, 'Checking this till against the hub: 120 of 500 records compared');
    await settle(() => api.emit('status', makeStatus({ state: 'synced', reconciliation: null })));
    assert.ok(screen.queryByTestId('reconciliation') === null);
  });

  it('says which till and which database it is', async () => {
    const api = new FakeTillSync();
    api.info = { ...api.info, tillName: 'Till B', backend: 'emulator' };
    await renderDashboard(api);
    screen.getByRole('heading', { level: 1, name: 'Till B' });
    assert.match(screen.getByTestId('backend').textContent ?? '', /emulator/);
  });

  it('follows status events', async () => {
    const api = new FakeTillSync();
    await renderDashboard(api);
    assert.equal(screen.getByTestId('status-headline').textContent, 'Up to date');
    await settle(() => api.emit('status', makeStatus({ state: 'disabled', enabled: false })));
    assert.equal(screen.getByTestId('status-headline').textContent, 'Sync is paused');
  });

  it('says when the dashboard lost the sync service, and recovers', async () => {
    const api = new FakeTillSync();
    await renderDashboard(api);
    assert.ok(screen.queryByRole('alert') === null);
    await settle(() => api.setConnection('lost'));
    assert.equal(screen.getByRole('alert').textContent, 'Dashboard lost contact with the sync service — retrying');
    assert.ok(screen.queryByTestId('status-headline') === null, 'a state that may no longer be true is not shown');
    const loadsBefore = api.callsOf('status.get').length;
    await settle(() => api.setConnection('open'));
    assert.ok(screen.queryByRole('alert') === null);
    screen.getByTestId('status-headline');
    assert.equal(api.callsOf('status.get').length, loadsBefore + 1, 'reloads the status after reconnecting');
  });
});
