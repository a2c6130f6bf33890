/**
 * After a burst of sync the heap V8 grew for it goes back once sync is idle
 * again (issue 18): not while changes move, not at rest without a burst, and
 * once per burst. The collection itself really gives memory back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SyncStatus } from '../../src-shared/status.ts';
import { MemoryRelease, releaseMemory } from '../../src-main/sync/memory-release.ts';

const MB = 1024 * 1024;
const QUIET_MS = 30;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A status: changes waiting to go (`depth`), and changes a second moved either way over the last ten seconds. */
function status(state: SyncStatus['state'], depth = 0, perSec = 0): SyncStatus {
  return { state, outbox: { depth }, rates: { pushPerSec: 0, pullPerSec: perSec }, reconciliation: null } as unknown as SyncStatus;
}

/** A release that counts, over a heap the test sets. */
function harness(): { release: MemoryRelease; heap: { bytes: number }; released: () => number } {
  const heap = { bytes: 60 * MB };
  let count = 0;
  const release = new MemoryRelease({
    heapBytes: () => heap.bytes,
    release: () => {
      count += 1;
      heap.bytes = 62 * MB;
      return true;
    },
    growthBytes: 32 * MB,
    quietMs: QUIET_MS,
  });
  return { release, heap, released: () => count };
}

describe('memory after a burst', () => {
  it('is given back once sync has been idle a moment after the heap grew, and once only', async () => {
    const { release, heap, released } = harness();
    release.onStatus(status('syncing', 5_000));
    heap.bytes = 200 * MB;
    release.onStatus(status('syncing', 20));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 0, 'not while changes move');
    release.onStatus(status('synced'));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 1, 'once idle for a moment');
    release.onStatus(status('synced'));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 1, 'not again without another burst');
    release.stop();
  });

  it('waits while changes still wait to go or came in lately, and starts waiting again when they move', async () => {
    const { release, heap, released } = harness();
    heap.bytes = 200 * MB;
    release.onStatus(status('synced', 3));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 0, 'an outbox with changes is not idle');
    release.onStatus(status('synced', 0, 120));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 0, 'changes pulled in the last seconds: the pull may still hold them');
    release.onStatus(status('synced'));
    await sleep(QUIET_MS / 3);
    release.onStatus(status('syncing', 1)); // more came before the quiet moment was over
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 0);
    release.onStatus(status('synced'));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 1);
    release.stop();
  });

  it('does nothing at rest when the heap did not grow', async () => {
    const { release, heap, released } = harness();
    heap.bytes = 80 * MB;
    for (let i = 0; i < 5; i += 1) release.onStatus(status('synced'));
    await sleep(QUIET_MS * 3);
    assert.equal(released(), 0);
    release.stop();
  });

  it("gives back the heap a burst's garbage grew", () => {
    let garbage: Array<{ n: number; s: string }> | undefined = Array.from({ length: 800_000 }, (_, n) => ({ n, s: `order-${n}` }));
    assert.equal(garbage.length, 800_000);
    garbage = undefined;
    const before = process.memoryUsage().heapTotal;
    assert.equal(releaseMemory(), true, "V8's collector is reachable");
    const after = process.memoryUsage().heapTotal;
    assert.ok(
      after < before - 20 * MB,
      `heap ${Math.round(before / MB)} MB before, ${Math.round(after / MB)} MB after; expected 20 MB or more back`,
    );
  });
});
