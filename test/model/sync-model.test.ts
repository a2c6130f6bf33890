/**
 * The sync core against the guarantees, model-based: fast-check drives three
 * tills and a hub held in memory (test/model/world.ts) through any
 * interleaving of POS writes, HQ writes, capture, push, the push's settle,
 * pull, stamps that fail, restarts that lose an engine's memory, lost change
 * history on either side, clock skew and time passing. Every decision is the
 * real core's. Then the network heals, the engines run until nothing moves,
 * and the guarantees the chaos soak checks must hold (checks.ts).
 *
 * `MODEL_RUNS` sets the number of runs (default 1500); a failure prints the
 * seed and the shrunk list of steps, which `npx tsx test/model/replay.ts
 * '<steps>'` replays with what each step wrote to the hub.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { runModel, stepArbitrary, type Step } from './run.ts';

const RUNS = Number(process.env.MODEL_RUNS ?? 1500);

/** Interleavings that once broke a guarantee, kept as they were shrunk: each must now pass. */
const FOUND: ReadonlyArray<{ what: string; steps: Step[] }> = [
  {
    what: "reconciliation pushed a newer version of HQ's content it held, while its stamp of it was on its way (an echo)",
    steps: [
      { t: 'hq', c: 'menu', id: 0, kind: 'put' },
      { t: 'write', till: 1, c: 'menu', id: 1, kind: 'put', txn: false },
      { t: 'pull', till: 0, max: 1, stampFails: false, captureStalled: false },
      { t: 'lose-till-history', till: 1 },
      { t: 'pull', till: 1, max: 1, stampFails: false, captureStalled: true },
      { t: 'push', till: 0, max: 1 },
      { t: 'push', till: 0, max: 1 },
      { t: 'capture', till: 0, max: 1, checkpointIdle: false },
      { t: 'lose-hub-history' },
      { t: 'write', till: 0, c: 'menu', id: 1, kind: 'put', txn: false },
    ],
  },
];

describe('the sync core, model-based (three tills and a hub in memory)', () => {
  for (const { what, steps } of FOUND) {
    it(`keeps every guarantee where ${what}`, () => {
      const violations = runModel(steps);
      assert.ok(violations.length === 0, violations.slice(0, 8).join('\n'));
    });
  }

  it(`keeps every guarantee in ${RUNS} random interleavings of writes, syncs, restarts, lost history and clock skew`, () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 5, maxLength: 80 }), (steps) => {
        const violations = runModel(steps);
        assert.ok(violations.length === 0, violations.slice(0, 8).join('\n'));
      }),
      { numRuns: RUNS },
    );
  });
});
