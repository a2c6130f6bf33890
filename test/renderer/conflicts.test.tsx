// @jsxRuntime automatic
import './setup-dom.ts';
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { FakeTillSync, makeConflict, makeStatus } from './fake-api.ts';
import { renderDashboard, settle } from './render.tsx';

afterEach(cleanup);

/** 25 conflicts, newest (c-25) first; every third one is on `menu`. */
function apiWithConflicts(): FakeTillSync {
  const api = new FakeTillSync();
  api.conflicts = Array.from({ length: 25 }, (_, i) => {
    const n = 25 - i;
    return makeConflict(n, n % 3 === 0 ? { collection: 'menu', documentId: `"dish-${n}"` } : {});
  });
  api.status = makeStatus({ conflicts: { count: 25 } });
  return api;
}

async function openConflicts(api: FakeTillSync) {
  const view = await renderDashboard(api);
  fireEvent.click(screen.getByRole('tab', { name: 'Conflicts (25)' }));
  await waitFor(() => screen.getByTestId('conflict-list'));
  return view;
}

function recordIds(): string[] {
  const rows = within(screen.getByTestId('conflict-list')).getAllByRole('row').slice(1);
  return rows.map((row) => row.querySelectorAll('td')[2]!.textContent ?? '');
}

describe('conflict history', () => {
  it('lists conflicts newest first, ten to a page, and pages through them', async () => {
    const api = apiWithConflicts();
    await openConflicts(api);
    assert.equal(recordIds().length, 10);
    assert.equal(recordIds()[0], '"order-25"');
    assert.equal(screen.getByTestId('page-position').textContent, 'Page 1 of 3 (25 conflicts)');
    assert.equal(screen.getByRole('button', { name: 'Newer' }).getAttribute('aria-disabled'), 'true');

    fireEvent.click(screen.getByRole('button', { name: 'Older' }));
    await waitFor(() => assert.equal(screen.getByTestId('page-position').textContent, 'Page 2 of 3 (25 conflicts)'));
    assert.equal(recordIds()[0], '"dish-15"');
    const older = screen.getByRole('button', { name: 'Older' });
    older.focus();
    fireEvent.click(older);
    await waitFor(() => assert.equal(recordIds().length, 5));
    assert.equal(older.getAttribute('aria-disabled'), 'true');
    assert.ok(document.activeElement === older, 'the button that reached the last page keeps focus');
    fireEvent.click(older);
    assert.equal(screen.getByTestId('page-position').textContent, 'Page 3 of 3 (25 conflicts)', 'a press on it then does nothing');
    assert.deepEqual(
      api
        .callsOf('conflicts.list')
        .slice(-2)
        .map((c) => (c.input as { page: number }).page),
      [1, 2],
    );
  });

  it('filters by collection', async () => {
    const api = apiWithConflicts();
    await openConflicts(api);
    fireEvent.change(screen.getByRole('combobox', { name: 'Show' }), { target: { value: 'menu' } });
    await waitFor(() => assert.equal(screen.getByTestId('page-position').textContent, 'Page 1 of 1 (8 conflicts)'));
    assert.ok(recordIds().every((id) => id.startsWith('"dish-')));
    assert.equal((api.callsOf('conflicts.list').at(-1)!.input as { collection?: string }).collection, 'menu');
  });

  it('shows a new conflict at the top as soon as it is recorded', async () => {
    const api = apiWithConflicts();
    await openConflicts(api);
    const fresh = makeConflict(26, { documentId: '"order-26"', at: Date.now() });
    api.conflicts.unshift(fresh);
    await settle(() => api.emit('conflict', fresh));
    await waitFor(() => assert.equal(recordIds()[0], '"order-26"'));
  });

  it('shows both versions side by side with the changed fields highlighted, the winner and why', async () => {
    const api = new FakeTillSync();
    api.conflicts = [
      makeConflict(1, {
        changedFields: ['total', 'note'],
        winner: 'hub',
        rule: 'newer-version-per-field',
        fields: ['total', 'note'],
        explanation: 'The English sentence the main process made, which the dashboard no longer needs.',
        local: { version: 'a', wallTime: 1, origin: 'till-a', document: { _id: 'order-1', table: 4, total: 10 } },
        hub: { version: 'b', wallTime: 2, origin: 'till-b', document: { _id: 'order-1', table: 4, total: 12, note: 'no onions' } },
      }),
    ];
    await renderDashboard(api);
    fireEvent.click(screen.getByRole('tab', { name: 'Conflicts' }));
    fireEvent.click(await screen.findByRole('button', { name: 'View conflict on orders "order-1"' }));

    const versions = screen.getByTestId('conflict-versions');
    const changed = [...versions.querySelectorAll('tr.changed')].map((row) => row.getAttribute('data-field'));
    assert.deepEqual(changed, ['total', 'note']);
    const totalRow = versions.querySelector('tr[data-field="total"]')!;
    assert.deepEqual(
      [...totalRow.querySelectorAll('td')].map((td) => td.textContent),
      ['10', '12'],
    );
    assert.match(totalRow.textContent ?? '', /changed/);
    const tableRow = versions.querySelector('tr[data-field="table"]')!;
    assert.equal(tableRow.classList.contains('changed'), false);
    assert.match(screen.getByTestId('side-hub').textContent ?? '', /The hub's version\s*kept\s*made by till-b/);
    assert.match(screen.getByTestId('side-local').textContent ?? '', /This till's version\s*not kept\s*made by this till/);
    assert.equal(screen.getByTestId('conflict-winner').textContent, "The hub's version was kept");
    assert.equal(
      screen.getByTestId('conflict-explanation').textContent,
      "Both sides changed total and note; each part kept its newest value, and some of this till's changes were older.",
    );
  });

  it('applies the other version only after confirmation', async () => {
    const api = new FakeTillSync();
    api.conflicts = [makeConflict(7)];
    await renderDashboard(api);
    fireEvent.click(screen.getByRole('tab', { name: 'Conflicts' }));
    fireEvent.click(await screen.findByRole('button', { name: /^View conflict/ }));

    const applyButton = screen.getByRole('button', { name: 'Apply the other version' });
    applyButton.focus();
    fireEvent.click(applyButton);
    let dialog = screen.getByRole('dialog', { name: 'Apply the other version?' });
    assert.ok(document.activeElement === within(dialog).getByRole('button', { name: 'Cancel' }), 'focus starts on Cancel');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    assert.ok(screen.queryByRole('dialog') === null);
    assert.ok(document.activeElement === applyButton, 'focus returns to the button that opened the dialog');

    fireEvent.click(applyButton);
    dialog = screen.getByRole('dialog');
    fireEvent.keyDown(dialog, { key: 'Escape' });
    assert.ok(screen.queryByRole('dialog') === null, 'Escape closes the dialog');
    assert.equal(api.callsOf('conflicts.applyLoser').length, 0);

    fireEvent.click(applyButton);
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Yes, apply it' }));
    await waitFor(() => assert.ok(screen.queryByRole('dialog') === null, screen.queryByRole('dialog')?.textContent ?? ''));
    assert.deepEqual(
      api.callsOf('conflicts.applyLoser').map((c) => c.input),
      [{ id: 'c-7' }],
    );
    assert.match(
      screen.getByTestId('conflict-reapplied').textContent ?? '',
      /^This till's version was applied on this till and on the hub \(/,
    );
    assert.ok(screen.queryByRole('button', { name: 'Apply the other version' }) === null, 'it cannot be applied twice by mistake');
    // Focus moves in an effect, which may run just after the dialog leaves the page.
    await waitFor(() =>
      assert.ok(document.activeElement === screen.getByRole('heading', { level: 2, name: /^Conflict on orders/ }), 'focus is not lost'),
    );
  });

  it('keeps the dialog open and says why when applying fails', async () => {
    const api = new FakeTillSync();
    api.conflicts = [makeConflict(3)];
    api.failures['conflicts.applyLoser'] = {
      code: 'unavailable',
      message: 'The hub cannot be reached right now. Try again when the till is online.',
    };
    await renderDashboard(api);
    fireEvent.click(screen.getByRole('tab', { name: 'Conflicts' }));
    fireEvent.click(await screen.findByRole('button', { name: /^View conflict/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Apply the other version' }));
    fireEvent.click(screen.getByRole('button', { name: 'Yes, apply it' }));
    const alert = await within(screen.getByRole('dialog')).findByRole('alert');
    assert.equal(alert.textContent, 'The hub cannot be reached right now. Try again when the till is online.');
  });

  it('keeps keyboard focus inside the dialog', async () => {
    const api = new FakeTillSync();
    api.conflicts = [makeConflict(4)];
    await renderDashboard(api);
    fireEvent.click(screen.getByRole('tab', { name: 'Conflicts' }));
    fireEvent.click(await screen.findByRole('button', { name: /^View conflict/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Apply the other version' }));
    const dialog = screen.getByRole('dialog');
    const [cancel, confirm] = within(dialog).getAllByRole('button');
    confirm!.focus();
    fireEvent.keyDown(confirm!, { key: 'Tab' });
    assert.ok(document.activeElement === cancel, 'Tab from the last button wraps to the first');
    fireEvent.keyDown(cancel!, { key: 'Tab', shiftKey: true });
    assert.ok(document.activeElement === confirm, 'Shift+Tab from the first wraps to the last');
    const app = document.querySelector('[data-testid="status-header"]')!.closest('body > div') as HTMLElement;
    assert.equal(app.inert, true, 'the page behind the dialog is inert');
  });
});

describe('how far back the conflict history goes', () => {
  const since = Date.UTC(2026, 2, 5, 14, 2, 7);
  const history = { conflictsSince: since, olderConflicts: 1204, keepDays: 90, keepEntries: 10_000 };

  it('says how long conflicts are kept, the oldest one kept, and how many older ones were only counted', async () => {
    const api = apiWithConflicts();
    api.status = makeStatus({ conflicts: { count: 25 }, history });
    await openConflicts(api);
    const line = screen.getByTestId('history-reach').textContent ?? '';
    assert.match(line, /^Conflicts are kept for 90 days \(at most 10,000\); the oldest kept is from .*2026.*\./);
    assert.match(line, /1,204 older conflicts were removed from this till; only their number is kept\.$/);
  });

  it('says it in French', async () => {
    const api = apiWithConflicts();
    api.status = makeStatus({ conflicts: { count: 25 }, history: { ...history, olderConflicts: 1 } });
    await renderDashboard(api, { preferredLanguages: ['fr-FR'] });
    fireEvent.click(screen.getByRole('tab', { name: 'Conflits (25)' }));
    const line = (await screen.findByTestId('history-reach')).textContent ?? '';
    assert.match(line, /^Les conflits sont gardés 90 jours \(au plus 10\u202f000\)\u00a0; le plus ancien gardé date du .*2026/);
    assert.match(line, /1 conflit plus ancien a été retiré de cette caisse\u00a0; seul son nombre est gardé\.$/);
  });

  it('says nothing of it while the engine has not looked', async () => {
    const api = apiWithConflicts();
    await openConflicts(api);
    assert.equal(screen.queryByTestId('history-reach'), null);
  });
});
