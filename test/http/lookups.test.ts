/**
 * `GET /Users?filter=userName eq "…"` (alone, or with the first page's `startIndex` and a `count`) is answered from the
 * userName index (src/http/lookups.ts) exactly as the general list answers it, same status and body, for every
 * spelling a client may send, with an ETag that changes when the answer does and only then; every request that is not
 * exactly such a lookup goes the general way.
 */
import fc from 'fast-check';
import request from 'supertest';
import type { TenantData, XeroUserRecord } from '../../src/directory/model';
import { userNameLookup } from '../../src/http/lookups';
import * as plan from '../../src/scim/query/plan';
import { createApp } from '../../src/http/app';
import { ACME, AUTH, PUBLIC_URL, TENANTS, TOKEN, appFor, fixedDirectory, rawGet, snapshotOf } from './fixtures';

/** The fixtures' people, and some whose userNames need encoding: `+`, `=`, `&`, `%`, a space, letters outside ASCII. */
const ODD_NAMES = ['zoë+tag@example.com', 'a=b@example.com', 'x&y@example.com', '100%@example.com', 'İlker.Şahin@example.com', '名前@例え.jp'];
const tenants: TenantData[] = [
  TENANTS[0]!,
  {
    ...TENANTS[1]!,
    users: [
      ...TENANTS[1]!.users,
      ...ODD_NAMES.map(
        (email, i): XeroUserRecord => ({
          organisationId: TENANTS[1]!.organisation.id,
          xeroUserId: `c0000000-0000-4000-8000-00000000000${i}`,
          email,
          firstName: 'Odd',
          lastName: `Name${i}`,
          role: 'STANDARD',
          isSubscriber: false,
          updatedAt: '2024-05-01T00:00:00Z',
        }),
      ),
    ],
  },
];
const app = appFor(snapshotOf(tenants));
const NAMES = ['Ann.Smith@Example.com', 'bob@example.com', 'cat@example.com', 'dan@example.com', 'nobody@example.com', ...ODD_NAMES];

/** How a client may spell a word whose case does not matter. */
const anyCase = (word: string) =>
  fc.array(fc.boolean(), { minLength: word.length, maxLength: word.length }).map((upper) => [...word].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join(''));

/** How a client may encode a query value: as `encodeURIComponent` does, with `+` for spaces, or only what must be. */
const encodings = fc.constantFrom(
  (v: string) => encodeURIComponent(v),
  (v: string) => encodeURIComponent(v).replaceAll('%20', '+'),
  (v: string) => v.replace(/[%&+#"]|[^\0-\x7f]/gu, (c) => encodeURIComponent(c)).replaceAll(' ', '%20'),
);

/** What may come with the filter: the first page's index and a page size, or something that makes it a list. */
const companions = fc.array(
  fc.constantFrom('startIndex=1', 'startindex=1', 'count=100', 'COUNT=1', 'count=0', 'startIndex=2', 'count=%31', 'count=+1', 'sortBy=userName', 'filter=x', 'count'),
  { maxLength: 2 },
);

const filters = fc
  .record({
    attribute: anyCase('userName'),
    op: anyCase('eq'),
    name: fc.oneof(fc.constantFrom(...NAMES), anyCase('bob@example.com'), fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 })),
    space: fc.constantFrom(' ', ' ', ' ', '  ', '\t'),
    around: fc.constantFrom('', '', '', ' ', '('),
  })
  .map(({ attribute, op, name, space, around }) => `${around}${attribute}${space}${op} ${JSON.stringify(name)}${around === '(' ? ')' : around}`);

