import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SyncState } from '../../src-shared/status.ts';
import { describeLag, trayModel } from '../../src-main/app/tray-model.ts';

describe('tray model', () => {
  it('picks the icon for each state', () => {
    const cases: Array<[SyncState, string]> = [
      ['synced', 'synced'],
      ['syncing', 'syncing'],
      ['starting', 'syncing'],
      ['offline', 'offline'],
      ['error', 'error'],
      ['disabled', 'disabled'],
    ];
    for (const [state, icon] of cases) assert.equal(trayModel({ state, lagMs: 200, enabled: state !== 'disabled' }).icon, icon, state);
  });

  it('shows paused whenever sync is turned off, whatever the engine last said', () => {
    const model = trayModel({ state: 'synced', lagMs: 100, enabled: false, pending: 3 });
    assert.equal(model.icon, 'disabled');
    assert.equal(model.toggleLabel, 'Resume sync');
    assert.match(model.tooltip, /paused/);
    assert.match(model.tooltip, /3 changes are waiting/);
  });

  it('offers Pause while sync is on', () => {
    assert.equal(trayModel({ state: 'offline', lagMs: null, enabled: true }).toggleLabel, 'Pause sync');
  });

  it('says how far behind in words', () => {
    assert.equal(
      trayModel({ state: 'synced', lagMs: 350, enabled: true }).tooltip,
      'TillSync: up to date (changes arrive in under a second).',
    );
    assert.equal(trayModel({ state: 'synced', lagMs: null, enabled: true }).tooltip, 'TillSync: up to date.');
    assert.match(
      trayModel({ state: 'syncing', lagMs: 125_000, enabled: true, pending: 1 }).tooltip,
      /about 2 minutes behind\)\. 1 change is waiting to be sent\./,
    );
  });

  it('tells the operator where to look when sync has stopped, and that the till keeps working offline', () => {
    assert.match(trayModel({ state: 'error', lagMs: null, enabled: true }).tooltip, /Open the dashboard/);
    assert.match(trayModel({ state: 'offline', lagMs: null, enabled: true }).tooltip, /keeps working/);
  });

  it('describes lag in whole units', () => {
    assert.equal(describeLag(0), 'under a second');
    assert.equal(describeLag(1_000), '1 second');
    assert.equal(describeLag(59_999), '59 seconds');
    assert.equal(describeLag(60_000), '1 minute');
    assert.equal(describeLag(3 * 3_600_000 + 5), '3 hours');
  });

  it('speaks French when asked, menu included', () => {
    const model = trayModel({ state: 'offline', lagMs: null, enabled: true, pending: 2, language: 'fr' });
    assert.match(model.tooltip, /^TillSync\u00a0: le siège est injoignable\./);
    assert.match(model.tooltip, /2 modifications attendent d’être envoyées\.$/);
    assert.equal(model.toggleLabel, 'Mettre la synchronisation en pause');
    assert.equal(model.openLabel, 'Ouvrir le tableau de bord');
    assert.equal(describeLag(125_000, 'fr'), '2 minutes');
    assert.equal(describeLag(1_000, 'fr'), '1 seconde');
    assert.equal(
      trayModel({ state: 'synced', lagMs: 350, enabled: true, language: 'fr' }).tooltip,
      'TillSync\u00a0: à jour (les modifications arrivent en moins d’une seconde).',
    );
  });
});
