import request from 'supertest';
import { AUTH, BASE, appFor } from '../http/fixtures';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const app = appFor(undefined, { maxResults: 500, basicAuth: true });
const get = (path: string) => request(app).get(path).set(AUTH);

describe('RFC 7644 §4 /ServiceProviderConfig (RFC 7643 §5)', () => {
  it('advertises exactly what is implemented', async () => {
    const res = await get('/scim/v2/ServiceProviderConfig');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.body).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      documentationUri: 'https://www.rfc-editor.org/rfc/rfc7644',
      patch: { supported: false },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: 500 },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
      // RFC 9865 §4: both methods, index the default (clients written before cursors page by startIndex unasked).
      pagination: { cursor: true, index: true, defaultPaginationMethod: 'index', defaultPageSize: 500, maxPageSize: 500, cursorTimeout: 600 },
      authenticationSchemes: [
        expect.objectContaining({ type: 'oauthbearertoken', primary: true }),
        expect.objectContaining({ type: 'httpbasic', primary: false }),
      ],
      meta: { resourceType: 'ServiceProviderConfig', location: `${BASE}/ServiceProviderConfig` },
    });
  });
});

describe('RFC 7644 §4 /ResourceTypes (RFC 7643 §6)', () => {
  it('lists User, Group and Role, each with schemas, id and its extension', async () => {
    const res = await get('/scim/v2/ResourceTypes');
    expect(res.body).toMatchObject({ totalResults: 3, itemsPerPage: 3, startIndex: 1 });
    expect(res.body.Resources).toEqual([
      {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
        id: 'User',
        name: 'User',
        endpoint: '/Users',
        description: expect.any(String),
        schema: 'urn:ietf:params:scim:schemas:core:2.0:User',
        schemaExtensions: [{ schema: 'urn:xero-scim:schemas:extension:xero:1.0:User', required: false }],
        meta: { resourceType: 'ResourceType', location: `${BASE}/ResourceTypes/User` },
      },
      expect.objectContaining({ id: 'Group', endpoint: '/Groups', schema: 'urn:ietf:params:scim:schemas:core:2.0:Group' }),
      expect.objectContaining({ id: 'Role', endpoint: '/Roles', schema: 'urn:okta:scim:schemas:core:1.0:Role' }),
    ]);
  });

  it('serves each by id, and 404 for others', async () => {
    expect((await get('/scim/v2/ResourceTypes/Group')).body.id).toBe('Group');
    const missing = await get('/scim/v2/ResourceTypes/Device');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ schemas: [ERROR], status: '404', detail: 'No resource type "Device"; this server has User, Group and Role.' });
  });

  it('answers a filter with 403, as RFC 7644 §4 asks', async () => {
    const res = await get('/scim/v2/ResourceTypes?filter=id%20eq%20%22User%22');
    expect(res.status).toBe(403);
    expect(res.body.schemas).toEqual([ERROR]);
  });
});

describe('RFC 7644 §4 /Schemas (RFC 7643 §7)', () => {
  it('describes every schema a resource type names, with every characteristic', async () => {
    const res = await get('/scim/v2/Schemas');
    const ids = res.body.Resources.map((s: { id: string }) => s.id);
    expect(ids).toEqual([
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:xero-scim:schemas:extension:xero:1.0:User',
      'urn:ietf:params:scim:schemas:core:2.0:Group',
      'urn:xero-scim:schemas:extension:xero:1.0:Organisation',
      'urn:okta:scim:schemas:core:1.0:Role',
      'urn:xero-scim:schemas:extension:xero:1.0:Role',
    ]);
    for (const schema of res.body.Resources) {
      expect(schema.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:Schema']);
      expect(schema.meta).toEqual({ resourceType: 'Schema', location: `${BASE}/Schemas/${schema.id}` });
      for (const attribute of schema.attributes) {
        expect(Object.keys(attribute)).toEqual(
          expect.arrayContaining(['name', 'type', 'multiValued', 'description', 'required', 'caseExact', 'mutability', 'returned', 'uniqueness']),
        );
        expect(attribute.mutability).toBe('readOnly');
      }
    }
  });

  it('leaves the RFC 7643 §3.1 common attributes (id, externalId, meta) out of the core schemas', async () => {
    const res = await get('/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User');
    const names = res.body.attributes.map((a: { name: string }) => a.name);
    expect(names).toEqual(['userName', 'name', 'displayName', 'emails', 'active', 'groups', 'roles']);
    expect(res.body.attributes.find((a: { name: string }) => a.name === 'userName')).toMatchObject({ caseExact: false, uniqueness: 'server', required: true });
  });

  it('serves the Role extension that describes code, organisation and members', async () => {
    const res = await get('/scim/v2/Schemas/URN:XERO-SCIM:schemas:extension:xero:1.0:Role');
    expect(res.status).toBe(200);
    expect(res.body.attributes.map((a: { name: string }) => a.name)).toEqual(['code', 'organisation', 'members']);
  });

  it('answers 404 for an unknown schema', async () => {
    const res = await get('/scim/v2/Schemas/urn:example:nothing');
    expect(res.status).toBe(404);
  });
});
