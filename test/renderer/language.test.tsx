// @jsxRuntime automatic
import './setup-dom.ts';
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { FakeTillSync, makeConflict, makeStatus } from './fake-api.ts';
import { renderDashboard, settle } from './render.tsx';

afterEach(cleanup);

describe('language', () => {
  it("speaks the till's language: French on a French till, numbers and the page's lang included", async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({ conflicts: { count: 1234 }, outbox: { depth: 2, oldestPendingAgeMs: 3 * 60_000 } });
    await renderDashboard(api, { preferredLanguages: ['fr-CA', 'en-US'] });
    assert.equal(document.documentElement.lang, 'fr-CA');
    assert.equal(screen.getByTestId('status-headline').textContent, 'À jour');
    screen.getByRole('tab', { name: 'Conflits (1\u00a0234)' });
    assert.equal(screen.getByTestId('waiting').textContent, '2 modifications en attente d’envoi (la plus ancienne faite il y a 3 minutes)');
  });

  it('switches language from settings, kept by the main process, and back to automatic', async () => {
    const api = new FakeTillSync();
    await renderDashboard(api, { preferredLanguages: ['fr-FR'] });
    fireEvent.click(screen.getByRole('tab', { name: 'Réglages' }));
    const group = screen.getByTestId('language-choice');
    assert.equal(within(group).getByRole('button', { name: 'Automatique' }).getAttribute('aria-pressed'), 'true');
    assert.equal(group.nextElementSibling?.textContent, 'Automatique suit la langue de cette caisse\u00a0: actuellement Français.');
    fireEvent.click(within(group).getByRole('button', { name: 'English' }));
    await screen.findByRole('tab', { name: 'Settings' });
    assert.equal(document.documentElement.lang, 'en');
    const english = within(screen.getByTestId('language-choice')).getByRole('button', { name: 'English' });
    assert.equal(english.getAttribute('aria-pressed'), 'true');
    assert.equal(english.getAttribute('lang'), 'en', 'each language is named in itself, and marked so');
    fireEvent.click(within(screen.getByTestId('language-choice')).getByRole('button', { name: 'Automatic' }));
    await screen.findByRole('tab', { name: 'Réglages' });
    assert.deepEqual(
      api.callsOf('settings.setLanguage').map((c) => c.input),
      [{ language: 'en' }, { language: null }],
    );
  });

  it('says the engine’s coded warnings, errors and set-aside reasons in French, and its English text for codes it does not know', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({
      warnings: ['English clock warning', 'English text of a newer warning'],
      warningDetails: [
        { code: 'till-clock-off', params: { offsetMs: 9 * 60_000, direction: 'slow' }, message: 'English clock warning' },
        { code: 'from-a-newer-engine' as 'clock-drift', params: {}, message: 'English text of a newer warning' },
      ],
      lastError: { reason: 'hub-unreachable', message: 'Cannot reach the head-office hub.', at: Date.now() - 10_000 },
      quarantine: {
        count: 7,
        latest: [
          {
            collection: 'menu',
            documentId: '"soup"',
            reason: 'document is over the 16 MB limit',
            at: Date.now(),
            reasonCode: 'document-too-large',
          },
          { collection: 'orders', documentId: '"o-1"', reason: 'refused by the hub for a reason of its own', at: Date.now() },
        ],
      },
    });
    await renderDashboard(api, { preferredLanguages: ['fr-FR'] });
    const warnings = screen.getByTestId('warnings').textContent ?? '';
    assert.match(warnings, /L’horloge de cette caisse retarde de 9 minutes par rapport au siège/);
    assert.match(warnings, /English text of a newer warning/);
    assert.match(screen.getByTestId('last-error').textContent ?? '', /Impossible de joindre le serveur central/);
    const items = screen.getAllByTestId('set-aside-item').map((li) => li.textContent ?? '');
    assert.match(items[0]!, /^menu "soup"\u00a0: l’enregistrement dépasse la limite de 16 Mo/);
    assert.match(items[1]!, /^orders "o-1"\u00a0: refused by the hub for a reason of its own/);
    screen.getByText('et 5 autres');
  });
});

describe('announcements', () => {
  const said = () => [...screen.getByTestId('announcements').querySelectorAll('p')].map((p) => p.textContent);

  it('announces each new conflict once', async () => {
    const api = new FakeTillSync();
    await renderDashboard(api);
    await settle(() => {
      api.emit('conflict', makeConflict(1, { collection: 'menu', documentId: '"soup"', winner: 'hub' }));
      api.emit('conflict', makeConflict(2, { collection: 'orders', documentId: '"o-2"', winner: 'local' }));
    });
    assert.deepEqual(said(), [
      'New conflict on menu "soup": the hub\'s version was kept.',
      'New conflict on orders "o-2": this till\'s version was kept.',
    ]);
    assert.equal(screen.getByTestId('announcements').getAttribute('role'), 'log');
    assert.equal(screen.getByTestId('status-header').querySelector('[aria-live]'), null, 'the header itself is not a live region');
  });

  it('announces a state once it has held, and not a brief one', async () => {
    const api = new FakeTillSync();
    await renderDashboard(api, { announceAfterMs: 150 });
    // A pause of a moment: offline, syncing, back up to date within the settle time.
    await settle(() => api.emit('status', makeStatus({ state: 'offline' })));
    await settle(() => api.emit('status', makeStatus({ state: 'syncing' })));
    await settle(() => api.emit('status', makeStatus({ state: 'synced' })));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(said(), [], 'nothing said for a state that did not hold');
    await settle(() => api.emit('status', makeStatus({ state: 'disabled', enabled: false })));
    await settle(() => api.emit('status', makeStatus({ state: 'disabled', enabled: false })));
    await waitFor(() => assert.equal(said().length, 1, 'said once'));
    assert.deepEqual(said(), ['Sync is paused. Changes are saved on this till and will be sent when sync is resumed.']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(said().length, 1, 'and not again while it holds');
  });
});
