// Bundles the Electron main process and its preload into dist/main/ with esbuild:
// main.js (ESM, node_modules loaded at run time) and preload.cjs (CommonJS, self-contained,
// as a sandboxed preload must be). The packaged app runs these files; no tsx at run time.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'main');
rmSync(outdir, { recursive: true, force: true });

// es2021: private class fields are lowered, so Electronegativity's parser can read the bundle it checks.
const common = { bundle: true, platform: 'node', target: 'es2021', sourcemap: 'linked', logLevel: 'warning', legalComments: 'none' };

await build({
  ...common,
  entryPoints: [join(root, 'src-main', 'app', 'electron-main.ts')],
  outfile: join(outdir, 'main.js'),
  format: 'esm',
  // Dependencies ship in the app's node_modules (electron-builder packs them), so only our code is bundled.
  packages: 'external',
});

await build({
  ...common,
  entryPoints: [join(root, 'src-main', 'app', 'preload.ts')],
  outfile: join(outdir, 'preload.cjs'),
  format: 'cjs',
  external: ['electron'],
});

console.log('built dist/main/main.js and dist/main/preload.cjs');
