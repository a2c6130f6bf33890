/**
 * Versions for property tests of how the till stores them: every version
 * encodeVersion makes (walls near zero, today's, either side of 2^47 ms and
 * up to the largest; odd device ids and a till's default ones), and strings
 * that are not one (nearly-versions among them).
 */
import fc from 'fast-check';
import { decodeVersion, encodeVersion, MAX_COUNTER, MAX_WALL } from '../../src-main/sync/core/hlc.ts';

const wallArb = fc.oneof(
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 1_700_000_000_000, max: 2_000_000_000_000 }),
  fc.integer({ min: 2 ** 47 - 2, max: 2 ** 47 + 1 }),
  fc.integer({ min: MAX_WALL - 2, max: MAX_WALL }),
  fc.integer({ min: 0, max: MAX_WALL }),
);
const deviceArb = fc.oneof(
  fc.constantFrom('a', '-', '_', 'till-1', 'TILL_2', 'x'.repeat(64)),
  fc.stringMatching(/^till-[0-9a-f]{8}$/),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
);
const counterArb = fc.oneof(fc.constantFrom(0, 1, MAX_COUNTER), fc.integer({ min: 0, max: MAX_COUNTER }));

/** A version as encodeVersion writes it. */
export const versionArb: fc.Arbitrary<string> = fc.record({ wall: wallArb, counter: counterArb, device: deviceArb }).map(encodeVersion);

/** Whether `s` is a version exactly as encodeVersion writes it. */
export function isVersion(s: string): boolean {
  try {
    return encodeVersion(decodeVersion(s)) === s;
  } catch {
    return false;
  }
}

/** A string that is not a version as encodeVersion writes it: any string, and near misses. */
export const notVersionArb: fc.Arbitrary<string> = fc
  .oneof(
    fc.string(),
    versionArb.map((v) => v.toUpperCase()),
    versionArb.map((v) => `0${v}`),
    versionArb.map((v) => v.replace('.', '')),
    versionArb.map((v) => `${v}.x`),
    versionArb.map((v) => `${v}!`),
    versionArb.map((v) => `${v.slice(0, 18)}${'d'.repeat(65)}`),
    versionArb.map((v) => v.slice(0, 18)),
    fc.constantFrom('', '0005', 'v1', '0194c5a00000.0000.', '0194c5a00000.0000.till 1', '0194c5a00000.0000.tïll-1'),
  )
  .filter((s) => !isVersion(s));
