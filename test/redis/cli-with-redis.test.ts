/**
 * Commands beside replicas (REDIS_URL): `sync` keeps its own token chain in STATE_DIR, so with REDIS_URL set it
 * refuses before touching anything (it would redeem the refresh token the replicas share), naming the variable and
 * never echoing its value.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli';

describe('xero-scim sync with REDIS_URL', () => {
  it('refuses at once, naming REDIS_URL without its password, and writes nothing to STATE_DIR', async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-cli-redis-'));
    try {
      const err: string[] = [];
      const code = await main(['sync'], {
        out: () => undefined,
        err: (t) => err.push(t),
        env: { REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1/0', STATE_DIR: stateDir, XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'secret', XERO_REFRESH_TOKEN: 'rt' },
      });
      expect(code).toBe(2);
      expect(err.join('\n')).toContain('REDIS_URL');
      expect(err.join('\n')).toContain('redeem the Xero refresh token the replicas share');
      expect(err.join('\n')).not.toContain('hunter2');
      expect(readdirSync(stateDir)).toEqual([]);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
