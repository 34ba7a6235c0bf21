/**
 * The `TokenStore` contract (docs/architecture.md, "Tests"): what every implementation keeps, run by each one's own
 * test file (`test/xero/token-store.test.ts` for memory and file, `test/redis/token-chain.test.ts` for Redis, which
 * needs a redis-server). `make` answers a new, empty store.
 */
import { type StoredTokens, type TokenStore, fingerprint } from '../../src/xero/tokens';

export const TOKENS: StoredTokens = {
  clientId: 'client-1',
  refreshToken: 'refresh-1',
  receivedAt: '2026-11-27T05:00:00.000Z',
  accessToken: 'access-1',
  accessTokenExpiresAt: '2026-11-27T05:30:00.000Z',
  lineage: [fingerprint('refresh-0'), fingerprint('refresh-1')],
};

export function tokenStoreContract(make: () => Promise<TokenStore>): void {
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
}
