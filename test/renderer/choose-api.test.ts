/** Inside Electron the preload's `window.tillsync` is used; in a browser, the web bridge on the page's own origin. */
import './setup-dom.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chooseApi } from '../../src-renderer/api/choose-api.ts';
import { bridgeUrlFor } from '../../src-renderer/api/bridge-client.ts';
import { FakeTillSync } from './fake-api.ts';

describe('choosing how the dashboard reaches the sync service', () => {
  it("uses Electron's preload API when the page has one", async () => {
    const preload = new FakeTillSync();
    const api = chooseApi(Object.assign(Object.create(window) as Window, { tillsync: preload }));
    assert.equal(api.connection(), 'open');
    const result = await api.invoke('settings.get', {});
    assert.equal(result.ok, true);
    assert.deepEqual(
      preload.calls.map((c) => c.command),
      ['settings.get'],
    );
  });

  it("talks to the web bridge on the page's own host otherwise", () => {
    assert.equal(bridgeUrlFor({ protocol: 'http:', host: '127.0.0.1:5181' }), 'ws://127.0.0.1:5181/ipc');
    assert.equal(bridgeUrlFor({ protocol: 'https:', host: 'till.example' }), 'wss://till.example/ipc');
  });
});
