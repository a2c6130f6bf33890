/**
 * The soak's command line: `npm run soak -- --tills N --minutes M [--seed S]
 * [--faults kill,restart,partition,truncate,skew,drop,slow-link] [--settle-seconds S] [--dir DIR] [--keep]`.
 */
import { parseArgs } from 'node:util';

export const FAULT_KINDS = ['kill', 'restart', 'partition', 'truncate', 'skew', 'drop', 'slow-link'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface SoakOptions {
  tills: number;
  /** Minutes of traffic and chaos (fractions allowed). */
  minutes: number;
  seed: number;
  faults: FaultKind[];
  /** How long the healed system may take to converge before that counts as a violation. */
  settleSeconds: number;
  /** Where data, logs and the write journal go; a fresh temporary directory when absent. */
  dir?: string;
  /** Keep the run directory even when the run passes. */
  keep: boolean;
  /** Progress lines and the summary go here (the test passes a collector). */
  out: (line: string) => void;
}

export const USAGE =
  'usage: npm run soak -- --tills N --minutes M [--seed S] [--faults kill,restart,partition,truncate,skew,drop,slow-link] [--settle-seconds S] [--dir DIR] [--keep]';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function parseFaults(text: string): FaultKind[] {
  if (text.trim() === '' || text === 'none') return [];
  if (text === 'all') return [...FAULT_KINDS];
  const faults = text.split(',').map((f) => f.trim());
  for (const f of faults) {
    if (!(FAULT_KINDS as readonly string[]).includes(f))
      throw new UsageError(`unknown fault "${f}"; expected some of ${FAULT_KINDS.join(',')} (or all, none)`);
  }
  return [...new Set(faults)] as FaultKind[];
}

export function parseSoakArgs(argv: string[], out: (line: string) => void): SoakOptions {
  let values;
  try {
    values = parseArgs({
      args: argv,
      options: {
        tills: { type: 'string', default: '2' },
        minutes: { type: 'string', default: '1' },
        seed: { type: 'string' },
        faults: { type: 'string', default: 'all' },
        'settle-seconds': { type: 'string', default: '120' },
        dir: { type: 'string' },
        keep: { type: 'boolean', default: false },
      },
      strict: true,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const tills = Number(values.tills);
  if (!Number.isInteger(tills) || tills < 1 || tills > 16)
    throw new UsageError(`--tills must be a whole number from 1 to 16; got "${values.tills}"`);
  const minutes = Number(values.minutes);
  if (!Number.isFinite(minutes) || minutes <= 0) throw new UsageError(`--minutes must be a number above 0; got "${values.minutes}"`);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 1_000_000) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`--seed must be a whole number of at least 0; got "${values.seed}"`);
  const settleSeconds = Number(values['settle-seconds']);
  if (!Number.isFinite(settleSeconds) || settleSeconds <= 0)
    throw new UsageError(`--settle-seconds must be a number above 0; got "${values['settle-seconds']}"`);
  return { tills, minutes, seed, faults: parseFaults(values.faults), settleSeconds, dir: values.dir, keep: values.keep, out };
}

/** The command that runs the same soak again. */
export function replayCommand(o: Pick<SoakOptions, 'tills' | 'minutes' | 'seed' | 'faults'>): string {
  const faults = o.faults.length === FAULT_KINDS.length ? '' : ` --faults ${o.faults.join(',') || 'none'}`;
  return `npm run soak -- --tills ${o.tills} --minutes ${o.minutes} --seed ${o.seed}${faults}`;
}
