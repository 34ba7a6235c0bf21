/**
 * The package's version, from the nearest package.json named xero-scim above this file: one folder up from src/
 * and dist/, more from the bench's build (bench/results/build/src/).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

function packageVersion(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'xero-scim' && pkg.version) return pkg.version;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (path.dirname(dir) === dir) return 'unknown';
  }
}

export const VERSION: string = packageVersion(__dirname);
