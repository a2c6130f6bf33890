import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DASHBOARD_URL, isAppUrl } from '../../src-main/app/window-options.ts';

describe('app origin', () => {
  it("recognises only the app's own pages as senders", () => {
    assert.ok(isAppUrl(DASHBOARD_URL));
    assert.ok(isAppUrl('app://tillsync/settings'));
    for (const url of [
      'app://evil/index.html',
      'file:///index.html',
      'http://127.0.0.1:5181/',
      'https://tillsync/',
      'app://tillsync.evil/',
      'not a url',
      '',
    ]) {
      assert.equal(isAppUrl(url), false, url);
    }
  });
});
