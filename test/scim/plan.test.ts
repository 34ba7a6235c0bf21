/**
 * The query planner answers the lookups pollers send from indexes, and never changes a result: the candidates
 * it returns always include every resource the filter matches.
 */
import fc from 'fast-check';
import { personId } from '../../src/directory/ids';
import { compileFilter, parseFilter } from '../../src/scim/filter';
import { planCandidates } from '../../src/scim/query/plan';
import { viewOf } from '../../src/scim/render';
import type { ResourceTypeName } from '../../src/scim/schemas';
import { BASE, generatedTenants, snapshotOf } from '../http/fixtures';

const snapshot = snapshotOf(generatedTenants(3, 200, 11));
const view = viewOf(snapshot, BASE)!;
const org = snapshot.organisations[1]!;
const member = snapshot.membersByOrganisation.get(org.id)![0]!.person;
const memberOrganisations = snapshot.organisations.filter((o) => snapshot.membersByOrganisation.get(o.id)!.some((m) => m.person === member)).length;

function scan(type: ResourceTypeName, filter: string): number[] {
  const set = view.resources(type);
  const predicate = compileFilter(parseFilter(filter), set.type.schema);
  return set.items.flatMap((item, position) => (predicate(item.resource) ? [position] : []));
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
    const candidates = planCandidates(parseFilter(filter), view.resources(type));
    expect(candidates).toBeDefined();
    expect(candidates!.length).toBeLessThanOrEqual(size);
    if (size > 0) expect(candidates!.length).toBeGreaterThan(0);
    const matches = scan(type, filter);
    for (const p of matches) expect(candidates).toContain(p);
  });

  it.each(['active eq true', 'userName co "user1"', 'not (userName eq "user1@example.com")', 'userName eq "user1@example.com" or active eq false'])(
    'scans for %s',
    (filter) => {
      expect(planCandidates(parseFilter(filter), view.resources('User'))).toBeUndefined();
    },
  );

  it('never loses a match (random combinations of indexed and unindexed terms)', () => {
    const email = fc.integer({ min: 0, max: 210 }).map((i) => `user${i}@example.com`);
    const indexed = fc.oneof(
      email.map((e) => `userName eq "${e.toUpperCase()}"`),
      email.map((e) => `emails[type eq "work"].value eq "${e}"`),
      email.map((e) => `id eq "${personId(e)}"`),
      fc.integer({ min: 0, max: 210 }).map((i) => `displayName eq "Given${i} Family${i}"`),
    );
    const other = fc.constantFrom('active eq true', 'active eq false', 'userName sw "user1"', 'meta.lastModified gt "2024-02-14T00:00:00Z"');
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
        const candidates = planCandidates(parseFilter(f), set);
        const matches = scan('User', f);
        if (candidates) for (const p of matches) expect(candidates).toContain(p);
      }),
      { numRuns: 300 },
    );
  });
});
