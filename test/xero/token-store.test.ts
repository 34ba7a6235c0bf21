import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileTokenStore, MemoryTokenStore, type TokenStore, TokenStoreError } from '../../src/xero/tokens';
import { TOKENS, tokenStoreContract } from '../support/token-store-contract';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-tokens-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/** One contract, every implementation (docs/architecture.md, "Tests"); RedisTokenStore runs it with a redis-server. */
describe.each<[string, () => Promise<TokenStore>]>([
  ['MemoryTokenStore', async () => new MemoryTokenStore()],
  ['FileTokenStore', async () => new FileTokenStore(await tempDir())],
])('TokenStore contract: %s', (_name, make) => tokenStoreContract(make));

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
