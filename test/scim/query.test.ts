import request from 'supertest';
import { personId } from '../../src/directory/ids';
import { ACME, AUTH, BETA, appFor } from '../http/fixtures';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const XERO_USER = 'urn:xero-scim:schemas:extension:xero:1.0:User';

const ann = personId('ann.smith@example.com');
const bob = personId('bob@example.com');
const cat = personId('cat@example.com');
const dan = personId('dan@example.com');
const byId = [ann, bob, cat, dan].sort();

const app = appFor(undefined, { maxResults: 3 });
const get = (path: string) => request(app).get(path).set(AUTH);
const ids = (body: { Resources: { id: string }[] }) => body.Resources.map((r) => r.id);

describe('RFC 7644 §3.4.2.4 pagination', () => {
  it.each([
    // query, expected ids (by position in id order), totalResults, startIndex echoed
    ['', [0, 1, 2], 4, 1], // count defaults to maxResults
    ['?startIndex=1&count=2', [0, 1], 4, 1],
    ['?startIndex=3&count=2', [2, 3], 4, 3],
    ['?startIndex=4&count=10', [3], 4, 4], // count above maxResults is clamped to it
    ['?startIndex=5', [], 4, 5], // beyond the end: empty page, totals intact
    ['?startIndex=0&count=1', [0], 4, 1], // below 1 is treated as 1
    ['?startIndex=-7&count=1', [0], 4, 1],
    ['?count=0', [], 4, 1], // only the totals
    ['?count=-5', [], 4, 1], // negative is 0
    ['?startindex=2&COUNT=1', [1], 4, 2], // parameter names are case-insensitive (Entra)
  ])('GET /Users%s', async (query, positions, total, startIndex) => {
    const res = await get(`/scim/v2/Users${query}`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      schemas: [LIST],
      totalResults: total,
      itemsPerPage: positions.length,
      startIndex,
      Resources: expect.any(Array),
    });
    expect(ids(res.body)).toEqual(positions.map((p) => byId[p]));
  });

  it.each(['?count=abc', '?startIndex=1.5', '?count=1&count=2'])('answers 400 invalidValue for %s', async (query) => {
    const res = await get(`/scim/v2/Users${query}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '400', scimType: 'invalidValue' });
  });
});

describe('RFC 7644 §3.4.2.3 sorting', () => {
  it.each([
    ['userName', 'ascending', [ann, bob, cat, dan]],
    ['userName', 'descending', [dan, cat, bob, ann]],
    ['name.givenName', 'ascending', [ann, bob, cat, dan]],
    ['NAME.FAMILYNAME', 'ascending', [dan, bob, cat, ann]],
    ['emails.value', 'descending', [dan, cat, bob, ann]],
    ['meta.lastModified', 'ascending', [cat, bob, dan, ann]],
    ['meta.lastModified', 'descending', [ann, dan, bob, cat]],
  ])('sortBy=%s&sortOrder=%s', async (sortBy, sortOrder, expected) => {
    const res = await get(`/scim/v2/Users?sortBy=${sortBy}&sortOrder=${sortOrder}&count=3`);
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual(expected.slice(0, 3));
    const rest = await get(`/scim/v2/Users?sortBy=${sortBy}&sortOrder=${sortOrder}&startIndex=4`);
    expect(ids(rest.body)).toEqual(expected.slice(3));
  });

  it('keeps ties in id order (stable), e.g. sorting by active', async () => {
    const res = await get('/scim/v2/Users?sortBy=active&sortOrder=descending&count=3');
    const active = byId.filter((id) => id !== cat);
    expect(ids(res.body)).toEqual(active);
  });

  it('sorts resources without a value last when ascending, first when descending', async () => {
    // Only Acme has a legal name.
    const asc = await get('/scim/v2/Groups?sortBy=legalName');
    expect(ids(asc.body)).toEqual([ACME, BETA]);
    const desc = await get('/scim/v2/Groups?sortBy=urn:xero-scim:schemas:extension:xero:1.0:Organisation:legalName&sortOrder=descending');
    expect(ids(desc.body)).toEqual([BETA, ACME]);
  });

  it.each([
    ['name', 'Cannot sort by the complex attribute "name"; name a sub-attribute, e.g. "name.formatted".'],
    ['shoeSize', 'Cannot sort by "shoeSize": no such attribute.'],
  ])('answers 400 invalidValue for sortBy=%s', async (sortBy, detail) => {
    const res = await get(`/scim/v2/Users?sortBy=${sortBy}`);
    expect(res.body).toEqual({ schemas: [ERROR], status: '400', scimType: 'invalidValue', detail });
  });

  it('answers 400 for an unknown sortOrder', async () => {
    const res = await get('/scim/v2/Users?sortBy=userName&sortOrder=sideways');
    expect(res.status).toBe(400);
  });
});

describe('RFC 7644 §3.4.2.5 attributes and excludedAttributes', () => {
  it('returns only the asked attributes, plus id and schemas (returned: always)', async () => {
    const res = await get(`/scim/v2/Users/${bob}?attributes=userName,name.familyName`);
    expect(res.body).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', XERO_USER],
      id: bob,
      userName: 'bob@example.com',
      name: { familyName: 'Jones' },
    });
  });

  it('selects sub-attributes of multi-valued attributes and URN-qualified paths', async () => {
    const res = await get(`/scim/v2/Users/${bob}?attributes=emails.value,urn:ietf:params:scim:schemas:core:2.0:User:active,${XERO_USER}:organisations.role`);
    expect(res.body).toEqual({
      schemas: expect.any(Array),
      id: bob,
      emails: [{ value: 'bob@example.com' }],
      active: true,
      [XERO_USER]: { organisations: [{ role: 'READONLY' }] },
    });
  });

  it('a whole extension can be asked for by its URN', async () => {
    const res = await get(`/scim/v2/Users/${bob}?attributes=${XERO_USER}`);
    expect(Object.keys(res.body)).toEqual(['schemas', 'id', XERO_USER]);
  });

  it('excludes attributes and sub-attributes but never id', async () => {
    const res = await get(`/scim/v2/Users/${bob}?excludedAttributes=groups,roles,meta,emails.type,id,${XERO_USER}`);
    expect(res.body).toEqual({
      schemas: expect.any(Array),
      id: bob,
      userName: 'bob@example.com',
      name: { formatted: 'Bob Jones', familyName: 'Jones', givenName: 'Bob' },
      displayName: 'Bob Jones',
      emails: [{ value: 'bob@example.com', primary: true }],
      active: true,
    });
  });

  it('excludedAttributes=members on Groups drops members (Entra test connection)', async () => {
    const res = await get('/scim/v2/Groups?excludedAttributes=members');
    expect(res.body.Resources).toHaveLength(2);
    for (const group of res.body.Resources) {
      expect(group.members).toBeUndefined();
      expect(group.displayName).toEqual(expect.any(String));
      expect(group.meta.version).toMatch(/^W\//);
    }
  });

  it('applies to list responses and to searches', async () => {
    const res = await request(app)
      .post('/scim/v2/Users/.search')
      .set(AUTH)
      .send({ schemas: [SEARCH], attributes: ['userName'], filter: 'userName sw "b"' });
    expect(res.body.Resources).toEqual([{ schemas: expect.any(Array), id: bob, userName: 'bob@example.com' }]);
  });

  it('answers 400 when both are sent', async () => {
    const res = await get('/scim/v2/Users?attributes=userName&excludedAttributes=emails');
    expect(res.body).toMatchObject({ status: '400', scimType: 'invalidValue' });
  });
});

describe('RFC 7644 §3.4.2.2 filtering through the API', () => {
  it.each([
    ['userName eq "BOB@EXAMPLE.COM"', [bob]], // userName is not case-exact
    [`id eq "${bob}"`, [bob]],
    [`id eq "${bob.toUpperCase()}"`, []], // id is case-exact
    ['externalId eq "x"', []],
    ['emails[type eq "work"].value eq "Ann.Smith@example.com"', [ann]],
    ['emails.value eq "dan@example.com"', [dan]],
    ['emails eq "dan@example.com"', [dan]],
    ['displayName eq "bob jones"', [bob]],
    ['userName eq "bob@example.com" and active eq true', [bob]],
    ['userName eq "cat@example.com" and active eq true', []],
    ['userName eq "bob@example.com" or userName eq "dan@example.com"', [bob, dan].sort()],
    ['active eq false', [cat]],
    ['name.givenName sw "a" or name.familyName eq "BROWN"', [ann, dan].sort()],
    [`groups.value eq "${ACME}"`, [ann, bob].sort()],
    [`${XERO_USER}:organisations.role eq "MANAGEDCLIENT"`, [dan]],
    ['meta.lastModified gt "2024-06-15T08:30:00.4999999Z"', [ann]],
    ['meta.lastModified gt "2024-06-15T08:30:00.5000000Z"', []],
    ['not (userName co "example")', []],
    ['ActiVe eq true and meta.lastmodified ge "0001-01-03T00:00:00.0000000Z"', [ann, bob, dan].sort()],
  ])('filter=%s', async (filter, expected) => {
    const res = await get(`/scim/v2/Users?filter=${encodeURIComponent(filter)}&count=3`);
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(expected.length);
    expect(ids(res.body)).toEqual(expected.slice(0, 3));
  });

  it.each([
    ['members[value eq "%s"]', [ACME]],
    ['members.value eq "%s"', [ACME]],
    ['displayName eq "BETA & CO"', [BETA]],
  ])('Groups filter=%s', async (template, expected) => {
    const res = await get(`/scim/v2/Groups?filter=${encodeURIComponent(template.replace('%s', bob))}`);
    expect(ids(res.body)).toEqual(expected);
  });

  it.each([
    ['userName eq', 'invalidFilter'],
    ['shoeSize eq 42', 'invalidFilter'],
    ['userName zz "x"', 'invalidFilter'],
  ])('answers 400 %s for filter=%s', async (filter, scimType) => {
    const res = await get(`/scim/v2/Users?filter=${encodeURIComponent(filter)}`);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ schemas: [ERROR], status: '400', scimType, detail: expect.any(String) });
  });

  it('searches every resource type at the root (RFC 7644 §3.4.3)', async () => {
    const res = await request(app)
      .post('/scim/v2/.search')
      .set(AUTH)
      .send({ schemas: [SEARCH], filter: 'displayName sw "acme"', attributes: ['displayName'], sortBy: 'displayName', startIndex: 2, count: 10 });
    expect(res.status).toBe(200);
    // Users have no display name starting "Acme"; the Group and four Roles do. count is clamped to maxResults (3).
    expect(res.body).toMatchObject({ totalResults: 5, itemsPerPage: 3, startIndex: 2 });
    expect(res.body.Resources.map((r: { displayName: string }) => r.displayName)).toEqual([
      'Acme Ltd — Financial adviser',
      'Acme Ltd — Invoice only',
      'Acme Ltd — Read only',
    ]);
  });

  it('refuses a SearchRequest without its schema', async () => {
    const res = await request(app).post('/scim/v2/Users/.search').set(AUTH).send({ filter: 'active eq true' });
    expect(res.body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
  });

  it('filters the tenant view by Xero UserID', async () => {
    const res = await get(`/scim/v2/tenants/${BETA}/Users?filter=${encodeURIComponent('id eq "b0000000-0000-4000-8000-00000000000d"')}`);
    expect(res.body.Resources.map((u: { userName: string }) => u.userName)).toEqual(['dan@example.com']);
  });
});

describe('RFC 7644 §3.14 versioning (ETags)', () => {
  it('answers 304 to If-None-Match with the current ETag of a resource', async () => {
    const first = await get(`/scim/v2/Users/${ann}`);
    expect(first.body.meta.version).toBe(first.headers.etag);
    const again = await get(`/scim/v2/Users/${ann}`).set('If-None-Match', String(first.headers.etag));
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    expect(again.headers.etag).toBe(first.headers.etag);
  });

  it('filters on meta.version (the ETag)', async () => {
    const { headers } = await get(`/scim/v2/Users/${dan}`);
    const res = await get(`/scim/v2/Users?filter=${encodeURIComponent(`meta.version eq ${JSON.stringify(headers.etag)}`)}`);
    expect(ids(res.body)).toEqual([dan]);
  });

  it('answers 200 when the ETag does not match', async () => {
    const res = await get(`/scim/v2/Users/${ann}`).set('If-None-Match', 'W/"stale"');
    expect(res.status).toBe(200);
  });

  it('gives lists an ETag that depends on the query, and honours If-None-Match', async () => {
    const page1 = await get('/scim/v2/Users?count=1');
    const page2 = await get('/scim/v2/Users?count=1&startIndex=2');
    expect(page1.headers.etag).toMatch(/^W\//);
    expect(page1.headers.etag).not.toBe(page2.headers.etag);
    const again = await get('/scim/v2/Users?count=1').set('If-None-Match', `W/"other", ${page1.headers.etag}`);
    expect(again.status).toBe(304);
  });

  it('changes a list’s ETag when its data changes, and only then', async () => {
    const { snapshotOf, TENANTS } = await import('../http/fixtures');
    const changed = TENANTS.map((t) =>
      t.organisation.id === ACME ? { ...t, users: t.users.map((u) => (u.firstName === 'Bob' ? { ...u, firstName: 'Robert' } : u)) } : t,
    );
    const listETag = async (a: typeof app, path: string) => (await request(a).get(path).set(AUTH)).headers.etag as string;
    for (const path of ['/scim/v2/Users', '/scim/v2/Users?filter=userName%20eq%20%22bob%40example.com%22', '/scim/v2/Groups?count=1']) {
      expect(await listETag(appFor(snapshotOf()), path)).toBe(await listETag(appFor(snapshotOf()), path));
      expect(await listETag(appFor(snapshotOf()), path)).not.toBe(await listETag(appFor(snapshotOf(changed)), path));
    }
  });

  it('changes a resource’s ETag when its data changes, and only then', async () => {
    const { snapshotOf, TENANTS } = await import('../http/fixtures');
    const changed = TENANTS.map((t) =>
      t.organisation.id === ACME ? { ...t, users: t.users.map((u) => (u.firstName === 'Bob' ? { ...u, firstName: 'Robert' } : u)) } : t,
    );
    const before = appFor(snapshotOf());
    const after = appFor(snapshotOf(changed));
    const etag = async (a: typeof app, id: string) => (await request(a).get(`/scim/v2/Users/${id}`).set(AUTH)).headers.etag;
    expect(await etag(before, bob)).not.toBe(await etag(after, bob));
    expect(await etag(before, dan)).toBe(await etag(after, dan));
  });
});
