/**
 * Over a restaurant's line a push to the hub takes several round trips. A
 * change made while an earlier batch is on its way must go at once, in a
 * batch of its own, not once that batch has landed: waiting cost every new
 * order half a push on average (issue 14). The hub here is behind a simulated
 * line of 300 ms round trip (test/harness/link), so a push takes about 1.5 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChangeStream, Document } from 'mongodb';
import { LinkProxy } from '../harness/link/proxy.ts';
import { linkTarget, linkedUri } from '../harness/link/uri.ts';
import { startTopology, waitFor, type Till, type Topology } from './topology.ts';

const RTT_MS = 300;

describe('a push over a slow line', () => {
  let topology: Topology;
  let link: LinkProxy;
  let till: Till;

  before(async () => {
    topology = await startTopology({ tills: 1, startEngines: false });
    link = await LinkProxy.start({ to: linkTarget(topology.hub.uri), rttMs: RTT_MS });
    till = topology.tills[0] as Till;
    const engine = await till.startEngine({ hub: { uri: linkedUri(topology.hub.uri, link.port) } });
    await waitFor('the till synced through the line', () => engine.status().state === 'synced', 30_000);
  });

  after(async () => {
    await topology?.stop();
    await link?.stop();
  });

  it('a change made while another is on its way to the hub follows it without waiting for it to land', async () => {
    const arrived = new Map<string, number>();
    const stream: ChangeStream = topology.hubDb.collection('sl_orders').watch([{ $match: { operationType: 'insert' } }]);
    stream.on('change', (event: Document) => arrived.set(String(event.documentKey._id), performance.now()));
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // the stream is open on the hub
      const orders = till.db.collection<{ _id: string; table: number }>('sl_orders');
      await orders.insertOne({ _id: 'first', table: 1 });
      // The first order's push is on its way now (it takes about five round trips).
      await new Promise((resolve) => setTimeout(resolve, RTT_MS + 100));
      await orders.insertOne({ _id: 'second', table: 2 });
      await waitFor('both orders on the hub', () => arrived.has('first') && arrived.has('second'), 30_000);
      const gapMs = (arrived.get('second') as number) - (arrived.get('first') as number);
      // Sent at once, the second lands about 0.4 s after the first; sent after the first landed, a whole push (~1.5 s) after it.
      assert.ok(gapMs < 1_000, `the second order reached the hub ${gapMs.toFixed(0)} ms after the first; expected it on its way beside it`);
    } finally {
      await stream.close();
    }
  });
});
