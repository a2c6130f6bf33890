/**
 * The soak's hub observer reads the hub's change events in order and flags an
 * engine write that takes a document's version backwards. These feed it events
 * as the hub emits them, without a server.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentHash } from '../../src-main/sync/documents.ts';
import { HubObserver } from '../soak/observer.ts';

let txn = 0;
/** The events of one engine transaction: its push marker first, then `events`. */
function engineTxn(device: string, events: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  txn += 1;
  const lsid = { id: Buffer.from(`session-${device}`) };
  const common = { lsid, txnNumber: txn };
  return [
    { ...common, ns: { db: 'pos', coll: '_tillsync_push' }, operationType: 'update', documentKey: { _id: device } },
    ...events.map((e) => ({ ...common, ...e })),
  ];
}

const menu = (op: string, doc?: Record<string, unknown>) => ({
  ns: { db: 'pos', coll: 'menu' },
  operationType: op,
  documentKey: { _id: 'm-0' },
  ...(doc ? { fullDocument: { _id: 'm-0', ...doc } } : {}),
});
const tombstone = (v: string, o: string) => ({
  ns: { db: 'pos', coll: '_tillsync_tombstones' },
  operationType: 'insert',
  documentKey: { _id: { c: 'menu', id: 'm-0' } },
  fullDocument: { _id: { c: 'menu', id: 'm-0' }, v, o },
});

/** HQ re-creates m-0, and till-1 stamps HQ's content with the version of its event. */
function hqInsertThenStamp(observer: HubObserver, v: string): void {
  const content = { _id: 'm-0', name: 'soup', price: 4 };
  observer.see({ ...menu('insert', content) });
  for (const ev of engineTxn('till-1', [menu('update', { ...content, _sync: { v, o: 'hub', h: contentHash(content) } })])) observer.see(ev);
}

describe('soak hub observer', () => {
  it('flags a tombstone whose delete took the document back to an older version', () => {
    const observer = new HubObserver('mongodb://127.0.0.1:1');
    hqInsertThenStamp(observer, '01a24263b6f3.0005.hub');
    for (const ev of engineTxn('till-2', [menu('delete'), tombstone('01a24263ade1.0001.till-2', 'till-2')])) observer.see(ev);
    assert.equal(observer.regressions.length, 1);
    assert.match(observer.regressions[0]?.what ?? '', /tombstone after stamp by till-1/);
  });

  it('does not flag a tombstone written beside a document it did not delete (HQ re-created it during the push)', () => {
    // The till's push read the hub before HQ's insert: the document was gone, so its transaction
    // wrote only the tombstone; the two share no key, so both commit and the document stands.
    const observer = new HubObserver('mongodb://127.0.0.1:1');
    hqInsertThenStamp(observer, '01a24263b6f3.0005.hub');
    for (const ev of engineTxn('till-2', [tombstone('01a24263ade1.0001.till-2', 'till-2')])) observer.see(ev);
    assert.deepEqual(observer.regressions, []);
    assert.equal(observer.tombstonesBesideLiveDocuments, 1);
  });
});

describe('soak checks: when a till could not have seen its own writes', () => {
  it("takes the spells of a truncate of the till's own server (capture loses history), not of the hub's", async () => {
    const { captureHistoryLost } = await import('../soak/checks.ts');
    const truncate = (at: number, phase: string, targets: string[]) => ({ at, fault: 'truncate', phase, targets });
    const spells = captureHistoryLost([
      truncate(100, 'begin', ['agent:till-1', 'server:till-1']),
      { at: 150, fault: 'kill', phase: 'begin', targets: ['agent:till-2'] },
      truncate(200, 'end', ['agent:till-1', 'server:till-1']),
      truncate(300, 'begin', ['agent:till-3', 'server:hub']),
      truncate(400, 'end', ['agent:till-3', 'server:hub']),
    ]);
    assert.deepEqual([...spells.entries()], [['till-1', [{ from: 100, to: 200 }]]]);
  });
});