describe('userName lookups', () => {
  let lookups: jest.SpyInstance;
  beforeEach(() => {
    lookups = jest.spyOn(plan, 'lookupEq');
  });
  afterEach(() => lookups.mockRestore());

  it('answer exactly as the general list does, for any spelling and encoding', async () => {
    await fc.assert(
      fc.asyncProperty(filters, encodings, anyCase('filter'), companions, fc.boolean(), async (filter, encode, parameter, more, filterFirst) => {
        const filterPart = `${parameter}=${encode(filter)}`;
        const path = `/scim/v2/Users?${(filterFirst ? [filterPart, ...more] : [...more, filterPart]).join('&')}`;
        lookups.mockClear();
        const direct = await request(app).get(path).set(AUTH);
        const direction = lookups.mock.calls.length;
        // An unknown parameter is ignored by the list, and makes the request anything but a bare lookup.
        const general = await request(app).get(`${path}&unknown=1`).set(AUTH);
        expect(lookups.mock.calls.length).toBe(direction);
        expect({ status: direct.status, body: direct.text }).toEqual({ status: general.status, body: general.text });
        if (direct.status === 200) expect(direct.headers.etag).toMatch(/^W\/"[^"]+"$/);
        // Taken exactly when the filter is a plain lookup, with at most the first page's index and a page size.
        const [words, string] = [filter.slice(0, 12), filter.slice(12)];
        const plain = /^[\0-\x7f]*$/.test(words) && words.toLowerCase() === 'username eq ' && /^"[^"\\\p{Cc}]*"$/u.test(string);
        const names = more.map((m) => m.split('=')[0]!.toLowerCase());
        const firstPage = more.every((m) => ['startindex=1', 'count=100', 'count=1'].includes(m.toLowerCase())) && new Set(names).size === names.length;
        expect(direction).toBe(plain && firstPage ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('find people by userName in any case, with their resource', async () => {
    const res = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent('USERNAME EQ "ANN.SMITH@EXAMPLE.COM"')}`).set(AUTH);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ totalResults: 1, itemsPerPage: 1, startIndex: 1, Resources: [{ userName: 'ann.smith@example.com' }] });
    expect(lookups).toHaveBeenCalledTimes(1);
    for (const name of ODD_NAMES) {
      const found = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`).set(AUTH);
      expect(found.body.Resources.map((u: { emails: { value: string }[] }) => u.emails[0]!.value)).toEqual([name]);
    }
  });

  it('answer a conditional GET with 304, and HEAD with the head alone', async () => {
    const path = `/scim/v2/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}`;
    const first = await request(app).get(path).set(AUTH);
    const again = await request(app).get(path).set({ ...AUTH, 'If-None-Match': first.headers.etag as string });
    expect(again.status).toBe(304);
    expect(again.headers.etag).toBe(first.headers.etag);
    const head = await request(app).head(path).set(AUTH);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(first.headers['content-length']);
    expect(head.text).toBeUndefined();
  });

  it('keep their ETag while the person is unchanged, whatever else the sync changed, and change it with them', async () => {
    const directory = fixedDirectory(snapshotOf(tenants));
    const served = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL });
    const get = (name: string, etag?: string) =>
      request(served)
        .get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${name}"`)}`)
        .set(etag ? { ...AUTH, 'If-None-Match': etag } : AUTH);
    const bob = await get('bob@example.com');
    const nobody = await get('nobody@example.com');
    expect(new Set([bob.headers.etag, nobody.headers.etag]).size).toBe(2);

    // Another person joins Acme: a new snapshot, the same answers.
    const [acme, beta] = tenants as [TenantData, TenantData];
    const newcomer: XeroUserRecord = { ...acme.users[1]!, xeroUserId: 'a0000000-0000-4000-8000-0000000000ee', email: 'eve@example.com', firstName: 'Eve' };
    directory.set(snapshotOf([{ ...acme, users: [...acme.users, newcomer] }, beta]));
    expect((await get('bob@example.com', bob.headers.etag as string)).status).toBe(304);
    // With the first page's index and a page size, as README says: the same lookup, the same ETag.
    const paged = await request(served)
      .get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}&startIndex=1&count=100`)
      .set({ ...AUTH, 'If-None-Match': bob.headers.etag as string });
    expect(paged.status).toBe(304);
    expect((await get('nobody@example.com', nobody.headers.etag as string)).status).toBe(304);
    expect((await get('eve@example.com', nobody.headers.etag as string)).status).toBe(200);

    // Bob changes his name, then leaves: each answer changes, and so does its ETag.
    const renamed = acme.users.map((u) => (u.email === 'bob@example.com' ? { ...u, lastName: 'Jonas', updatedAt: '2024-07-01T00:00:00Z' } : u));
    directory.set(snapshotOf([{ ...acme, users: renamed }, beta]));
    const changed = await get('bob@example.com', bob.headers.etag as string);
    expect(changed.status).toBe(200);
    expect(changed.body.Resources[0].name.familyName).toBe('Jonas');
    directory.set(snapshotOf([{ ...acme, users: acme.users.filter((u) => u.email !== 'bob@example.com') }, beta]));
    const gone = await get('bob@example.com', changed.headers.etag as string);
    expect(gone.status).toBe(200);
    expect(gone.body.totalResults).toBe(0);
    expect(gone.headers.etag).toBe(nobody.headers.etag);
  });

  it('look up in a tenant view only its organisation’s people, as the general list does', async () => {
    const filter = encodeURIComponent('userName eq "bob@example.com"');
    const inAcme = await request(app).get(`/scim/v2/tenants/${ACME}/Users?filter=${filter}`).set(AUTH);
    const inBeta = await request(app).get(`/scim/v2/tenants/${TENANTS[1]!.organisation.id}/Users?filter=${filter}`).set(AUTH);
    expect(lookups).toHaveBeenCalledTimes(2);
    expect([inAcme.body.totalResults, inBeta.body.totalResults]).toEqual([1, 0]);
    expect(inAcme.body.Resources[0].meta.location).toContain(`/tenants/${ACME}/Users/`);
    const general = await request(app).get(`/scim/v2/tenants/${ACME}/Users?filter=${filter}&unknown=1`).set(AUTH);
    expect(inAcme.text).toBe(general.text);
  });

  it('leave to the general path what it refuses: a filter given twice, bad encoding, a filter too long', async () => {
    const twice = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "a"')}&filter=x`).set(AUTH);
    expect(twice.status).toBe(400);
    const long = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${'a'.repeat(9000)}"`)}`).set(AUTH);
    expect(long.status).toBe(400);
    expect(long.body.scimType).toBe('invalidFilter');
    // Letters that only Unicode case folding equates with those of `userName`: not an attribute name.
    const folded = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent('uſerName eq "bob@example.com"')}`).set(AUTH);
    expect(folded.status).toBe(400);
    expect(lookups).not.toHaveBeenCalled();
    expect(userNameLookup('/Users?filter=userName%20eq%20%22%E0%A4%A%22')).toBeUndefined();
  });

  it('leave to Express a URL it reads with the legacy parser, which cuts it at a `#`', async () => {
    // Express reads `userName eq "a` (an unclosed string) and the whole list, not lookups of `a#b` and of Bob.
    const cut = await rawGet(app, '/scim/v2/Users?filter=userName%20eq%20%22a#b%22');
    expect([cut.status, JSON.parse(cut.text).scimType]).toEqual([400, 'invalidFilter']);
    const list = await rawGet(app, `/scim/v2/Users#?filter=${encodeURIComponent('userName eq "bob@example.com"')}`);
    expect(list.status).toBe(200);
    expect(JSON.parse(list.text).totalResults).toBe(4 + ODD_NAMES.length);
    expect(lookups).not.toHaveBeenCalled();
  });

  it('answer 503 before the first snapshot, as every list does', async () => {
    const res = await request(createApp({ directory: fixedDirectory(undefined), tokens: [TOKEN] })).get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "bob@example.com"')}`).set(AUTH);
    expect(res.status).toBe(503);
    expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:Error']);
  });
});
