/**
 * A till whose clock runs fast does not win every later conflict: a version
 * further ahead of this till's clock than `maxClockDriftMs` is refused,
 * reported in the status in plain words, kept (set aside, still on the hub),
 * and applied once the clocks agree.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import { contentHash } from '../../src-main/sync/documents.ts';
import { encodeVersion } from '../../src-main/sync/core/hlc.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

describe('clock drift', () => {
  let topology: Topology;
  let till: Till;

  before(async () => {
    // A 1.5 s allowance keeps the test short; the default is 5 minutes.
    topology = await startTopology({ tills: 1, engine: { maxClockDriftMs: 1_500 } });
    till = topology.tills[0] as Till;
  });
  after(async () => {
    await topology?.stop();
  });

  it('a version from a fast clock is set aside with a warning in words, then applied when the clocks agree', async () => {
    const engine = till.engine!;
    await waitFor('the till synced', () => engine.status().state === 'synced');
    // As written by a till whose clock is 6 s fast.
    const content: Document = { _id: 'fast', name: 'from a fast till', price: 3 };
    const ahead = encodeVersion({ wall: Date.now() + 6_000, counter: 0, device: 'till-fast' });
    await topology.hubDb
      .collection('menu')
      .insertOne({ ...content, _sync: { v: ahead, o: 'till-fast', h: contentHash(content) } } as Document);

    const warned = await waitFor('a clock warning in the status', () => engine.status().warnings.find((w) => w.includes('ahead')), 10_000);
    assert.match(warned, /clock/i);
    assert.match(warned, /till-fast/, 'the warning names the device');
    assert.equal(await till.db.collection('menu').findOne({ _id: 'fast' as never }), null, 'not applied while too far ahead');
    await waitFor('the change counted as set aside', () => engine.status().quarantine.count >= 1);

    await waitFor(
      'the change applied once the clocks agree',
      async () => (await till.db.collection('menu').findOne({ _id: 'fast' as never }))?.name === 'from a fast till',
      30_000,
    );
    await waitFor('the warning cleared', () => engine.status().warnings.length === 0, 15_000);
  });
});
