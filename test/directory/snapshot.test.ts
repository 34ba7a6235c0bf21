import { buildSnapshot, grantableRoles, idOrder } from '../../src/directory/snapshot';
import { membersOf, membershipsOf, personWithId, personWithUserName } from '../support/snapshot-objects';
import fc from 'fast-check';
import { personId, roleId, uuidV5 } from '../../src/directory/ids';
import type { Organisation, TenantData, XeroUserRecord } from '../../src/directory/model';

const ACME = 'aaaaaaaa-0000-4000-8000-000000000001';
const PRACTICE = 'bbbbbbbb-0000-4000-8000-000000000002';

function org(id: string, name: string, edition: 'BUSINESS' | 'PARTNER' = 'BUSINESS'): Organisation {
  return { id, name, edition, createdAt: '2020-01-01T00:00:00.000Z', connectionId: `conn-${id}`, tenantType: 'ORGANISATION' };
}

function user(organisationId: string, xeroUserId: string, email: string, role: XeroUserRecord['role'], updatedAt: string, first = 'Ann', last = 'Lee'): XeroUserRecord {
  return { organisationId, xeroUserId, email, firstName: first, lastName: last, role, isSubscriber: false, updatedAt };
}

const tenants: TenantData[] = [
  {
    organisation: org(ACME, 'Acme Ltd'),
    syncedAt: '2026-01-01T00:00:00.000Z',
    users: [
      user(ACME, 'u1', 'Ann.Lee@Example.com', 'STANDARD', '2025-01-01T00:00:00.000Z', 'Ann', 'Lee'),
      user(ACME, 'u2', 'bob@example.com', 'REMOVED', '2025-02-01T00:00:00.000Z', 'Bob', 'Ray'),
      user(ACME, 'u3', 'cy@example.com', 'UNKNOWN', '2025-03-01T00:00:00.000Z', 'Cy', 'Ng'),
    ],
  },
  {
    organisation: org(PRACTICE, 'Lee & Co', 'PARTNER'),
    syncedAt: '2026-01-01T00:00:00.000Z',
    users: [user(PRACTICE, 'p1', 'ann.lee@example.com ', 'MANAGEDCLIENT', '2025-06-01T00:00:00.000Z', 'Annie', 'Lee')],
  },
];

