import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  FileSnapshotStore,
  MemorySnapshotStore,
  type PersistedDirectory,
  type SnapshotStore,
  SnapshotStoreError,
} from '../../src/directory/persistence';

const ORGANISATION_ID = '5a1c0f3e-8d2b-4c7a-9e61-0b3f2d4c5a6e';

const STATE: PersistedDirectory = {
  format: 1,
  savedAt: '2026-11-27T05:00:00.000Z',
  tenants: [
    {
      organisation: {
        id: ORGANISATION_ID,
        name: 'Harbour & Hale Ltd',
        legalName: 'Harbour & Hale Limited',
        shortCode: '!kT9pQ',
        organisationType: 'ACCOUNTING_PRACTICE',
        countryCode: 'GB',
        baseCurrency: 'GBP',
        version: 'UK',
        edition: 'PARTNER',
        class: 'PREMIUM',
        status: 'ACTIVE',
        isDemoCompany: false,
        timezone: 'GMTSTANDARDTIME',
        createdAt: '2019-12-07T18:46:19.516Z',
        connectionId: '7cb59f93-2b8c-4d1a-a2e5-3f6c9d8e1b20',
        tenantType: 'PRACTICE',
      },
      users: [
        {
          organisationId: ORGANISATION_ID,
          xeroUserId: '3c37ef1d-cd49-4589-9787-3c418ed8b6ac',
          email: 'Priya.Shah@harbourhale.co.uk',
          firstName: 'Priya',
          lastName: 'Shah',
          role: 'FINANCIALADVISER',
          isSubscriber: true,
          updatedAt: '2026-11-20T09:15:00.000Z',
        },
        {
          organisationId: ORGANISATION_ID,
          xeroUserId: '9b2e4f61-7a3d-4c85-b1e0-6d5f8a2c4e17',
          email: 'oliver.bennett@harbourhale.co.uk',
          firstName: 'Oliver',
          lastName: 'Bennett',
          role: 'REMOVED',
          isSubscriber: false,
          updatedAt: '2026-11-21T10:00:00.000Z',
        },
      ],
      syncedAt: '2026-11-27T04:59:58.000Z',
    },
  ],
  health: [
    {
      organisationId: ORGANISATION_ID,
      name: 'Harbour & Hale Ltd',
      state: 'stale',
      lastSuccessAt: '2026-11-27T04:59:58.000Z',
      lastAttemptAt: '2026-11-27T05:04:58.000Z',
      lastError: { code: 'XERO_SERVER_ERROR', message: 'GET Users: 503 unavailable', at: '2026-11-27T05:04:58.000Z' },
      userCount: 2,
      rateBudget: { minuteRemaining: 58, dayRemaining: 4990 },
    },
    { organisationId: '0d6e2a4b-1c3f-4e5a-8b7d-9f0a1b2c3d4e', state: 'missing' },
  ],
  organisationsFetchedAt: { [ORGANISATION_ID]: '2026-11-27T04:59:57.000Z' },
};

const clone = (state: PersistedDirectory): PersistedDirectory => JSON.parse(JSON.stringify(state)) as PersistedDirectory;

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-snapshots-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

/**
 * An implementation under test: `store`, and `reopen()` for a second handle on the same storage, as a restarted
 * process (or another replica) gets. A store that lives in one process returns itself.
 */
interface Subject {
  store: SnapshotStore;
  reopen(): SnapshotStore;
}

/** One contract, every implementation (docs/architecture.md, "Tests"): a new store joins this list. */
describe.each<[string, () => Promise<Subject>]>([
  [
    'MemorySnapshotStore',
    async () => {
      const store = new MemorySnapshotStore();
      return { store, reopen: () => store };
    },
  ],
  [
    'FileSnapshotStore',
    async () => {
      const dir = await tempDir();
      return { store: new FileSnapshotStore(dir), reopen: () => new FileSnapshotStore(dir) };
    },
  ],
])('SnapshotStore contract: %s', (_name, make) => {
  it('loads nothing before the first save', async () => {
    expect(await (await make()).store.load()).toBeUndefined();
  });

  it('loads exactly what was saved, organisation details, users, health and fetch times included', async () => {
    const { store } = await make();
    await store.save(STATE);
    expect(await store.load()).toEqual(STATE);
  });

  it('gives what was saved to the next holder of the same storage (a restart)', async () => {
    const subject = await make();
    await subject.store.save(STATE);
    expect(await subject.reopen().load()).toEqual(STATE);
  });

  it('replaces the whole state on save: an organisation no longer connected is gone', async () => {
    const { store } = await make();
    await store.save(STATE);
    const next: PersistedDirectory = { format: 1, savedAt: '2026-11-27T05:10:00.000Z', tenants: [], health: [], organisationsFetchedAt: {} };
    await store.save(next);
    expect(await store.load()).toEqual(next);
  });

  it('hands out copies: changing a saved or loaded object does not change the store', async () => {
    const { store } = await make();
    const saved = clone(STATE);
    await store.save(saved);
    (saved.tenants[0]!.users as unknown[]).pop();
    const loaded = (await store.load())!;
    (loaded.health as unknown[]).pop();
    expect(await store.load()).toEqual(STATE);
  });

  it('keeps the last of concurrent saves whole', async () => {
    const { store } = await make();
    const saves = ['05:01', '05:02', '05:03'].map((at) => ({ ...STATE, savedAt: `2026-11-27T${at}:00.000Z` }));
    await Promise.all(saves.map((state) => store.save(state)));
    const loaded = await store.load();
    expect(saves).toContainEqual(loaded);
  });
});

describe('FileSnapshotStore on disk (write, fsync, rename in STATE_DIR)', () => {
  it('writes mode 0600 and leaves no temporary file behind', async () => {
    const dir = await tempDir();
    const store = new FileSnapshotStore(dir);
    await store.save(STATE);
    await store.save({ ...STATE, savedAt: '2026-11-27T05:05:00.000Z' });
    expect(await fs.readdir(dir)).toEqual(['directory.json']);
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
  });

  it('refuses a file that is not JSON, or not a state of this version, naming the file', async () => {
    const dir = await tempDir();
    const store = new FileSnapshotStore(dir);
    await fs.writeFile(store.file, '{"format":1,"tenants":[');
    await expect(store.load()).rejects.toThrow(SnapshotStoreError);
    await expect(store.load()).rejects.toThrow(`${store.file}: not valid JSON`);
    await fs.writeFile(store.file, JSON.stringify({ ...STATE, format: 2 }));
    await expect(store.load()).rejects.toThrow(`${store.file}: not a directory state of this version (format:`);
  });
});
