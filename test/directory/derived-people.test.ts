/**
 * The people a snapshot derives (who each record is, every person's id, each group's summary), saved with the state
 * so that a restart reads them: a snapshot built from saved people must be the snapshot built from the records, and
 * saved people that do not fit the records are derived again.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileSnapshotStore } from '../../src/directory/persistence';
import { type DerivedPeople, type DirectorySnapshot, type TenantData } from '../../src/directory/model';
import { PEOPLE_DERIVATION, buildSnapshot, derivedPeople } from '../../src/directory/snapshot';
import { generateData } from '../../src/sandbox';
import { persistedFrom } from '../support/persisted-directory';

const BUILT_AT = '2026-01-01T00:00:00.000Z';

/** A sandbox directory sorted by organisation id as a saved state holds it, with a record that has no e-mail. */
function directory(): TenantData[] {
  const tenants = [...persistedFrom(generateData({ seed: 'derived-people', organisations: 12, usersPerOrganisation: 9 })).tenants].sort((a, b) =>
    a.organisation.id < b.organisation.id ? -1 : 1,
  );
  const first = tenants[0]!;
  const blank = { ...first.users[0]!, xeroUserId: 'no-email', email: '  ' };
  return [{ ...first, users: [...first.users, blank] }, ...tenants.slice(1)];
}

/** Everything a snapshot serves, as plain values. */
function served(snapshot: DirectorySnapshot): unknown {
  return {
    version: snapshot.version,
    people: [...snapshot.people],
    memberRecords: [...snapshot.memberRecords].map(([id, records]) => [id, [...records]]),
    recordPeople: [...snapshot.recordPeople].map(([id, positions]) => [id, [...positions]]),
    groupSummaries: [...snapshot.groupSummaries],
    roles: snapshot.roles,
  };
}

