/**
 * The query planner answers the lookups pollers send from indexes, and never changes a result: the candidates
 * it returns always include every resource the filter matches.
 */
import { itemsOf } from '../../src/scim/resource-set';
import fc from 'fast-check';
import { personId } from '../../src/directory/ids';
import { compileFilter, parseFilter } from '../../src/scim/filter';
import { plan } from '../../src/scim/query/plan';
import { joinedBody, listResources } from '../../src/scim/query/search';
import { membersOf } from '../support/snapshot-objects';
import { ViewCache } from '../../src/scim/views';
import type { ResourceTypeName } from '../../src/scim/schemas';
import { BASE, generatedTenants, snapshotOf } from '../http/fixtures';

const snapshot = snapshotOf(generatedTenants(3, 200, 11));
const view = new ViewCache().viewOf(snapshot, BASE)!;
const org = snapshot.organisations[1]!;
const member = membersOf(snapshot, org.id)[0]!.person;
const memberOrganisations = snapshot.organisations.filter((o) => membersOf(snapshot, o.id).some((m) => m.person.id === member.id)).length;

function scan(type: ResourceTypeName, filter: string): number[] {
  const set = view.resources(type);
  const predicate = compileFilter(parseFilter(filter), set.type.schema);
  return itemsOf(set).flatMap((item, position) => (predicate(item.resource) ? [position] : []));
}

