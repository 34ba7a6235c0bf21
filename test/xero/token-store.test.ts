import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileTokenStore, MemoryTokenStore, type StoredTokens, type TokenStore, TokenStoreError, fingerprint } from '../../src/xero/tokens';

const TOKENS: StoredTokens = {
  clientId: 'client-1',
  refreshToken: 'refresh-1',
  receivedAt: '2026-11-27T05:00:00.000Z',
  accessToken: 'access-1',
  accessTokenExpiresAt: '2026-11-27T05:30:00.000Z',
  lineage: [fingerprint('refresh-0'), fingerprint('refresh-1')],
};

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-tokens-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** One contract, every implementation (docs/architecture.md, "Tests"). */
describe.each<[string, () => Promise<TokenStore>]>([
  ['MemoryTokenStore', async () => new MemoryTokenStore()],
  ['FileTokenStore', async () => new FileTokenStore(await tempDir())],
])('TokenStore contract: %s', (_name, make) => {
  it('loads nothing before the first save', async () => {
    expect(await (await make()).load()).toBeUndefined();
  });

  it('loads exactly what was saved', async () => {
    const store = await make();
    await store.save(TOKENS);
    expect(await store.load()).toEqual(TOKENS);
  });

  it('replaces the whole set on save (the rotated refresh token wins)', async () => {
    const store = await make();
    await store.save(TOKENS);
    const rotated: StoredTokens = { clientId: 'client-1', refreshToken: 'refresh-2', receivedAt: '2026-11-27T05:10:00.000Z', lineage: ['a'] };
    await store.save(rotated);
    expect(await store.load()).toEqual(rotated);
  });

  it('hands out copies: changing a loaded or saved object does not change the store', async () => {
    const store = await make();
    const saved = { ...TOKENS, lineage: [...TOKENS.lineage] };
    await store.save(saved);
    saved.lineage.push('tampered');
    const loaded = (await store.load()) as unknown as { lineage: string[] };
    loaded.lineage.push('tampered again');
    expect(await store.load()).toEqual(TOKENS);
  });

  it('keeps the last of concurrent saves whole', async () => {
    const store = await make();
    await Promise.all(['r1', 'r2', 'r3'].map((r) => store.save({ ...TOKENS, refreshToken: r })));
    const loaded = await store.load();
    expect(['r1', 'r2', 'r3']).toContain(loaded?.refreshToken);
    expect(loaded).toEqual({ ...TOKENS, refreshToken: loaded?.refreshToken });
  });
});

describe('FileTokenStore on disk (write, fsync, rename in STATE_DIR)', () => {
  it('writes mode 0600 and leaves no temporary file behind', async () => {
    const dir = await tempDir();
    const store = new FileTokenStore(dir);
    await store.save(TOKENS);
    await store.save({ ...TOKENS, refreshToken: 'refresh-2' });
    expect(await fs.readdir(dir)).toEqual(['xero-tokens.json']);
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
  });

  it('creates STATE_DIR when it does not exist yet', async () => {
    const dir = path.join(await tempDir(), 'nested', 'state');
    await new FileTokenStore(dir).save(TOKENS);
    expect(await new FileTokenStore(dir).load()).toEqual(TOKENS);
  });

  it('survives a crash mid-write: a stray temporary file never replaces the token file', async () => {
    const dir = await tempDir();
    const store = new FileTokenStore(dir);
    await store.save(TOKENS);
    await fs.writeFile(path.join(dir, '.xero-tokens.json.abc.tmp'), '{"clientId":"half');
    expect(await store.load()).toEqual(TOKENS);
  });

  it('refuses a corrupt file with an actionable message that shows no content', async () => {
    const dir = await tempDir();
    const store = new FileTokenStore(dir);
    await fs.writeFile(store.file, '{"refreshToken":"secret-value"');
    await expect(store.load()).rejects.toThrow(TokenStoreError);
    await expect(store.load()).rejects.toThrow(/re-run `xero-scim auth`/);
    await expect(store.load()).rejects.not.toThrow(/secret-value/);
  });
});