describe('directory snapshot', () => {
  const snapshot = buildSnapshot(tenants, '2026-01-01T00:00:00.000Z');

  it('merges people across organisations by case-insensitive, trimmed e-mail', () => {
    const ann = personWithUserName(snapshot, 'ann.lee@example.com');
    expect(ann).toBeDefined();
    expect(ann!.records.map((r) => `${r.organisationId}/${r.xeroUserId}`)).toEqual([`${ACME}/u1`, `${PRACTICE}/p1`]);
    expect(snapshot.people).toHaveLength(3);
  });

  it('takes the name and e-mail spelling from the most recently updated record', () => {
    const ann = personWithUserName(snapshot, 'ann.lee@example.com')!;
    expect(ann.givenName).toBe('Annie');
    expect(ann.email).toBe('ann.lee@example.com');
    expect(ann.createdAt).toBe('2025-01-01T00:00:00.000Z');
    expect(ann.lastModified).toBe('2025-06-01T00:00:00.000Z');
  });

  it('derives stable ids from the e-mail, not from Xero UserIDs', () => {
    expect(personWithUserName(snapshot, 'bob@example.com')!.id).toBe(personId('BOB@example.com'));
    expect(personId('x@example.com')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('computes RFC 4122 version-5 UUIDs (the RFC test vector)', () => {
    // Python: uuid.uuid5(uuid.NAMESPACE_DNS, 'python.org')
    expect(uuidV5('python.org', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe('886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });

  it('keeps a person whose only record is REMOVED, inactive, with no group and no role', () => {
    const bob = personWithUserName(snapshot, 'bob@example.com')!;
    expect(bob.active).toBe(false);
    expect(membersOf(snapshot, ACME).map((m) => m.person.userName)).not.toContain('bob@example.com');
    expect(snapshot.roles.flatMap((r) => r.memberIds)).not.toContain(bob.id);
  });

  it('treats UNKNOWN as a membership without a role', () => {
    const cy = personWithUserName(snapshot, 'cy@example.com')!;
    expect(cy.active).toBe(true);
    expect(membersOf(snapshot, ACME).map((m) => m.person.id)).toContain(cy.id);
    expect(snapshot.roles.flatMap((r) => r.memberIds)).not.toContain(cy.id);
  });

  it('lists every role an organisation can grant, Partner-only roles only in Partner edition', () => {
    expect(snapshot.rolesByOrganisation.get(ACME)!.map((r) => r.code)).toEqual(['READONLY', 'INVOICEONLY', 'STANDARD', 'FINANCIALADVISER']);
    expect(grantableRoles(org(PRACTICE, 'p', 'PARTNER'))).toContain('CASHBOOKCLIENT');
    const managed = snapshot.roleById.get(roleId(PRACTICE, 'MANAGEDCLIENT'))!;
    expect(managed.displayName).toBe('Lee & Co — Managed client');
    expect(managed.memberIds).toEqual([personId('ann.lee@example.com')]);
  });

  it('tells roles of two organisations with the same name apart, since IGA tools key roles by display name', () => {
    const twin = (id: string, shortCode: string): TenantData => ({
      organisation: { ...org(id, 'Acme Ltd'), shortCode },
      syncedAt: '2026-01-01T00:00:00.000Z',
      users: [user(id, `u-${id}`, `${shortCode}@example.com`, 'STANDARD', '2025-01-01T00:00:00.000Z')],
    });
    const twins = buildSnapshot([twin(ACME, '!a1'), twin(PRACTICE, '!b2')], '2026-01-01T00:00:00.000Z');
    const standard = twins.roles.filter((r) => r.code === 'STANDARD').map((r) => r.displayName).sort();
    expect(standard).toEqual(['Acme Ltd (!a1) — Standard', 'Acme Ltd (!b2) — Standard']);
    expect(snapshot.roleById.get(roleId(ACME, 'STANDARD'))!.displayName).toBe('Acme Ltd — Standard');
  });

  it('indexes memberships by organisation and Xero UserID', () => {
    expect(membershipsOf(snapshot, PRACTICE).find((m) => m.record.xeroUserId === 'p1')!.person.userName).toBe('ann.lee@example.com');
    expect(membershipsOf(snapshot, ACME).find((m) => m.record.xeroUserId === 'u2')!.record.role).toBe('REMOVED');
  });

  it('has a content version that ignores fetch times and input order but not content', () => {
    const again = buildSnapshot([...tenants].reverse().map((t) => ({ ...t, syncedAt: '2027-01-01T00:00:00.000Z', users: [...t.users].reverse() })), '2027-01-01T00:00:00.000Z');
    expect(again.version).toBe(snapshot.version);
    const changed = buildSnapshot([{ ...tenants[0]!, users: tenants[0]!.users.slice(1) }, tenants[1]!], '2026-01-01T00:00:00.000Z');
    expect(changed.version).not.toBe(snapshot.version);
  });
});

describe('ordering and finding people by id', () => {
  const snapshot = buildSnapshot(tenants, '2026-01-01T00:00:00.000Z');
  const plainSort = (ids: readonly string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

  it('orders ids exactly as a code-unit comparison does: hex UUIDs, ids sharing a prefix, and ids of any other shape', () => {
    const hex = fc.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}$/);
    const sharedPrefix = fc.tuple(fc.constantFrom('00000000', 'ffffffff', '0000000a'), fc.stringMatching(/^[-0-9a-f]{0,6}$/)).map(([p, rest]) => p + rest);
    const anything = fc.string({ maxLength: 10 });
    for (const ids of [hex, sharedPrefix, fc.oneof(hex, anything)]) {
      fc.assert(
        fc.property(fc.array(ids, { maxLength: 300 }), (list) => {
          expect(Array.from(idOrder(list), (i) => list[i])).toEqual(plainSort(list));
        }),
        { numRuns: 200 },
      );
    }
  });

  it('finds every person by id, and no one for an unknown or differently-cased id', () => {
    const people = [...snapshot.people];
    for (const person of people) expect(personWithId(snapshot, person.id)).toEqual(person);
    expect(personWithId(snapshot, people[0]!.id.toUpperCase())).toBeUndefined();
    expect(personWithId(snapshot, '')).toBeUndefined();
    expect(personWithId(snapshot, 'ffffffff-ffff-5fff-bfff-ffffffffffff')).toBeUndefined();
  });

  it('holds people as columns that agree with the people made from them, and knows each record\'s person', () => {
    const { people } = snapshot;
    for (let p = 0; p < people.length; p++) {
      const person = people.at(p);
      expect(people.idAt(p)).toBe(person.id);
      expect(people.positionOf(person.id)).toBe(p);
      expect(people.userNameAt(p)).toBe(person.userName);
      expect(people.emailAt(p)).toBe(person.email);
      expect(people.isActive(p)).toBe(person.active);
      expect(people.recordCount(p)).toBe(person.records.length);
      for (const record of person.records) expect(people.ownerOf(people.records.indexOf(record))).toBe(p);
    }
    expect(people.activeCount()).toBe([...people].filter((p) => p.active).length);
    // Ann is in both organisations; her e-mail and names come from her newest record (Lee & Co's, trimmed).
    expect(personWithUserName(snapshot, 'ANN.LEE@example.com ')).toMatchObject({ email: 'ann.lee@example.com', givenName: 'Annie', createdAt: '2025-01-01T00:00:00.000Z', lastModified: '2025-06-01T00:00:00.000Z' });
    const withoutEmail = buildSnapshot([{ ...tenants[0]!, users: [...tenants[0]!.users, user(ACME, 'u4', '  ', 'STANDARD', '2025-01-01T00:00:00.000Z')] }], 'T');
    expect(Array.from(withoutEmail.recordPeople.get(ACME)!, (p) => (p === -1 ? undefined : withoutEmail.people.idAt(p)))).toEqual([
      personId('ann.lee@example.com'),
      personId('bob@example.com'),
      personId('cy@example.com'),
      undefined,
    ]);
  });

  it("lists an organisation's memberships by Xero UserID, REMOVED ones included, and none of an unknown organisation", () => {
    const acme = membershipsOf(snapshot, ACME);
    expect(acme.map((m) => m.record.xeroUserId)).toEqual(plainSort(acme.map((m) => m.record.xeroUserId)));
    expect(acme.some((m) => m.record.role === 'REMOVED')).toBe(true);
    expect(membershipsOf(snapshot, 'nope')).toEqual([]);
  });
});

describe('memberships as Xero lists them', () => {
  const at = '2025-01-01T00:00:00.000Z';
  const people = ['d@example.com', 'a@example.com', 'c@example.com', 'b@example.com'];
  const acmeUsers = people.map((email, i) => user(ACME, `u${i}`, email, i % 2 ? 'STANDARD' : 'READONLY', at));
  const snapshot = buildSnapshot(
    [
      { organisation: org(ACME, 'Acme Ltd'), syncedAt: at, users: [...acmeUsers, user(ACME, 'u9', 'B@Example.com', 'STANDARD', at), user(ACME, 'u8', 'b@example.com', 'READONLY', at)] },
      // A record naming another organisation than the one it came with joins the one it names.
      { organisation: org(PRACTICE, 'Lee & Co', 'PARTNER'), syncedAt: at, users: [user(ACME, 'p1', 'e@example.com', 'STANDARD', at)] },
    ],
    at,
  );

  it("orders each organisation's members by person id, then Xero UserID, whatever order Xero sent them in", () => {
    const members = membersOf(snapshot, ACME);
    const keys = members.map((m) => `${m.person.id}/${m.record.xeroUserId}`);
    expect(keys).toEqual([...keys].sort());
    expect(members.filter((m) => m.person.userName === 'b@example.com').map((m) => m.record.xeroUserId)).toEqual(['u3', 'u8', 'u9']);
    expect(members.map((m) => m.person.userName)).toContain('e@example.com');
    expect(membersOf(snapshot, PRACTICE)).toEqual([]);
  });

  it("lists each role's holders in person id order", () => {
    for (const role of snapshot.roles) expect(role.memberIds).toEqual([...role.memberIds].sort());
    const standard = snapshot.rolesByOrganisation.get(ACME)!.find((r) => r.code === 'STANDARD')!;
    expect(standard.memberIds).toHaveLength(4);
  });
});
