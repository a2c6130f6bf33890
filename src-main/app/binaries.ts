/**
 * Where the two programs the desktop app needs are: the Electron binary and
 * a mongod. Both normally download on first install/start; on a machine
 * without internet they may be missing, and `npm start` says so before it
 * tries anything. Looking never downloads.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

export interface Found {
  path: string;
}
export interface Missing {
  /** Plain words: what was looked for and where. */
  problem: string;
}
export type Lookup = Found | Missing;

export function isFound(lookup: Lookup): lookup is Found {
  return 'path' in lookup;
}

/** The Electron binary `npm install` downloads into node_modules/electron/dist. */
export function findElectron(): Lookup {
  let path: unknown;
  try {
    // The electron package's main module throws when its download never happened.
    path = createRequire(import.meta.url)('electron');
  } catch {
    return { problem: 'the Electron program was never downloaded (node_modules/electron has no dist folder)' };
  }
  if (typeof path !== 'string' || !existsSync(path)) return { problem: 'the Electron program is missing from node_modules/electron/dist' };
  return { path };
}

/**
 * A mongod: the one packaged with the app (`resourcesDir/mongod/`), else
 * `MONGOMS_SYSTEM_BINARY`, else mongodb-memory-server's download cache.
 */
export async function findMongod(resourcesDir?: string): Promise<Lookup> {
  if (resourcesDir) {
    const packaged = join(resourcesDir, 'mongod', process.platform === 'win32' ? 'mongod.exe' : 'mongod');
    if (existsSync(packaged)) return { path: packaged };
  }
  const system = process.env.MONGOMS_SYSTEM_BINARY;
  if (system) {
    return existsSync(system) ? { path: system } : { problem: `MONGOMS_SYSTEM_BINARY is set, but there is no file at ${system}` };
  }
  try {
    const { DryMongoBinary } = await import('mongodb-memory-server-core');
    const options = DryMongoBinary.getEnsuredOptions();
    const path = await DryMongoBinary.locateBinary(options);
    if (path && existsSync(path)) return { path };
    return { problem: `no mongod ${options.version} has been downloaded yet (and MONGOMS_SYSTEM_BINARY is not set)` };
  } catch (err) {
    return { problem: `no mongod could be found (${(err as Error).message})` };
  }
}
