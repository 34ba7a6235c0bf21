/**
 * The package this code belongs to: the folder of the nearest package.json named xero-scim above this file (one
 * folder up from src/ and dist/, more from the bench's build in bench/results/build/src/), and its version.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

function findPackage(from: string): { root: string; version: string } {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'xero-scim' && pkg.version) return { root: dir, version: pkg.version };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (path.dirname(dir) === dir) return { root: path.join(from, '..'), version: 'unknown' };
  }
}

const found = findPackage(__dirname);
/** Where package.json, openapi/ and the rest of the package lie. */
export const PACKAGE_ROOT: string = found.root;
export const VERSION: string = found.version;
