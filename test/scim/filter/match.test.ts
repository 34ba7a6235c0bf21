import { compileFilter, parseFilter } from '../../../src/scim/filter';
import clients from './fixtures/clients.json';
import matches from './fixtures/match.json';
import users from './fixtures/users.json';
import { userSchema } from './schema';

function idsMatching(filter: string): string[] {
  const predicate = compileFilter(parseFilter(filter), userSchema);
  return users.filter((user) => predicate(user)).map((user) => user.id);
}

describe('RFC 7644 §3.4.2.2 filtering', () => {
  const sections = [...new Set(matches.cases.map((entry) => entry.section))];
  describe.each(sections)('%s', (section) => {
    it.each(matches.cases.filter((entry) => entry.section === section))('$filter → $ids', ({ filter, ids }) => {
      expect(idsMatching(filter)).toEqual(ids);
    });
  });
});

describe('filters real SCIM clients send', () => {
  it.each(clients.cases)('$client: $filter → $ids', ({ filter, ids }) => {
    expect(idsMatching(filter)).toEqual(ids);
  });
});

describe('reading rendered resources', () => {
  const predicateFor = (filter: string) => compileFilter(parseFilter(filter), userSchema);

  it('never reads inherited properties, even when the resource object has a hostile prototype', () => {
    const hostile = Object.create({ userName: 'inherited@example.com', emails: [{ value: 'inherited@example.com' }] }) as Record<string, unknown>;
    expect(predicateFor('userName pr').call(null, hostile)).toBe(false);
    expect(predicateFor('emails.value eq "inherited@example.com"').call(null, hostile)).toBe(false);
  });

  it('treats values of the wrong JSON type as not matching instead of throwing', () => {
    const odd = { userName: 42, active: 'yes', emails: ['not-an-object', null, { value: 7 }], meta: { lastModified: 'garbage' }, loginCount: '3' };
    for (const filter of ['userName eq "42"', 'active eq true', 'emails.value eq "7"', 'meta.lastModified gt "2000-01-01T00:00:00Z"', 'loginCount eq 3', 'emails[value eq "x"]']) {
      expect(predicateFor(filter)(odd)).toBe(false);
    }
  });

  it('reads an extension attribute only under its schema URN key', () => {
    const topLevel = { organisations: [{ role: 'STANDARD' }] };
    const underUrn = { 'urn:example:ext:2.0:User': topLevel };
    const predicate = predicateFor('urn:example:ext:2.0:User:organisations[role eq "standard"]');
    expect([predicate(topLevel), predicate(underUrn)]).toEqual([false, true]);
  });
});