describe('query planner: indexed lookups', () => {
  it.each<[ResourceTypeName, string, number]>([
    ['User', `id eq "${personId('user5@example.com')}"`, 1],
    ['User', 'userName eq "USER5@example.com"', 1],
    ['User', 'externalId eq "anything"', 0],
    ['User', 'emails.value eq "user6@EXAMPLE.com"', 1],
    ['User', 'emails[type eq "work"].value eq "user7@example.com"', 1],
    ['User', 'emails eq "user8@example.com"', 1],
    ['User', 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "user9@example.com"', 1],
    ['User', 'displayName eq "given10 family10"', 1],
    ['User', 'userName eq "user11@example.com" and active eq true', 1],
    ['User', 'active eq true and userName eq "user12@example.com"', 1],
    ['User', 'userName eq "user1@example.com" or userName eq "user2@example.com"', 2],
    ['Group', `members[value eq "${member.id}"]`, memberOrganisations],
    ['Group', `members.value eq "${member.id}"`, memberOrganisations],
    ['Group', `displayName eq "${org.name.toUpperCase()}"`, 1],
    ['Role', `displayName eq "${snapshot.roles[0]!.displayName}"`, 1],
  ])('%s filter=%s uses an index of at most %i candidates', (type, filter, size) => {
    const candidates = plan(parseFilter(filter), view.resources(type))?.positions;
    expect(candidates).toBeDefined();
    expect(candidates!.length).toBeLessThanOrEqual(size);
    if (size > 0) expect(candidates!.length).toBeGreaterThan(0);
    const matches = scan(type, filter);
    for (const p of matches) expect(candidates).toContain(p);
  });

  it.each([
    'meta.lastModified gt "2024-02-27T10:00:00Z"',
    'meta.lastModified ge "2024-02-27T10:00:00.0000000Z"',
    'meta.lastModified lt "2024-02-02T10:00:00Z"',
    'meta.LASTMODIFIED le "2024-02-02T10:00:00.9999999Z"',
    'meta.created ge "2024-02-20T00:00:00+02:00" and meta.created le "2024-02-21T00:00:00Z"',
    'meta.lastModified ge "2024-02-27T00:00:00Z" or userName eq "user3@example.com"',
    'userName eq "user3@example.com"',
    `members[value eq "${member.id}"]`,
    'active eq true',
    'ACTIVE eq false',
    'userName eq "user1@example.com" or active eq false',
    // Substring searches from one attribute's column: case folded as the filter folds.
    'userName co "user1"',
    'userName co "R1"',
    'userName co ""',
    'emails co "example"',
    'displayName ew "LY10"',
    'name.familyName eq "Family12"',
    'name.givenName sw "given2"',
    'userName co "user1" or displayName co "y20"',
    // Entra's delta filter: the window and `active` both from indexes, nothing left to test per resource.
    'active eq true and (meta.lastModified ge "2024-02-27T00:00:00.0000000Z" and meta.lastModified le "2024-02-28T23:59:59.9999999Z")',
  ])('answers %s exactly from indexes', (filter) => {
    const type = filter.startsWith('members') ? 'Group' : 'User';
    const planned = plan(parseFilter(filter), view.resources(type));
    expect(planned).toBeDefined();
    expect(planned!.residual).toBeUndefined();
    expect(planned!.positions).toEqual(scan(type, filter));
  });

  it('answers every spelling of a path alike, past the spellings it remembers per set', () => {
    // 2^8 spellings of userName (the planner keeps 64 per set), and paths it must not answer from an index.
    const spellings = Array.from({ length: 256 }, (_, bits) => [...'username'].map((c, i) => ((bits >> i) & 1 ? c.toUpperCase() : c)).join(''));
    const set = view.resources('User');
    for (const name of spellings) {
      expect(plan(parseFilter(`${name} eq "user5@example.com"`), set)?.positions).toEqual(scan('User', 'userName eq "user5@example.com"'));
    }
    for (const filter of ['displayName eq "GIVEN5 family5"', 'urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "user5@example.com"', 'emails.VALUE eq "user5@example.com"']) {
      expect(plan(parseFilter(filter), set)).toEqual({ positions: scan('User', filter) });
    }
  });

  it('answers an indexed eq lookup, or refuses it, exactly as compiling the filter and scanning does', () => {
    // Every indexed path (and spellings of it) against values of every JSON type: a lookup the filter would refuse
    // must never be answered from an index.
    const paths: [ResourceTypeName, string][] = [
      ['User', 'id'], ['User', 'externalId'], ['User', 'userName'], ['User', 'USERNAME'], ['User', 'emails'], ['User', 'emails.value'],
      ['User', 'emails.VALUE'], ['User', 'displayName'], ['User', 'active'], ['User', 'userName.value'], ['User', 'name'],
      ['User', 'urn:ietf:params:scim:schemas:core:2.0:User:userName'], ['Group', 'members.value'], ['Group', 'members'],
      ['Group', 'displayName'], ['Role', 'displayName'],
    ];
    const values = ['"user5@example.com"', '"GIVEN5 family5"', `"${member.id}"`, `"${org.name}"`, 'true', 'false', '5', 'null', '"x"'];
    const outcome = (run: () => number[]) => {
      try {
        return run();
      } catch (error) {
        return (error as Error).message;
      }
    };
    for (const [type, path] of paths) {
      for (const value of values) {
        const filter = `${path} eq ${value}`;
        const set = view.resources(type);
        const listed = outcome(() => {
          const ids = JSON.parse(joinedBody(listResources(set, { filter, sortOrder: 'ascending', startIndex: 1, count: 10_000 }).body).toString()).Resources.map((r: { id: string }) => r.id);
          return itemsOf(set).flatMap((item, position) => (ids.includes(item.id) ? [position] : []));
        });
        expect({ filter, outcome: listed }).toEqual({ filter, outcome: outcome(() => scan(type, filter)) });
      }
    }
  });

  it('narrows an Entra delta window to the people changed in it, and leaves an unindexed condition to test', () => {
    const window = 'meta.lastModified ge "2024-02-27T00:00:00.0000000Z" and meta.lastModified le "2024-02-28T23:59:59.9999999Z"';
    const entra = plan(parseFilter(`active eq true and (${window})`), view.resources('User'))!;
    expect(entra.positions.length).toBeGreaterThan(0);
    expect(entra.positions.length).toBeLessThan(view.resources('User').size / 5);
    const filter = `name.givenName pr and (${window})`;
    const planned = plan(parseFilter(filter), view.resources('User'))!;
    expect(planned.residual).toEqual(parseFilter('name.givenName pr'));
    const matches = scan('User', filter);
    expect(matches.length).toBeGreaterThan(0);
    for (const p of matches) expect(planned.positions).toContain(p);
  });

  it.each(['active eq "true"', 'active ne true', 'userName gt "user1"', 'emails[type eq "work"].value co "user1"', 'not (userName eq "user1@example.com")', 'userName eq "user1@example.com" or name.givenName pr', 'meta.lastModified eq "2024-02-27T10:00:00Z"'])(
    'scans for %s',
    (filter) => {
      expect(plan(parseFilter(filter), view.resources('User'))).toBeUndefined();
    },
  );

  it('candidates passing the residual are exactly the matches (random combinations)', () => {
    const email = fc.integer({ min: 0, max: 210 }).map((i) => `user${i}@example.com`);
    const indexed = fc.oneof(
      email.map((e) => `userName eq "${e.toUpperCase()}"`),
      email.map((e) => `emails[type eq "work"].value eq "${e}"`),
      email.map((e) => `id eq "${personId(e)}"`),
      fc.integer({ min: 0, max: 210 }).map((i) => `displayName eq "Given${i} Family${i}"`),
    );
    const other = fc.oneof(
      fc.constantFrom('active eq true', 'active eq false', 'userName sw "user1"', 'userName sw "USER2"', 'userName sw ""', 'userName sw "nobody"'),
      // Prefix searches answered from the indexes' sorted keys: case folded as the filter folds (id is caseExact).
      fc.tuple(fc.constantFrom('userName', 'emails.value', 'emails', 'displayName', 'id', 'externalId'), fc.constantFrom('u', 'User1', 'given2', 'Given2', '0', 'a', 'e')).map(
        ([path, prefix]) => `${path} sw "${prefix}"`,
      ),
      // Searches answered from a column: any needle, any case, empty, absent, spanning two values' boundary.
      fc.tuple(
        fc.constantFrom('userName', 'emails.value', 'emails', 'displayName', 'name.givenName', 'name.familyName'),
        fc.constantFrom('co', 'sw', 'ew', 'eq'),
        fc.oneof(fc.constantFrom('', 'user1', 'USER', '@example.com', 'ly1', 'Given2 Fam', 'm\u0000u', 'com user', 'given10 family10', 'Family7'), fc.string({ maxLength: 3 })),
      ).map(([path, op, needle]) => `${path} ${op} ${JSON.stringify(needle)}`),
      fc.tuple(fc.constantFrom('gt', 'ge', 'lt', 'le'), fc.integer({ min: 1, max: 28 }), fc.constantFrom('', '.5', '.0000000', '.9999999')).map(
        ([op, day, fraction]) => `meta.lastModified ${op} "2024-02-${String(day).padStart(2, '0')}T10:00:00${fraction}Z"`,
      ),
    );
    const filter: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
      f: fc.oneof(
        { depthSize: 'small' },
        indexed,
        other,
        fc.tuple(tie('f'), fc.constantFrom('and', 'or'), tie('f')).map(([l, op, r]) => `(${l}) ${op} (${r})`),
        tie('f').map((f) => `not (${f})`),
      ),
    })).f;
    fc.assert(
      fc.property(filter, (f) => {
        const set = view.resources('User');
        const planned = plan(parseFilter(f), set);
        const matches = scan('User', f);
        if (!planned) return;
        // The candidates that pass the residual are exactly the matches.
        const residual = planned.residual && compileFilter(planned.residual, set.type.schema);
        expect(planned.positions.filter((p) => !residual || residual(set.item(p).data))).toEqual(matches);
      }),
      { numRuns: 300 },
    );
  });
});
