import request from 'supertest';
import SCIMMY from 'scimmy';
import { personId, roleId } from '../../src/directory/ids';
import { ACME, AUTH, BASE, BETA, appFor } from '../http/fixtures';

const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ROLE = 'urn:okta:scim:schemas:core:1.0:Role';
const XERO_USER = 'urn:xero-scim:schemas:extension:xero:1.0:User';
const XERO_ROLE = 'urn:xero-scim:schemas:extension:xero:1.0:Role';
const XERO_ORG = 'urn:xero-scim:schemas:extension:xero:1.0:Organisation';

const ann = personId('ann.smith@example.com');
const bob = personId('bob@example.com');
const cat = personId('cat@example.com');
const dan = personId('dan@example.com');

describe('RFC 7643 §4.1 User', () => {
  const app = appFor();

  it('renders a person merged across organisations, with groups, roles and the Xero extension', async () => {
    const res = await request(app).get(`/scim/v2/Users/${ann}`).set(AUTH);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      schemas: [USER, XERO_USER],
      id: ann,
      userName: 'ann.smith@example.com',
      name: { formatted: 'Ann Smith', familyName: 'Smith', givenName: 'Ann' },
      displayName: 'Ann Smith',
      // The e-mail as Xero shows it in the most recently updated record.
      emails: [{ value: 'ann.smith@example.com', type: 'work', primary: true }],
      active: true,
      groups: [
        { value: ACME, $ref: `${BASE}/Groups/${ACME}`, display: 'Acme Ltd', type: 'direct' },
        { value: BETA, $ref: `${BASE}/Groups/${BETA}`, display: 'Beta & Co', type: 'direct' },
      ],
      roles: [
        // No `type`: the role code is in the extension below (see the strict-library test).
        { value: roleId(ACME, 'STANDARD'), display: 'Acme Ltd — Standard', primary: false },
        { value: roleId(BETA, 'FINANCIALADVISER'), display: 'Beta & Co — Financial adviser', primary: false },
      ],
      [XERO_USER]: {
        organisations: [
          { value: ACME, display: 'Acme Ltd', xeroUserId: 'a0000000-0000-4000-8000-00000000000a', role: 'STANDARD', isSubscriber: true, updated: '2024-03-01T10:00:00Z' },
          { value: BETA, display: 'Beta & Co', xeroUserId: 'b0000000-0000-4000-8000-00000000000a', role: 'FINANCIALADVISER', isSubscriber: false, updated: '2024-06-15T08:30:00.5Z' },
        ],
      },
      meta: {
        resourceType: 'User',
        created: '2024-03-01T10:00:00Z',
        lastModified: '2024-06-15T08:30:00.5Z',
        location: `${BASE}/Users/${ann}`,
        version: res.headers.etag,
      },
    });
    expect(res.headers.etag).toMatch(/^W\/"[A-Za-z0-9_-]+"$/);
  });

  it('shows a removed user as inactive, without groups or roles, but keeps the Xero record', async () => {
    const res = await request(app).get(`/scim/v2/Users/${cat}`).set(AUTH);
    expect(res.body.active).toBe(false);
    expect(res.body.groups).toEqual([]);
    expect(res.body.roles).toEqual([]);
    expect(res.body[XERO_USER].organisations[0].role).toBe('REMOVED');
  });

  it('lists users in a stable order, by id', async () => {
    const res = await request(app).get('/scim/v2/Users').set(AUTH);
    expect(res.body.Resources.map((u: { id: string }) => u.id)).toEqual([ann, bob, cat, dan].sort());
  });

  it('passes a strict SCIM library’s core User schema (SCIMMY), roles included', async () => {
    // RFC 7643 §8.7.1 gives roles.type no canonical values, so SCIMMY refuses any value there: the role's Xero code
    // is in the extension instead. A server that sent roles[].type failed this for every user with a role.
    const users = (await request(app).get('/scim/v2/Users').set(AUTH)).body.Resources as Record<string, unknown>[];
    for (const user of users) {
      const core = Object.fromEntries(Object.entries(user).filter(([key]) => !key.startsWith('urn:') && key !== 'meta'));
      expect(() => SCIMMY.Schemas.User.definition.coerce({ ...core, schemas: [USER] }, 'out')).not.toThrow();
    }
    expect(users.some((u) => (u.roles as unknown[]).length > 0)).toBe(true);
  });

  it('treats ids as case-exact (Okta)', async () => {
    const res = await request(app).get(`/scim/v2/Users/${ann.toUpperCase()}`).set(AUTH);
    expect(res.status).toBe(404);
  });
});

describe('RFC 7643 §4.2 Group (a Xero organisation)', () => {
  const app = appFor();

  it('renders members with $ref and type, and the organisation extension', async () => {
    const res = await request(app).get(`/scim/v2/Groups/${BETA}`).set(AUTH);
    expect(res.body).toEqual({
      schemas: [GROUP, XERO_ORG],
      id: BETA,
      displayName: 'Beta & Co',
      members: [
        { value: dan, $ref: `${BASE}/Users/${dan}`, display: 'Dan Brown', type: 'User' },
        { value: ann, $ref: `${BASE}/Users/${ann}`, display: 'Ann Smith', type: 'User' },
      ].sort((a, b) => (a.value < b.value ? -1 : 1)),
      [XERO_ORG]: {
        shortCode: '!Beta',
        organisationType: 'COMPANY',
        countryCode: 'AU',
        baseCurrency: 'AUD',
        edition: 'PARTNER',
        class: 'PREMIUM',
        status: 'ACTIVE',
        tenantType: 'ORGANISATION',
        connectionId: 'conn-2222',
      },
      meta: {
        resourceType: 'Group',
        created: '2020-01-01T00:00:00Z',
        lastModified: '2024-06-15T08:30:00.5Z',
        location: `${BASE}/Groups/${BETA}`,
        version: res.headers.etag,
      },
    });
  });
});

