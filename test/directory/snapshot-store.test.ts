import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import {
  FileSnapshotStore,
  MemorySnapshotStore,
  type PersistedDirectory,
  type SnapshotStore,
  SnapshotStoreError,
} from '../../src/directory/persistence';
import { decodeStateFile, encodeStateFile } from '../../src/directory/state-file';
import { buildSnapshot, derivedPeople } from '../../src/directory/snapshot';
import type { XeroUserRecord } from '../../src/directory/model';

const ORGANISATION_ID = '5a1c0f3e-8d2b-4c7a-9e61-0b3f2d4c5a6e';
const SECOND_ID = 'b7e2d1c0-9f8e-4d7c-8b6a-5e4d3c2b1a09';
const EMPTY_ID = 'e0e0e0e0-1111-4222-8333-444455556666';

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
    {
      organisation: {
        id: SECOND_ID,
        name: 'Ōtautahi Café — 東京支店 🍵',
        edition: 'BUSINESS',
        createdAt: '2021-03-01T00:00:00.000Z',
        connectionId: 'c0ffee00-0000-4000-8000-000000000002',
        tenantType: 'ORGANISATION',
      },
      users: [
        {
          organisationId: SECOND_ID,
          xeroUserId: 'a1b2c3d4-0000-4000-8000-00000000000a',
          email: 'Priya.Shah@harbourhale.co.uk',
          firstName: 'Priya',
          lastName: 'Shah',
          role: 'STANDARD',
          isSubscriber: false,
          updatedAt: '2026-11-20T09:15:00.000Z',
        },
        {
          organisationId: SECOND_ID,
          xeroUserId: 'a1b2c3d4-0000-4000-8000-00000000000b',
          email: 'zoë.łukasiewicz@kāinga.example',
          firstName: 'Zoë',
          lastName: 'Łukasiewicz-Ōhara 😀',
          role: 'UNKNOWN',
          isSubscriber: true,
          updatedAt: '2026-11-22T23:59:59.999Z',
        },
        {
          organisationId: SECOND_ID,
          xeroUserId: 'a1b2c3d4-0000-4000-8000-00000000000c',
          email: '',
          firstName: '',
          lastName: '',
          role: 'READONLY',
          isSubscriber: false,
          updatedAt: '2026-11-22T23:59:59.999Z',
        },
      ],
      syncedAt: '2026-11-27T04:59:59.000Z',
    },
    {
      organisation: {
        id: EMPTY_ID,
        name: 'Empty Holdings',
        edition: 'PARTNER',
        isDemoCompany: true,
        createdAt: '2020-01-01T00:00:00.000Z',
        connectionId: 'c0ffee00-0000-4000-8000-000000000003',
        tenantType: 'PRACTICE',
      },
      users: [],
      syncedAt: '2026-11-27T05:00:00.000Z',
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
    { organisationId: SECOND_ID, name: 'Ōtautahi Café — 東京支店 🍵', state: 'current', lastSuccessAt: '2026-11-27T04:59:59.000Z', userCount: 3 },
    { organisationId: EMPTY_ID, name: 'Empty Holdings', state: 'stale', lastSuccessAt: '2026-11-27T05:00:00.000Z', userCount: 0 },
    { organisationId: '0d6e2a4b-1c3f-4e5a-8b7d-9f0a1b2c3d4e', state: 'missing' },
  ],
  organisationsFetchedAt: { [ORGANISATION_ID]: '2026-11-27T04:59:57.000Z', [SECOND_ID]: '2026-11-27T04:59:58.500Z' },
  suspicions: {
    [EMPTY_ID]: { reason: 'suspect-empty', since: '2026-11-27T04:00:00.000Z', answers: 2, awaitsOperator: false },
    '0d6e2a4b-1c3f-4e5a-8b7d-9f0a1b2c3d4e': { reason: 'suspect-disconnect', since: '2026-11-27T03:00:00.000Z', answers: 1, awaitsOperator: true, confirmed: true },
  },
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
  it('writes directory.state (format 3 after the XSCIMDIR magic), mode 0600, and leaves no temporary file behind', async () => {
    const dir = await tempDir();
    const store = new FileSnapshotStore(dir);
    await store.save(STATE);
    await store.save({ ...STATE, savedAt: '2026-11-27T05:05:00.000Z' });
    expect(await fs.readdir(dir)).toEqual(['directory.state']);
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
    const bytes = await fs.readFile(store.file);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('XSCIMDIR');
    expect(bytes.readUInt32LE(8)).toBe(3);
  });

  it('removes the temporary file a killed write left, and a save that fails leaves the last state loadable', async () => {
    const dir = await tempDir();
    const store = new FileSnapshotStore(dir);
    await store.save(STATE);
    await fs.writeFile(path.join(dir, '.directory.state.0123456789ab.tmp'), 'half a state');
    const badRole = clone(STATE);
    (badRole.tenants[0]!.users[0] as { role: string }).role = 'OWNER';
    await expect(store.save(badRole)).rejects.toThrow('unknown role "OWNER"');
    expect(await store.load()).toEqual(STATE);
    await store.save({ ...STATE, savedAt: '2026-11-27T05:05:00.000Z' });
    expect(await fs.readdir(dir)).toEqual(['directory.state']);
  });

  it('stores each organisation id and name once however many records share it; ids, e-mails and times where they occur', async () => {
    const dir = await tempDir();
    const store = new FileSnapshotStore(dir);
    const manyUsers = (n: number): PersistedDirectory => {
      const tenant = STATE.tenants[0]!;
      // Two people in turn, so no value repeats the previous record's.
      const users = Array.from({ length: n }, (_, i) => ({ ...tenant.users[i % 2]! }));
      return { ...STATE, tenants: [{ ...tenant, users }] };
    };
    await store.save(manyUsers(2));
    const two = (await fs.stat(store.file)).size;
    await store.save(manyUsers(1002));
    const many = (await fs.stat(store.file)).size;
    // 1,000 more records: six 4-byte string indexes and one role byte each, and no organisation id or name again; the
    // user id, e-mail and time of each record are written with their lengths (4 bytes each).
    const own = (u: XeroUserRecord) => [u.xeroUserId, u.email, u.updatedAt].reduce((n, v) => n + 4 + Buffer.byteLength(v), 0);
    const perPair = own(STATE.tenants[0]!.users[0]!) + own(STATE.tenants[0]!.users[1]!);
    expect(many - two).toBeLessThanOrEqual(1000 * 25 + 500 * perPair + 4);
    const loaded = (await store.load())!.tenants[0]!.users;
    expect(loaded).toHaveLength(1002);
    expect(loaded.slice(1000)).toEqual(STATE.tenants[0]!.users);
  });

  it('encodes a large state in slices, giving the event loop turns, into the same bytes as in one piece', async () => {
    // 300 organisations of 300 distinct people each.
    const tenant = STATE.tenants[0]!;
    const large: PersistedDirectory = {
      ...STATE,
      tenants: Array.from({ length: 300 }, (_, t) => {
        const id = `00000000-0000-4000-8000-${String(t).padStart(12, '0')}`;
        const users = Array.from({ length: 300 }, (_, u) => ({
          ...tenant.users[0]!,
          organisationId: id,
          xeroUserId: `${String(t).padStart(8, '0')}-0000-4000-8000-${String(u).padStart(12, '0')}`,
          email: `person.${t}.${u}@example.com`,
          firstName: `First${u}`,
          lastName: `Last${t}`,
        }));
        return { ...tenant, organisation: { ...tenant.organisation, id, name: `Organisation ${t}` }, users };
      }),
    };
    const whole = await encodeStateFile(large, Number.POSITIVE_INFINITY);

    // Turns of the event loop the encoder gives back, counted by a poller that runs once a turn. Slices of 0 ms: a
    // turn after every step (an organisation's strings, the string table, a piece of the checksum).
    let turns = 0;
    let encoding = true;
    const poll = () => {
      turns += 1;
      if (encoding) setImmediate(poll);
    };
    setImmediate(poll);
    let sliced: Buffer;
    try {
      sliced = await encodeStateFile(large, 0);
    } finally {
      encoding = false;
    }
    expect(sliced.equals(whole)).toBe(true);
    const decoded = decodeStateFile(sliced, 'sliced');
    expect(decoded.tenants.map((t) => t.users.length)).toEqual(large.tenants.map((t) => t.users.length));
    expect(decoded.tenants.at(-1)!.users.at(-1)).toEqual(large.tenants.at(-1)!.users.at(-1));
    // 300 organisations: a step for each in the string table, then the tables and the checksum.
    expect(turns).toBeGreaterThan(300);
  });

  describe('refuses a corrupt file, naming it and the problem', () => {
    /** A saved state's bytes, changed by `damage`; the checksum is recomputed when `reseal` (the damage is then only caught by the bounds checks). */
    async function damaged(damage: (bytes: Buffer) => Buffer, reseal = false): Promise<FileSnapshotStore> {
      const dir = await tempDir();
      const store = new FileSnapshotStore(dir);
      await store.save(STATE);
      const bytes = damage(await fs.readFile(store.file));
      if (reseal) bytes.writeUInt32LE(crc32(bytes.subarray(24)), 12);
      await fs.writeFile(store.file, bytes);
      return store;
    }
    /** Where the six string-index columns start, from the counts after the outline. */
    function columnsAt(bytes: Buffer): { at: number; users: number; strings: number } {
      const outline = bytes.readUInt32LE(24);
      const counts = 24 + ((4 + outline + 3) & ~3);
      const [strings, chunks, users] = [0, 4, 8].map((o) => bytes.readUInt32LE(counts + o)) as [number, number, number];
      return { at: counts + 12 + 8 * chunks + 4 * strings, users, strings };
    }

    it.each<[string, (bytes: Buffer) => Buffer, string]>([
      ['a flipped byte', (b) => (b[b.length - 5]! ^= 0x20, b), 'checksum mismatch: the file is corrupt'],
      ['a truncated file', (b) => b.subarray(0, b.length - 100), 'truncated: '],
      ['a file cut inside its header', (b) => b.subarray(0, 12), 'truncated: 12 bytes, shorter than the 24-byte header'],
      ['wrong magic', (b) => (b.write('NOTSCIM!', 0, 'latin1'), b), 'not a directory state file (no XSCIMDIR magic)'],
      ['a future format number', (b) => (b.writeUInt32LE(4, 8), b), 'directory state format 4, this version reads formats 1, 2 and 3'],
    ])('%s', async (_name, damage, problem) => {
      const store = await damaged(damage);
      await expect(store.load()).rejects.toThrow(SnapshotStoreError);
      await expect(store.load()).rejects.toThrow(`${store.file}: ${problem}`);
    });

    it('a string index out of range, even under a valid checksum', async () => {
      const store = await damaged((b) => {
        const { at, users, strings } = columnsAt(b);
        b.writeUInt32LE(strings + 7, at + 4 * users * 2 + 4); // user 1's email (the third column)
        return b;
      }, true);
      await expect(store.load()).rejects.toThrow(/: user 1: email refers to string \d+ of \d+$/);
    });

    it('a role out of range, even under a valid checksum', async () => {
      const store = await damaged((b) => {
        const { at, users } = columnsAt(b);
        b[at + 4 * users * 6 + 2] = 0x80 | 9; // user 2: subscriber, role 9 of 8
        return b;
      }, true);
      await expect(store.load()).rejects.toThrow(`${store.file}: user 2: role 9 is not one of the 8 roles`);
    });

    it.each<[string, number, RegExp]>([
      ['longer', 1, /: id \d+ runs past the end of the ids$/],
      ['shorter', -1, /: the ids are (\d+) characters, their lengths add up to \d+$/],
    ])('ids whose lengths say the first is %s than it is, even under a valid checksum', async (_name, change, problem) => {
      const dir = await tempDir();
      const store = new FileSnapshotStore(dir);
      const tenants = [...STATE.tenants].sort((a, b) => (a.organisation.id < b.organisation.id ? -1 : 1));
      const people = derivedPeople(buildSnapshot(tenants, STATE.savedAt), tenants)!;
      await store.save({ ...STATE, tenants, people });
      expect((await store.load())!.people!.count).toBe(people.count);
      const bytes = await fs.readFile(store.file);
      const { at, users } = columnsAt(bytes);
      const lengths = at + 4 * users * 6 + ((users + 3) & ~3) + 4 * users; // after the roles and the positions
      bytes.writeUInt32LE(bytes.readUInt32LE(lengths) + change, lengths);
      bytes.writeUInt32LE(crc32(bytes.subarray(24)), 12);
      await fs.writeFile(store.file, bytes);
      await expect(store.load()).rejects.toThrow(problem);
    });

    it('an outline that is not a state of this version, even under a valid checksum', async () => {
      const store = await damaged((b) => {
        const outline = b.subarray(28, 28 + b.readUInt32LE(24));
        const at = outline.indexOf('"edition":"PARTNER"');
        outline.write('"edition":"PARTNEX"', at, 'latin1');
        return b;
      }, true);
      await expect(store.load()).rejects.toThrow(`${store.file}: not a directory state of this version (tenants.0.organisation.edition:`);
    });
  });

  describe('format 1 (directory.json, as older versions wrote it)', () => {
    it('is loaded while there is no directory.state, and the first save replaces it', async () => {
      const dir = await tempDir();
      const store = new FileSnapshotStore(dir);
      await fs.writeFile(store.legacyFile, JSON.stringify(STATE), { mode: 0o600 });
      expect(await store.load()).toEqual(STATE);
      await store.save(await store.load().then((s) => s!));
      expect(await fs.readdir(dir)).toEqual(['directory.state']);
      expect(await new FileSnapshotStore(dir).load()).toEqual(STATE);
    });

    it('is ignored once directory.state exists (a save that stopped before removing it)', async () => {
      const dir = await tempDir();
      const store = new FileSnapshotStore(dir);
      await store.save(STATE);
      await fs.writeFile(store.legacyFile, JSON.stringify({ ...STATE, savedAt: '2020-01-01T00:00:00.000Z' }));
      expect(await store.load()).toEqual(STATE);
    });

    it('is refused when it is not JSON, or not a state of this version, naming the file', async () => {
      const dir = await tempDir();
      const store = new FileSnapshotStore(dir);
      await fs.writeFile(store.legacyFile, '{"format":1,"tenants":[');
      await expect(store.load()).rejects.toThrow(SnapshotStoreError);
      await expect(store.load()).rejects.toThrow(`${store.legacyFile}: not valid JSON`);
      await fs.writeFile(store.legacyFile, JSON.stringify({ ...STATE, format: 2 }));
      await expect(store.load()).rejects.toThrow(`${store.legacyFile}: not a directory state of this version (format:`);
    });
  });
});