describe('people saved with a state', () => {
  const tenants = directory();
  const derived = buildSnapshot(tenants, BUILT_AT);
  const people = derivedPeople(derived, tenants)!;

  it('are taken from a snapshot built from the very records saved, under the current derivation', () => {
    expect(people.derivation).toBe(PEOPLE_DERIVATION);
    expect(people.count).toBe(derived.people.length);
    expect(people.positions).toHaveLength(tenants.reduce((n, t) => n + t.users.length, 0));
    expect(people.positions).toContain(-1); // the record without an e-mail
    expect(people.groups).toHaveLength(tenants.length);
  });

  it('build the snapshot the records build', () => {
    expect(served(buildSnapshot(tenants, BUILT_AT, { people }))).toEqual(served(derived));
  });

  // Other ids, still ascending: a build that uses them serves them.
  const renamed: DerivedPeople = { ...people, idAt: (p) => `person-${String(p).padStart(6, '0')}` };

  it('are what the build uses: ids read, not derived again', () => {
    const snapshot = buildSnapshot(tenants, BUILT_AT, { people: renamed });
    expect([...snapshot.people].map((p) => p.id)).toEqual(Array.from({ length: people.count }, (_, p) => renamed.idAt(p)));
    expect([...snapshot.people].map((p) => p.userName)).toEqual([...derived.people].map((p) => p.userName));
  });

  it('are none when the tenants hold other lists of users than the snapshot was built from', () => {
    expect(derivedPeople(derived, tenants.map((t) => ({ ...t, users: [...t.users] })))).toBeUndefined();
    expect(derivedPeople(derived, tenants.slice(1))).toBeUndefined();
  });

  it.each<[string, (p: DerivedPeople) => DerivedPeople]>([
    ['of another derivation', (p) => ({ ...p, derivation: PEOPLE_DERIVATION + 1 })],
    ['of fewer records', (p) => ({ ...p, positions: p.positions.subarray(1) })],
    ['of other organisations', (p) => ({ ...p, groups: p.groups.slice(1) })],
    ['with ids out of order', (p) => ({ ...p, idAt: (k) => p.idAt(p.count - 1 - k) })],
    ['with a position past the last person', (p) => ({ ...p, positions: p.positions.map((x, i) => (i === 0 ? p.count : x)) })],
    ['with a person no record names', (p) => ({ ...p, positions: p.positions.map((x) => (x === p.count - 1 ? 0 : x)) })],
  ])('are derived again when they are %s', (_name, spoil) => {
    // Spoiled from the renamed ids: had the build used them, it would serve those.
    expect(served(buildSnapshot(tenants, BUILT_AT, { people: spoil(renamed) }))).toEqual(served(derived));
  });

  it('travel through STATE_DIR: saved, loaded and built into the same snapshot', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-people-'));
    try {
      const store = new FileSnapshotStore(dir);
      await store.save({ format: 1, savedAt: BUILT_AT, version: derived.version, people, tenants, health: [], organisationsFetchedAt: {} });
      const loaded = (await store.load())!;
      expect(loaded.people).toBeDefined();
      expect(Array.from({ length: loaded.people!.count }, (_, p) => loaded.people!.idAt(p))).toEqual([...derived.people].map((p) => p.id));
      expect([...loaded.people!.positions]).toEqual([...people.positions]);
      expect(served(buildSnapshot(loaded.tenants, loaded.savedAt, { version: loaded.version, people: loaded.people }))).toEqual(served(derived));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('are pinned to PEOPLE_DERIVATION: what the current rules derive from a fixed directory', () => {
    // A change here means the rules that make people changed (e-mail normalising, person ids, their order, group
    // summaries): states saved before would restart with stale people. Bump PEOPLE_DERIVATION and update the digest.
    const organisation = (id: string, name: string) => ({
      id,
      name,
      edition: 'BUSINESS' as const,
      createdAt: '2020-01-01T00:00:00.000Z',
      connectionId: `connection-${id}`,
      tenantType: 'ORGANISATION' as const,
    });
    const user = (organisationId: string, xeroUserId: string, email: string, role: 'STANDARD' | 'READONLY' | 'REMOVED', updatedAt: string) => ({
      organisationId,
      xeroUserId,
      email,
      firstName: `First ${xeroUserId}`,
      lastName: `Last ${xeroUserId}`,
      role,
      isSubscriber: false,
      updatedAt,
    });
    const [a, b] = ['0a0a0a0a-0000-4000-8000-00000000000a', '0b0b0b0b-0000-4000-8000-00000000000b'];
    const fixed: TenantData[] = [
      {
        organisation: organisation(a, 'Alpha'),
        syncedAt: BUILT_AT,
        users: [
          user(a, 'u1', ' Ann.Lee@Example.com', 'STANDARD', '2025-01-01T00:00:00.000Z'),
          user(a, 'u2', 'bob@example.com', 'REMOVED', '2025-02-01T00:00:00.000Z'),
          user(a, 'u3', '', 'READONLY', '2025-03-01T00:00:00.000Z'),
        ],
      },
      {
        organisation: organisation(b, 'Beta'),
        syncedAt: BUILT_AT,
        users: [user(b, 'u9', 'ann.lee@example.com', 'READONLY', '2025-04-01T00:00:00.000Z'), user(b, 'u8', 'cy@example.com', 'STANDARD', '2025-05-01T00:00:00.000Z')],
      },
    ];
    const pinned = derivedPeople(buildSnapshot(fixed, BUILT_AT), fixed)!;
    const hash = createHash('sha256');
    hash.update(Buffer.from(pinned.positions.buffer, pinned.positions.byteOffset, pinned.positions.byteLength));
    for (let p = 0; p < pinned.count; p++) hash.update(`${pinned.idAt(p)}\n`);
    for (const g of pinned.groups) hash.update(`${g.lastModified}\t${g.membersDigest}\n`);
    expect({ derivation: PEOPLE_DERIVATION, digest: hash.digest('base64url') }).toEqual({ derivation: 1, digest: '4CsFOrZ3fNOBfKqkMAWxE7Kh1HaXA3Ero9ebTMZHDZI' });
  });
});
