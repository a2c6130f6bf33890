// @jsxRuntime automatic
import './setup-dom.ts';
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { FakeTillSync, makeStatus } from './fake-api.ts';
import { renderDashboard, settle } from './render.tsx';

afterEach(cleanup);

async function openSettings(api: FakeTillSync) {
  const view = await renderDashboard(api);
  fireEvent.click(screen.getByRole('tab', { name: 'Settings' }));
  return view;
}

function hubInput(): HTMLInputElement {
  return screen.getByLabelText('New hub connection string') as HTMLInputElement;
}

describe('settings', () => {
  it('pauses and resumes sync', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    fireEvent.click(screen.getByRole('button', { name: 'Pause sync' }));
    await screen.findByRole('button', { name: 'Resume sync' });
    assert.match(screen.getByTestId('toggle-state').textContent ?? '', /^Sync is paused/);
    fireEvent.click(screen.getByRole('button', { name: 'Resume sync' }));
    await screen.findByRole('button', { name: 'Pause sync' });
    assert.deepEqual(
      api.callsOf('settings.setEnabled').map((c) => c.input),
      [{ enabled: false }, { enabled: true }],
    );
  });

  it('follows a pause made elsewhere (the tray)', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    await settle(() => api.emit('settings', { ...api.settings, enabled: false }));
    screen.getByRole('button', { name: 'Resume sync' });
  });

  it('shows the saved hub connection string with its password hidden', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    assert.equal(screen.getByTestId('hub-uri-masked').textContent, 'mongodb://tillsync:***@127.0.0.1:27103/');
    assert.equal(hubInput().type, 'password', 'what is typed is hidden until "Show" is ticked');
  });

  it('refuses a hub connection string that is not one, with the reason, and sends nothing', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    fireEvent.change(hubInput(), { target: { value: 'http://hub.example.net' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    const error = await screen.findByTestId('hub-uri-error');
    assert.equal(error.textContent, 'The hub connection string must start with mongodb:// or mongodb+srv://.');
    assert.equal(hubInput().getAttribute('aria-invalid'), 'true');
    assert.equal(hubInput().getAttribute('aria-describedby'), error.id);
    fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    assert.equal(api.callsOf('settings.setHubUri').length, 0);
    assert.equal(api.callsOf('settings.testHub').length, 0);

    fireEvent.change(hubInput(), { target: { value: '   ' } });
    screen.getByText('Enter the hub connection string.');

    fireEvent.change(hubInput(), { target: { value: 'mongodb://u:secret@hub.example.net/' } });
    assert.ok(screen.queryByTestId('hub-uri-error') === null, 'the error goes away once the string is valid');
  });

  it('tests and saves a valid hub connection string', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    fireEvent.change(hubInput(), { target: { value: 'mongodb+srv://u:secret@cluster.example.net/' } });
    fireEvent.click(screen.getByRole('button', { name: 'Test connection' }));
    assert.equal((await screen.findByTestId('hub-outcome')).textContent, 'Connected to the hub.');
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await waitFor(() => assert.equal(screen.getByTestId('hub-outcome').textContent, 'Saved. TillSync now uses this hub.'));
    assert.equal(screen.getByTestId('hub-uri-masked').textContent, 'mongodb+srv://u:***@cluster.example.net/');
    assert.equal(hubInput().value, '', 'the field is cleared so the password is not left on screen');
    assert.deepEqual(
      api.callsOf('settings.setHubUri').map((c) => c.input),
      [{ uri: 'mongodb+srv://u:secret@cluster.example.net/' }],
    );
  });

  it("shows the sync service's own reason when it refuses", async () => {
    const api = new FakeTillSync();
    api.failures['settings.setHubUri'] = { code: 'unavailable', message: 'could not store the connection string securely on this till' };
    await openSettings(api);
    fireEvent.change(hubInput(), { target: { value: 'mongodb://hub.example.net/' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    assert.equal((await screen.findByTestId('hub-outcome')).textContent, 'Could not store the connection string securely on this till.');
  });

  it('lists collection policies and changes one only when Apply is pressed', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    const menu = screen.getByRole('combobox', { name: 'How menu syncs' }) as HTMLSelectElement;
    assert.equal(menu.selectedOptions[0]!.textContent, 'Receive from the hub only');
    // Arrowing through the list picks each option in turn: nothing is saved yet.
    for (const value of ['local-only', 'push-only', 'both']) fireEvent.change(menu, { target: { value } });
    assert.equal(api.callsOf('settings.setPolicy').length, 0);
    const apply = screen.getByRole('button', { name: 'Apply the changes to menu' });
    apply.focus();
    fireEvent.click(apply);
    // (assert.ok gets a message: without one, each failed try re-reads this file to quote the expression.)
    await waitFor(() => assert.ok(screen.queryByRole('button', { name: 'Apply the changes to menu' }) === null, 'Apply goes once applied'));
    await waitFor(() =>
      assert.ok(document.activeElement === screen.getByRole('combobox', { name: 'How menu syncs' }), 'focus stays in the row'),
    );
    assert.equal(screen.getByTestId('policy-outcome').textContent, 'menu: both ways, newest whole record wins.');
    await waitFor(() =>
      assert.equal(
        (screen.getByRole('combobox', { name: 'How menu syncs' }) as HTMLSelectElement).selectedOptions[0]!.textContent,
        'Both ways',
      ),
    );
    assert.deepEqual(
      api.callsOf('settings.setPolicy').map((c) => c.input),
      [{ collection: 'menu', mode: 'both', conflict: 'document' }],
    );
  });

  it('sets a policy for a collection that has none, refusing a name MongoDB would not accept', async () => {
    const api = new FakeTillSync();
    await openSettings(api);
    const name = screen.getByLabelText('Collection') as HTMLInputElement;
    fireEvent.change(name, { target: { value: 'sales$' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set for this collection' }));
    assert.equal((await screen.findByRole('alert')).textContent, 'Collection names cannot contain "$" or a NUL character.');
    assert.equal(api.callsOf('settings.setPolicy').length, 0);

    fireEvent.change(name, { target: { value: 'sales' } });
    fireEvent.change(screen.getByLabelText('How it syncs'), { target: { value: 'push-only' } });
    fireEvent.click(screen.getByRole('button', { name: 'Set for this collection' }));
    // Send-only stops sales from arriving from the hub: asked first.
    const dialog = screen.getByRole('dialog', { name: 'Change how sales syncs?' });
    assert.match(dialog.textContent ?? '', /will no longer arrive on this till/);
    assert.equal(api.callsOf('settings.setPolicy').length, 0);
    fireEvent.click(within(dialog).getByRole('button', { name: 'Yes, change it' }));
    const select = (await screen.findByRole('combobox', { name: 'How sales syncs' })) as HTMLSelectElement;
    assert.equal(select.selectedOptions[0]!.textContent, 'Send to the hub only');
    assert.deepEqual(
      api.callsOf('settings.setPolicy').map((c) => c.input),
      [{ collection: 'sales', mode: 'push-only', conflict: 'document' }],
    );
  });

  it('keeps the status header on every tab', async () => {
    const api = new FakeTillSync();
    api.status = makeStatus({ state: 'offline' });
    await openSettings(api);
    assert.equal(screen.getByTestId('status-headline').textContent, 'Working offline');
  });
});
