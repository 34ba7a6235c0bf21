/**
 * The corpus: the users and groups exactly as xero-scim rendered them after its sync, one JSON resource a line
 * (`users.ndjson`, `groups.ndjson`). The floor and the SCIMMY reference load it, so all three servers serve the
 * same people, organisations and bytes.
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';

export interface Corpus {
  /** Serialised User resources, in xero-scim's default order (by id). */
  readonly users: readonly string[];
  /** Serialised Group resources, in xero-scim's default order (by id). */
  readonly groups: readonly string[];
}

export function writeCorpus(dir: string, users: Iterable<string | Uint8Array>, groups: Iterable<string | Uint8Array>): void {
  for (const [name, lines] of [
    ['users.ndjson', users],
    ['groups.ndjson', groups],
  ] as const) {
    // One write per line: no 100 MB string is ever built in the server that dumps it.
    const fd = openSync(path.join(dir, name), 'w');
    try {
      for (const line of lines) {
        if (typeof line === 'string') writeSync(fd, `${line}\n`);
        else {
          writeSync(fd, line);
          writeSync(fd, '\n');
        }
      }
    } finally {
      closeSync(fd);
    }
  }
}

export function readCorpus(dir: string): Corpus {
  const lines = (name: string) =>
    readFileSync(path.join(dir, name), 'utf8')
      .split('\n')
      .filter((line) => line.length > 0);
  return { users: lines('users.ndjson'), groups: lines('groups.ndjson') };
}
