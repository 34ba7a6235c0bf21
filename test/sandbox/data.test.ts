import { demoData, generateData, ORGANISATION_ROLES, type SandboxData } from '../../src/sandbox';
import { SOAK } from '../reliability/support';

const memberships = (data: SandboxData): number => data.organisations.reduce((n, org) => n + org.users.length, 0);
const roles = (data: SandboxData): Set<string> => new Set(data.organisations.flatMap((org) => org.users.map((u) => u.role)));

/** People are recognised across organisations by e-mail without regard to letter case. */
function people(data: SandboxData): Map<string, string[]> {
  const byEmail = new Map<string, string[]>();
  for (const org of data.organisations) {
    for (const user of org.users) byEmail.set(user.email.toLowerCase(), [...(byEmail.get(user.email.toLowerCase()) ?? []), user.email]);
  }
  return byEmail;
}

describe('the demo data set', () => {
  const data = demoData();

  it('has three organisations of different kinds, one of them a Partner-edition practice', () => {
    expect(data.organisations.map((o) => [o.organisationType, o.countryCode, o.edition, o.tenantType])).toEqual([
      ['COMPANY', 'NZ', 'BUSINESS', 'ORGANISATION'],
      ['ACCOUNTING_PRACTICE', 'GB', 'PARTNER', 'PRACTICE'],
      ['CHARITY', 'AU', 'BUSINESS', 'ORGANISATION'],
    ]);
  });

  it('has about a dozen people, some in several organisations, one e-mail in two letter cases', () => {
    const byEmail = people(data);
    expect(byEmail.size).toBeGreaterThanOrEqual(10);
    expect(byEmail.size).toBeLessThanOrEqual(15);
    expect([...byEmail.values()].filter((emails) => emails.length > 1).length).toBeGreaterThanOrEqual(2);
    expect([...byEmail.values()].some((emails) => new Set(emails).size > 1)).toBe(true);
  });

  it('has a REMOVED user, Partner-only roles, a subscriber per organisation and non-ASCII names', () => {
    expect(roles(data)).toEqual(new Set(['STANDARD', 'INVOICEONLY', 'READONLY', 'FINANCIALADVISER', 'MANAGEDCLIENT', 'CASHBOOKCLIENT', 'REMOVED']));
    for (const org of data.organisations) expect(org.users.filter((u) => u.isSubscriber)).toHaveLength(1);
    expect(data.organisations.flatMap((o) => o.users).some((u) => /[^\x20-\x7e]/.test(u.firstName + u.lastName))).toBe(true);
  });

  it('keeps its ids from one call to the next', () => {
    expect(demoData()).toEqual(data);
  });
});

describe('generateData', () => {
  it('is deterministic: the same seed gives the same data, another seed other ids', () => {
    const a = generateData({ seed: 42, organisations: 5, usersPerOrganisation: 8 });
    expect(generateData({ seed: 42, organisations: 5, usersPerOrganisation: 8 })).toEqual(a);
    const b = generateData({ seed: 43, organisations: 5, usersPerOrganisation: 8 });
    expect(b.organisations[0]!.organisationId).not.toBe(a.organisations[0]!.organisationId);
  });

  it('keeps an organisation id when only the number of users changes', () => {
    const small = generateData({ seed: 'x', organisations: 3, usersPerOrganisation: 2 });
    const large = generateData({ seed: 'x', organisations: 3, usersPerOrganisation: 9 });
    expect(large.organisations.map((o) => o.organisationId)).toEqual(small.organisations.map((o) => o.organisationId));
  });

  it('contains every edge case even in a small data set', () => {
    const data = generateData({ seed: 1, organisations: 3, usersPerOrganisation: 6 });
    expect(memberships(data)).toBe(18);
    for (const role of ['REMOVED', 'UNKNOWN', 'MANAGEDCLIENT', 'CASHBOOKCLIENT']) expect(roles(data).has(role)).toBe(true);
    const byEmail = people(data);
    expect([...byEmail.values()].some((emails) => emails.length > 1 && new Set(emails).size > 1)).toBe(true);
    for (const org of data.organisations) expect(org.users.filter((u) => u.isSubscriber)).toHaveLength(1);
    // Partner-only roles appear only in Partner-edition organisations.
    for (const org of data.organisations.filter((o) => o.edition !== 'PARTNER')) {
      expect(org.users.some((u) => u.role === 'MANAGEDCLIENT' || u.role === 'CASHBOOKCLIENT')).toBe(false);
    }
  });

  it('produces 2,000 organisations and 100,000 memberships with unique ids', () => {
    const data = generateData({ seed: 7, organisations: 2000, usersPerOrganisation: 50 });
    expect(data.organisations).toHaveLength(2000);
    expect(memberships(data)).toBe(100_000);
    expect(new Set(data.organisations.flatMap((o) => o.users.map((u) => u.userId))).size).toBe(100_000);
    expect(new Set(data.organisations.map((o) => o.organisationId)).size).toBe(2000);
    expect(data.organisations.filter((o) => o.edition === 'PARTNER')).toHaveLength(200);
    expect([...roles(data)].sort()).toEqual([...ORGANISATION_ROLES].sort());
    const shared = [...people(data).values()].filter((emails) => emails.length > 1);
    expect(shared.length).toBeGreaterThan(1000);
  });

  // A speed bound, so only in the soak tier (`npm run test:soak`): benchmarks and big tests generate this much.
  (SOAK ? it : it.skip)('generates 100,000 memberships in under two seconds of CPU', () => {
    generateData({ seed: 6, organisations: 100, usersPerOrganisation: 50 }); // warm the JIT
    // CPU time, not wall time: the machine is shared, and other processes' load is not the generator's cost.
    const cpu = process.cpuUsage();
    generateData({ seed: 7, organisations: 2000, usersPerOrganisation: 50 });
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1000).toBeLessThan(2000);
  });

  it('rejects impossible options with a message naming the option', () => {
    expect(() => generateData({ organisations: -1 })).toThrow('organisations must be a whole number');
    expect(() => generateData({ partnerShare: 2 })).toThrow('partnerShare must be between 0 and 1');
  });
});
