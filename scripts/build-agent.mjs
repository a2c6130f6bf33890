// Bundles the headless agent into dist/agent/agent.js with esbuild (ESM; node_modules loaded at run
// time, as the Electron main process's bundle does). A till runs this file: no TypeScript loader at
// run time, which on the 2-core build machine kept ~40 MB more resident at rest (111-113 MB from
// source under tsx, 69 MB bundled).
//
// Silent on success: `npm run agent -- --print-systemd-unit > unit` builds first.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the bundle is written. */
export const AGENT_BUNDLE = join(root, 'dist', 'agent', 'agent.js');

/** Builds dist/agent/agent.js from src-main/agent.ts; resolves with its path. */
export async function buildAgent() {
  await build({
    entryPoints: [join(root, 'src-main', 'agent.ts')],
    outfile: AGENT_BUNDLE,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'warning',
  });
  return AGENT_BUNDLE;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await buildAgent();