describe('Role (urn:okta:scim:schemas:core:1.0:Role)', () => {
  const app = appFor();

  it('renders one role of one organisation with its holders', async () => {
    const id = roleId(ACME, 'READONLY');
    const res = await request(app).get(`/scim/v2/Roles/${id}`).set(AUTH);
    expect(res.body).toEqual({
      schemas: [ROLE, XERO_ROLE],
      id,
      displayName: 'Acme Ltd — Read only',
      description: 'The Read only role in Acme Ltd.',
      [XERO_ROLE]: {
        code: 'READONLY',
        organisation: { value: ACME, $ref: `${BASE}/Groups/${ACME}`, display: 'Acme Ltd' },
        members: [{ value: bob, $ref: `${BASE}/Users/${bob}`, display: 'Bob Jones', type: 'User' }],
      },
      meta: { resourceType: 'Role', created: '2019-05-01T00:00:00Z', lastModified: '2024-02-01T10:00:00Z', location: `${BASE}/Roles/${id}`, version: res.headers.etag },
    });
  });

  it('lists the grantable roles of each organisation (Partner-only roles only in Partner editions)', async () => {
    const res = await request(app).get('/scim/v2/Roles?count=100').set(AUTH);
    const codes = (org: string) =>
      res.body.Resources.filter((r: Record<string, { organisation: { value: string } }>) => r[XERO_ROLE]!.organisation.value === org)
        .map((r: Record<string, { code: string }>) => r[XERO_ROLE]!.code)
        .sort();
    expect(codes(ACME)).toEqual(['FINANCIALADVISER', 'INVOICEONLY', 'READONLY', 'STANDARD']);
    expect(codes(BETA)).toEqual(['CASHBOOKCLIENT', 'FINANCIALADVISER', 'INVOICEONLY', 'MANAGEDCLIENT', 'READONLY', 'STANDARD']);
  });
});

describe('tenant-scoped view /tenants/{tenantId} (baton-xero identifiers)', () => {
  const app = appFor();
  const tenant = `/scim/v2/tenants/${BETA}`;

  it('uses the Xero UserID as the user id and baton-xero slugs as role values', async () => {
    const res = await request(app).get(`${tenant}/Users/b0000000-0000-4000-8000-00000000000a`).set(AUTH);
    expect(res.status).toBe(200);
    expect(res.body.id).toBe('b0000000-0000-4000-8000-00000000000a');
    expect(res.body.userName).toBe('ann.smith@example.com');
    expect(res.body.roles).toEqual([{ value: 'financialadviser', display: 'Financial adviser', primary: false }]);
    expect(res.body.groups).toEqual([{ value: BETA, $ref: `${BASE}/tenants/${BETA}/Groups/${BETA}`, display: 'Beta & Co', type: 'direct' }]);
    expect(res.body.meta.location).toBe(`${BASE}/tenants/${BETA}/Users/b0000000-0000-4000-8000-00000000000a`);
  });

  it('lists only that organisation’s users, removed ones inactive', async () => {
    const res = await request(app).get(`${tenant}/Users`).set(AUTH);
    expect(res.body.Resources.map((u: { id: string; active: boolean }) => [u.id, u.active])).toEqual([
      ['b0000000-0000-4000-8000-00000000000a', true],
      ['b0000000-0000-4000-8000-00000000000c', false],
      ['b0000000-0000-4000-8000-00000000000d', true],
    ]);
  });

  it('serves one Group (the organisation) with Xero UserIDs as member values', async () => {
    const res = await request(app).get(`${tenant}/Groups`).set(AUTH);
    expect(res.body.totalResults).toBe(1);
    expect(res.body.Resources[0].members.map((m: { value: string }) => m.value)).toEqual(['b0000000-0000-4000-8000-00000000000a', 'b0000000-0000-4000-8000-00000000000d']);
  });

  it('serves roles under baton-xero slugs, spelling FINANCIALADVISER correctly', async () => {
    const res = await request(app).get(`${tenant}/Roles`).set(AUTH);
    expect(res.body.Resources.map((r: { id: string }) => r.id)).toEqual(['cashbookclient', 'financialadviser', 'invoiceonly', 'managedclient', 'readonly', 'standard']);
    const managed = await request(app).get(`${tenant}/Roles/managedclient`).set(AUTH);
    expect(managed.body[XERO_ROLE].members).toEqual([
      { value: 'b0000000-0000-4000-8000-00000000000d', $ref: `${BASE}/tenants/${BETA}/Users/b0000000-0000-4000-8000-00000000000d`, display: 'Dan Brown', type: 'User' },
    ]);
  });

  it('answers 404 for an unknown tenant', async () => {
    const res = await request(app).get('/scim/v2/tenants/unknown/Users').set(AUTH);
    expect(res.status).toBe(404);
    expect(res.body.detail).toBe('No connected organisation has the id "unknown".');
  });

  it('serves discovery under the tenant path too', async () => {
    const res = await request(app).get(`${tenant}/ResourceTypes/User`).set(AUTH);
    expect(res.body.meta.location).toBe(`${BASE}/tenants/${BETA}/ResourceTypes/User`);
  });
});
