/**
 * The chaos soak: `npm run soak -- --tills N --minutes M [--seed S] [--faults ...]`.
 * Exits 0 when every invariant held, 1 on any violation (with the seed and the
 * command that replays it), 2 on bad arguments.
 */
import { parseSoakArgs, USAGE, UsageError } from './options.ts';
import { runSoak } from './run.ts';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

let options;
try {
  options = parseSoakArgs(process.argv.slice(2), out);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  process.stderr.write(`soak: ${err.message}\n${USAGE}\n`);
  process.exit(2);
}
const result = await runSoak(options);
process.exit(result.violations.length === 0 ? 0 : 1);
