/**
 * Push batches on their way together (flows/push.ts keeps several in flight),
 * in the orders the random model test reaches only now and then: a later batch
 * committing before an earlier one, with a comparison in between, and a
 * document changed again while its change is on its way.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runModel, type Step } from './run.ts';

const write = (c: 'menu' | 'orders', id: number, kind: 'put' | 'update'): Step => ({ t: 'write', till: 0, c, id, kind, txn: false });
const capture: Step = { t: 'capture', till: 0, max: 10, checkpointIdle: true };
const push: Step = { t: 'push', till: 0, max: 10 };

describe('push batches on their way together', () => {
  it('a comparison while a later batch has landed and an earlier one has not leaves the earlier one to the push', () => {
    const steps: Step[] = [
      write('menu', 0, 'put'),
      capture,
      push, // batch A: menu 0
      write('menu', 1, 'put'),
      capture,
      push, // batch B: menu 1
      { t: 'commit', till: 0, pick: 1 }, // B lands first; A is still on its way
      { t: 'pull', till: 0, max: 10, stampFails: false, captureStalled: false }, // first pull: a full comparison
      { t: 'commit', till: 0, pick: 0 },
      { t: 'settle', till: 0, pick: 0 },
      { t: 'settle', till: 0, pick: 0 },
    ];
    assert.deepEqual(runModel(steps), []);
  });

  it('a document changed again while its change is on its way is not sent in a second batch before the first lands', () => {
    const steps: Step[] = [
      write('menu', 0, 'put'),
      capture,
      push, // batch A: menu 0
      write('menu', 0, 'update'),
      capture,
      push, // must wait: menu 0 is on its way
      { t: 'commit', till: 0, pick: 1 },
      { t: 'commit', till: 0, pick: 0 },
      { t: 'settle', till: 0, pick: 0 },
      { t: 'settle', till: 0, pick: 0 },
    ];
    assert.deepEqual(runModel(steps), []);
  });
});
