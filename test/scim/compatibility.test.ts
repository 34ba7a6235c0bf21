/**
 * Replays of what real pollers send (docs/scim-clients.md), asserting what each needs.
 */
import request from 'supertest';
import { normaliseEmail, personId, roleId } from '../../src/directory/ids';
import { isRoleCode } from '../../src/directory/model';
import { roleDisplayName } from '../../src/directory/snapshot';
import { ACME, AUTH, TENANTS, appFor, generatedTenants, snapshotOf } from '../http/fixtures';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

interface ScimList<T> {
  totalResults: number;
  itemsPerPage: number;
  startIndex: number;
  Resources: T[];
}
interface ScimUser {
  id: string;
  userName: string;
  active: boolean;
  name: { givenName: string; familyName: string };
  emails: { value: string; primary?: boolean }[];
  roles: { value: string; display: string }[];
}
interface ScimGroup {
  id: string;
  displayName: string;
  members?: { value: string }[];
}

describe('ConductorOne baton-scim crawl', () => {
  const tenants = generatedTenants(3, 250, 7);
  const app = appFor(snapshotOf(tenants), { maxResults: 1000 });
  const get = (path: string) => request(app).get(path).set(AUTH);

  /** Pages with count=100 until the running sum of itemsPerPage reaches totalResults, as baton-scim does. */
  async function crawl<T>(endpoint: string): Promise<T[]> {
    const seen: T[] = [];
    let startIndex = 1;
    let sum = 0;
    for (;;) {
      const res = await get(`${endpoint}?count=100&startIndex=${startIndex}`);
      expect(res.status).toBe(200);
      const page = res.body as ScimList<T>;
      expect(typeof page.totalResults).toBe('number');
      expect(typeof page.itemsPerPage).toBe('number');
      expect(typeof page.startIndex).toBe('number');
      expect(page.itemsPerPage).toBe(page.Resources.length);
      seen.push(...page.Resources);
      sum += page.itemsPerPage;
      if (sum >= page.totalResults || page.itemsPerPage === 0) {
        expect(sum).toBe(page.totalResults);
        return seen;
      }
      startIndex += page.itemsPerPage;
    }
  }

  it('reconstructs every user, organisation membership and role exactly', async () => {
    // What the Xero data says, computed here independently of the server.
    const expectedUsers = new Map<string, { active: boolean; roles: Set<string>; orgs: Set<string> }>();
    for (const tenant of tenants) {
      for (const record of tenant.users) {
        const id = personId(record.email);
        const entry = expectedUsers.get(id) ?? { active: false, roles: new Set(), orgs: new Set() };
        if (record.role !== 'REMOVED') {
          entry.active = true;
          entry.orgs.add(tenant.organisation.id);
          if (isRoleCode(record.role)) entry.roles.add(`${roleId(tenant.organisation.id, record.role)}|${roleDisplayName(tenant.organisation, record.role)}`);
        }
        expectedUsers.set(id, entry);
      }
    }

    const listed = await crawl<ScimUser>('/scim/v2/Users');
    expect(listed.map((u) => u.id).sort()).toEqual([...expectedUsers.keys()].sort());

    const membersFromGroups = new Map<string, Set<string>>();
    for (const group of await crawl<ScimGroup>('/scim/v2/Groups')) {
      const full = (await get(`/scim/v2/Groups/${group.id}`)).body as ScimGroup;
      for (const m of full.members ?? []) {
        const set = membersFromGroups.get(m.value) ?? new Set<string>();
        set.add(full.id);
        membersFromGroups.set(m.value, set);
      }
    }

    for (const { id } of listed) {
      const res = await get(`/scim/v2/Users/${id}`);
      const user = res.body as ScimUser;
      const expected = expectedUsers.get(id)!;
      const primary = user.emails.find((e) => e.primary) ?? user.emails[0];
      expect(normaliseEmail(primary!.value)).toBe(user.userName);
      expect(user.active).toBe(expected.active);
      expect(new Set(user.roles.map((r) => `${r.value}|${r.display}`))).toEqual(expected.roles);
      expect(membersFromGroups.get(id) ?? new Set()).toEqual(expected.orgs);
    }
  });

  it('finds a user by userName and a group by displayName', async () => {
    const user = await get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "USER17@example.com"')}`);
    expect(user.body.Resources.map((u: ScimUser) => u.id)).toEqual([personId('user17@example.com')]);
    const group = await get(`/scim/v2/Groups?filter=${encodeURIComponent('displayName eq "Org 2"')}`);
    expect(group.body.totalResults).toBe(1);
  });
});

describe('Microsoft Entra ID', () => {
  const app = appFor();
  const get = (path: string) => request(app).get(path).set(AUTH).set('Accept', 'application/scim+json');
  const filter = (f: string) => encodeURIComponent(f);

  it('test connection: a random userName and externalId find nobody, as a ListResponse', async () => {
    for (const q of ['userName eq "9f1b8e4c-entra-probe@example.com"', 'externalId eq "2d6f7a30-0000-4000-8000-000000000000"']) {
      const res = await get(`/scim/v2/Users?filter=${filter(q)}`);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
      expect(res.body).toEqual({ schemas: [LIST], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
    }
  });

  it('test connection: a group by displayName without members', async () => {
    const res = await get(`/scim/v2/Groups?excludedAttributes=members&filter=${filter('displayName eq "Acme Ltd"')}`);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0]).toMatchObject({ id: ACME, displayName: 'Acme Ltd' });
    expect(res.body.Resources[0].members).toBeUndefined();
  });

  it('uniqueness check on the work e-mail', async () => {
    const res = await get(`/scim/v2/Users?filter=${filter('emails[type eq "work"].value eq "BOB@example.com"')}`);
    expect(res.body.Resources.map((u: ScimUser) => u.userName)).toEqual(['bob@example.com']);
  });

  it('inbound delta sync: seven-digit timestamps, mixed-case names, startindex=0', async () => {
    const q = 'ActiVe eq true and (meta.lastmodified ge "2024-03-01T10:00:00.0000000Z" and meta.lastModified le "2024-06-15T08:30:00.5000000Z")';
    const res = await get(`/scim/v2/Users?filter=${filter(q)}&startindex=0&count=100`);
    expect(res.status).toBe(200);
    expect(res.body.startIndex).toBe(1);
    // Ann (last modified 08:30:00.5, the upper bound) and Dan (April); Bob was last modified in February.
    expect(res.body.Resources.map((u: ScimUser) => u.userName).sort()).toEqual(['ann.smith@example.com', 'dan@example.com']);
  });
});

