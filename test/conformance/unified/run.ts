/**
 * Runs MongoDB's unified specification tests against the MongoDB the test
 * harness provides (the emulator, or a mongod when MONGOMS_SYSTEM_BINARY or
 * MONGODB_TEST_URI is set) and prints what passed, failed and was skipped.
 * The spec files are not part of this repository; point it at a checkout:
 *
 *   npx tsx test/conformance/unified/run.ts <dir-or-file.json>... [--only <text>] [--verbose] [--json FILE]
 *
 * e.g. <specifications>/source/transactions/tests/unified. Exits 1 if any test failed.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { startReplSet } from '../../harness/replset.ts';
import { runFile, type TestResult } from './runner.ts';

const { values, positionals } = parseArgs({
  options: { only: { type: 'string' }, verbose: { type: 'boolean', default: false }, json: { type: 'string' } },
  allowPositionals: true,
});

if (positionals.length === 0) {
  process.stderr.write('usage: npx tsx test/conformance/unified/run.ts <dir-or-file.json>... [--only <text>] [--verbose] [--json FILE]\n');
  process.exit(2);
}

function jsonFiles(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) =>
      name.endsWith('.json') ? [join(path, name)] : statSync(join(path, name)).isDirectory() ? jsonFiles(join(path, name)) : [],
    );
}

const rs = await startReplSet();
const internal = await rs.connect();
const build = await internal.db('admin').command({ buildInfo: 1 });
const server = { uri: rs.uri, version: (build.versionArray as number[]).slice(0, 3), internal };
const results: TestResult[] = [];
try {
  for (const root of positionals) {
    for (const file of jsonFiles(root)) {
      const name = relative(process.cwd(), file);
      const fileResults = await runFile(server, name, readFileSync(file, 'utf8'), values.only);
      results.push(...fileResults);
      const count = (s: string): number => fileResults.filter((r) => r.outcome.status === s).length;
      process.stdout.write(`${name}: ${count('pass')} passed, ${count('fail')} failed, ${count('skip')} skipped\n`);
      for (const r of fileResults) {
        if (r.outcome.status === 'fail') process.stdout.write(`  ✖ ${r.test}\n      ${r.outcome.reason.split('\n')[0]}\n`);
        else if (values.verbose && r.outcome.status === 'skip') process.stdout.write(`  - ${r.test}: ${r.outcome.reason}\n`);
      }
    }
  }
} finally {
  await internal.close();
  await rs.stop();
}
const total = (s: string): number => results.filter((r) => r.outcome.status === s).length;
const runnerSkips = results.filter((r) => r.outcome.status === 'skip' && r.outcome.reason.startsWith('runner:')).length;
process.stdout.write(
  `\n${results.length} tests: ${total('pass')} passed, ${total('fail')} failed, ${total('skip')} skipped ` +
    `(${runnerSkips} for features this runner lacks, ${total('skip') - runnerSkips} not for an 8.0 replica set)\n`,
);
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
process.exit(total('fail') > 0 ? 1 : 0);
