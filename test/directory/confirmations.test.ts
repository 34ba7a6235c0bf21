/** `ConfirmationStore`: one contract suite run against STATE_DIR files and memory. */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ConfirmationStore, FileConfirmationStore, MemoryConfirmationStore } from '../../src/directory/confirmations';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

async function fileStore(): Promise<FileConfirmationStore> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-confirm-'));
  dirs.push(dir);
  return new FileConfirmationStore(dir);
}

describe.each([
  ['STATE_DIR files', fileStore],
  ['memory', async () => new MemoryConfirmationStore()],
] as [string, () => Promise<ConfirmationStore>][])('ConfirmationStore (%s)', (_name, make) => {
  it('has nothing pending at first, and consuming nothing is fine', async () => {
    const store = await make();
    expect(await store.pending()).toEqual([]);
    await store.consume([]);
  });

  it('returns confirmations in the order they were added, tenant ids lower-cased, and consumes exactly those named', async () => {
    const store = await make();
    await store.add({ tenantIds: ['AAAA-1'], at: '2026-11-27T05:00:00.000Z' });
    await store.add({ tenantIds: ['bbbb-2', 'cccc-3'], at: '2026-11-27T05:01:00.000Z' });
    const pending = await store.pending();
    expect(pending.map((p) => p.confirmation)).toEqual([
      { tenantIds: ['aaaa-1'], at: '2026-11-27T05:00:00.000Z' },
      { tenantIds: ['bbbb-2', 'cccc-3'], at: '2026-11-27T05:01:00.000Z' },
    ]);
    await store.add({ tenantIds: ['dddd-4'], at: '2026-11-27T05:02:00.000Z' }); // written while a sync applies the others
    await store.consume(pending.map((p) => p.key));
    expect((await store.pending()).map((p) => p.confirmation.tenantIds)).toEqual([['dddd-4']]);
  });
});

describe('FileConfirmationStore', () => {
  it('writes one file per confirmation in STATE_DIR/confirm-disconnect, mode 0600', async () => {
    const store = await fileStore();
    await store.add({ tenantIds: ['a'], at: '2026-11-27T05:00:00.000Z' });
    const [name] = await fs.readdir(store.dir);
    expect(path.basename(store.dir)).toBe('confirm-disconnect');
    expect(name).toMatch(/^20261127050000000-[0-9a-f]{12}\.json$/);
    expect((await fs.stat(path.join(store.dir, name!))).mode & 0o777).toBe(0o600);
  });

  it('skips (and reports) a file that is not a confirmation, and still returns the others', async () => {
    const store = await fileStore();
    await store.add({ tenantIds: ['a'], at: '2026-11-27T05:00:00.000Z' });
    await fs.writeFile(path.join(store.dir, '0-junk.json'), '{"format":1,');
    await fs.writeFile(path.join(store.dir, '1-empty.json'), '{"format":1,"tenantIds":[],"at":"x"}');
    const unreadable: string[] = [];
    const pending = await store.pending((key) => unreadable.push(key));
    expect(pending.map((p) => p.confirmation.tenantIds)).toEqual([['a']]);
    expect(unreadable).toEqual(['0-junk.json', '1-empty.json']);
  });
});
