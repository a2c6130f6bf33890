/**
 * A short seeded chaos soak (about a minute of traffic, two tills): every
 * invariant of `npm run soak` holds. The full runner is `npm run soak`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replayCommand, type FaultKind, type SoakOptions } from './options.ts';
import { runSoak } from './run.ts';

/**
 * Every fault `npm run soak` knows (truncate: lost change-stream history,
 * answered by reconciliation; skew: one till's server clock 10 minutes fast;
 * drop: every client connection closed by the server; slow-link: a till's line
 * to the hub at 30–200 ms round trips).
 */
export const SOAK_TEST_FAULTS: FaultKind[] = ['kill', 'restart', 'partition', 'truncate', 'skew', 'drop', 'slow-link'];

const SEED = Number(process.env.SOAK_SEED ?? 7);

describe('chaos soak', () => {
  it(
    `a one-minute run with two tills and faults ${SOAK_TEST_FAULTS.join(', ')} keeps every invariant (seed ${SEED})`,
    { timeout: 8 * 60_000 },
    async () => {
      const lines: string[] = [];
      const options: SoakOptions = {
        tills: 2,
        minutes: 1,
        seed: SEED,
        faults: SOAK_TEST_FAULTS,
        settleSeconds: 120,
        keep: false,
        out: (line) => lines.push(line),
      };
      const result = await runSoak(options);
      assert.deepEqual(
        result.violations,
        [],
        `the soak found ${result.violations.length} violation(s); replay with ${replayCommand(options)}\n${result.lines.join('\n')}`,
      );
    },
  );
});
