// Runs Electronegativity (Electron security checks) over the app's main-process
// sources and the built main bundle, and fails when it finds anything of HIGH
// severity. Works offline (it only warns that it cannot fetch Electron's release list).
//   node scripts/electronegativity.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const electronVersion = JSON.parse(readFileSync(join(root, 'node_modules', 'electron', 'package.json'), 'utf8')).version;
const cli = join(root, 'node_modules', '@doyensec', 'electronegativity', 'dist', 'index.js');

if (!existsSync(join(root, 'dist', 'main', 'main.js'))) {
  const built = spawnSync(process.execPath, [join(root, 'scripts', 'build-main.mjs')], { stdio: 'inherit' });
  if (built.status !== 0) process.exit(built.status ?? 1);
}

const work = mkdtempSync(join(tmpdir(), 'electronegativity-'));
let high = 0;
try {
  for (const input of ['src-main/app', 'dist/main']) {
    const csv = join(work, `${input.replace(/\W/g, '_')}.csv`);
    const run = spawnSync(process.execPath, [cli, '-i', join(root, input), '-r', '-v', 'false', '-e', electronVersion, '-o', csv], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    if (run.status !== 0 || !existsSync(csv)) {
      console.error(`electronegativity could not check ${input}:\n${run.stdout}${run.stderr}`);
      process.exit(1);
    }
    const findings = readFileSync(csv, 'utf8').trim().split('\n').slice(1).filter(Boolean);
    const highs = findings.filter((line) => line.split(',')[1] === '"HIGH"');
    high += highs.length;
    console.log(`electronegativity ${input}: ${findings.length} findings, ${highs.length} high`);
    for (const line of findings) console.log(`  ${line.split(',').slice(0, 5).join(' ')}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (high > 0) {
  console.error(`electronegativity: ${high} high-severity findings; fix them (see the wiki links above).`);
  process.exit(1);
}