describe('Okta', () => {
  const app = appFor();
  const get = (path: string) => request(app).get(path).set(AUTH);

  it('conformance: the first page of one user is a full ListResponse with numeric fields', async () => {
    const res = await get('/scim/v2/Users?count=1&startIndex=1');
    expect(res.body).toMatchObject({ schemas: [LIST], totalResults: 4, itemsPerPage: 1, startIndex: 1 });
    const [user] = res.body.Resources as ScimUser[];
    expect(user).toMatchObject({ userName: expect.any(String), name: { givenName: expect.any(String), familyName: expect.any(String) }, active: expect.any(Boolean) });
    expect(user!.emails.length).toBe(1);
    expect((await get(`/scim/v2/Users/${user!.id}`)).body.id).toBe(user!.id);
  });

  it('conformance: an unknown userName finds nobody; an upper-cased known one matches', async () => {
    expect((await get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "okta-random-1234@example.com"')}`)).body.totalResults).toBe(0);
    expect((await get(`/scim/v2/Users?filter=${encodeURIComponent('userName eq "DAN@EXAMPLE.COM"')}`)).body.totalResults).toBe(1);
  });

  it('conformance: an unknown id is a 404 with the Error schema and a string status', async () => {
    const res = await get('/scim/v2/Users/010101001010101');
    expect(res.status).toBe(404);
    expect(res.body.schemas).toEqual([ERROR]);
    expect(res.body.status).toBe('404');
  });

  it('conformance: a bad token is a 401 with a SCIM error body', async () => {
    const res = await request(app).get('/scim/v2/Users').set('Authorization', 'Bearer wrong');
    expect(res.status).toBe(401);
    expect(res.body.schemas).toEqual([ERROR]);
  });

  it('entitlement discovery: /ResourceTypes → /Schemas → every Role endpoint, referenced from users', async () => {
    const types = (await get('/scim/v2/ResourceTypes')).body.Resources as { schema: string; endpoint: string }[];
    const entitlementTypes = types.filter((t) => t.schema === 'urn:okta:scim:schemas:core:1.0:Role');
    expect(entitlementTypes.map((t) => t.endpoint)).toEqual(['/Roles']);
    const schemas = (await get('/scim/v2/Schemas')).body.Resources.map((s: { id: string }) => s.id);
    expect(schemas).toContain('urn:okta:scim:schemas:core:1.0:Role');

    const roles = (await get('/scim/v2/Roles')).body.Resources as { schemas: string[]; id: string; displayName: string }[];
    for (const role of roles) {
      expect(role.schemas).toContain('urn:okta:scim:schemas:core:1.0:Role');
      expect(role.id).toEqual(expect.any(String));
      expect(role.displayName).toEqual(expect.any(String));
    }
    const roleNames = new Map(roles.map((r) => [r.id, r.displayName]));
    const users = (await get('/scim/v2/Users')).body.Resources as ScimUser[];
    const held = users.flatMap((u) => u.roles);
    expect(held.length).toBe(TENANTS.flatMap((t) => t.users).filter((r) => isRoleCode(r.role)).length);
    for (const r of held) expect(roleNames.get(r.value)).toBe(r.display);
  });
});

describe('SailPoint Identity Security Cloud discovery', () => {
  const app = appFor();
  const get = (path: string) => request(app).get(path).set(AUTH);

  it.each(['/ServiceProviderConfig', '/ResourceTypes', '/Schemas', '/ResourceTypes/User', '/ResourceTypes/Group'])('GET %s answers 200', async (path) => {
    const res = await get(`/scim/v2${path}`);
    expect(res.status).toBe(200);
    expect(res.body.schemas).toEqual(expect.any(Array));
  });

  it.each(['/ResourceTypes', '/Schemas', '/Users', '/Groups', '/Roles'])('every item of %s carries schemas', async (path) => {
    const res = await get(`/scim/v2${path}`);
    expect(res.body.Resources.length).toBeGreaterThan(0);
    for (const item of res.body.Resources) expect(item.schemas.length).toBeGreaterThan(0);
  });

  it('delta aggregation with attributes keeps schemas on every item', async () => {
    const q = encodeURIComponent('meta.lastModified gt "2024-02-01T10:00:00Z" and active eq true');
    const res = await get(`/scim/v2/Users?filter=${q}&attributes=userName`);
    expect(res.body.Resources.map((u: ScimUser) => u.userName).sort()).toEqual(['ann.smith@example.com', 'dan@example.com']);
    for (const item of res.body.Resources) expect(Object.keys(item)).toEqual(['schemas', 'id', 'userName']);
  });
});
