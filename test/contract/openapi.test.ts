/**
 * openapi/scim.yaml is the contract: every answer of a server on the sandbox's demo data (synced for real) is
 * checked against it, status, headers and body.
 *
 * The sweep is generated from the document itself: for each documented operation and response status there is
 * one request built to get exactly that status. So an answer that departs from the document fails, and so does a
 * documented status the server cannot actually produce. Scenario tests below then check what the schema cannot
 * (paging arithmetic, filters, attribute selection, the tenant view) and validate every answer on the way.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import YAML from 'yaml';
import { directoryOptions } from '../../src/commands/directory-options';
import { loadConfig } from '../../src/config';
import type { Directory } from '../../src/directory/model';
import { createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { createSandbox } from '../../src/sandbox';
import type { AttributeDefinition, SchemaDefinition } from '../../src/scim/attributes';
import { RESOURCE_TYPES, SEARCH_REQUEST_SCHEMA, USER_SCHEMA_ID } from '../../src/scim/schemas';
import { createApp } from '../../src/http/app';
import { VERSION } from '../../src/version';
import { OPENAPI_PATH, contract, exchangeOf, expectContract } from '../support/openapi';
import { webAppEnvironment } from '../support/sandbox';

const TOKEN = 'contract-token-0123456789';
const AUTH = `Bearer ${TOKEN}`;
/** Small, so clamping `count` is visible on the demo's 13 users. */
const MAX_RESULTS = 10;
const SEARCH = { schemas: [SEARCH_REQUEST_SCHEMA], count: 2 };

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
type Json = Record<string, unknown>;

interface Fixture {
  readonly app: Express;
  /** The same server before its directory has a snapshot. */
  readonly unsynced: Express;
  /** The same routes over a directory that throws (an unexpected failure). */
  readonly broken: Express;
  readonly tenantId: string;
  /** Real ids per collection, global view and tenant view. */
  readonly ids: { global: Record<string, string>; tenant: Record<string, string> };
  close(): Promise<void>;
}

async function startFixture(): Promise<Fixture> {
  const sandbox = createSandbox({ data: 'demo' });
  const xero = await sandbox.listen(0, '127.0.0.1');
  const organisations = sandbox.data.organisations();
  const stateDirs: string[] = [];
  const directoryOverSandbox = () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-contract-'));
    stateDirs.push(stateDir);
    const config = loadConfig({
      ...webAppEnvironment(sandbox, xero.url),
      STATE_DIR: stateDir,
    });
    return createXeroDirectory(directoryOptions(config), { logger: silentLogger, policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
  };
  // A public URL, as behind an ingress: supertest's port changes per request, and `meta.location` (so the ETag)
  // would change with it. trustProxy: each request that must fail authentication comes from its own X-Forwarded-For address, so the
  // failed-authentication throttle (429 after 20 failures per address) answers only where a test asks for it.
  const options = { tokens: [TOKEN], logger: silentLogger, basicAuth: true, maxResults: MAX_RESULTS, trustProxy: true, publicUrl: 'https://scim.example.test' };
  const directory = directoryOverSandbox();
  const unsyncedDirectory = directoryOverSandbox();
  expect((await directory.syncOnce()).outcome).toBe('ok');
  const throwing: Directory = {
    current: () => undefined,
    forRead: () => Promise.reject(new Error('the directory exploded')),
    status: () => ({ ready: false, reason: 'broken on purpose', tenants: [] }),
  };
  const app = createApp({ ...options, directory });
  const tenantId = organisations[0]!.organisationId;
  const firstId = async (base: string, collection: string) => {
    const res = await request(app).get(`${base}/${collection}?count=1`).set('Authorization', AUTH);
    return (res.body as { Resources: { id: string }[] }).Resources[0]!.id;
  };
  const idsOf = async (base: string) => ({
    Users: await firstId(base, 'Users'),
    Groups: await firstId(base, 'Groups'),
    Roles: await firstId(base, 'Roles'),
    ResourceTypes: 'User',
    Schemas: USER_SCHEMA_ID,
  });
  return {
    app,
    unsynced: createApp({ ...options, directory: unsyncedDirectory }),
    broken: createApp({ ...options, directory: throwing }),
    tenantId,
    ids: { global: await idsOf('/scim/v2'), tenant: await idsOf(`/scim/v2/tenants/${tenantId}`) },
    close: async () => {
      await directory.stop();
      await unsyncedDirectory.stop();
      await xero.close();
      for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
    },
  };
}

let fixture: Fixture;
beforeAll(async () => {
  fixture = await startFixture();
}, 60_000);
afterAll(async () => {
  await fixture?.close();
});

/** A documented path with its parameters filled in: real ones, or unknown ones where a 404 is wanted. */
function concrete(template: string, unknown: 'none' | 'id' | 'tenant' = 'none'): string {
  const tenant = template.includes('{tenantId}');
  const collection = template.match(/\/(\w+)\/\{id\}$/)?.[1];
  return template
    .replace('{tenantId}', unknown === 'tenant' ? 'no-such-tenant' : fixture.tenantId)
    .replace('{id}', () => (unknown === 'id' ? 'no-such-id' : (tenant ? fixture.ids.tenant : fixture.ids.global)[collection!]!));
}

let clients = 0;
/** A client address of its own, from the documentation prefix (RFC 3849): a header value only, nothing is sent there. */
const newClient = () => `2001:db8::${(++clients).toString(16)}`;

function send(app: Express, method: Method, url: string, authorised = true): request.Test {
  const req = request(app)[method](url);
  return authorised ? req.set('Authorization', AUTH) : req.set('X-Forwarded-For', newClient());
}

/** The request that should get `status` from `method template`. */
async function provoke(method: Method, template: string, status: string): Promise<request.Response> {
  const { app } = fixture;
  const isSearch = template.endsWith('/.search') && method === 'post';
  const isList = /\/(Users|Groups|Roles)$/.test(template) && method === 'get';
  const isDiscovery = /\/(ServiceProviderConfig|ResourceTypes|Schemas)(\/\{id\})?$/.test(template);
  const withBody = (req: request.Test) => (isSearch ? req.send(SEARCH) : req);
  switch (status) {
    case '200': {
      if (template === '/') return send(app, method, '/');
      return withBody(send(app, method, concrete(template) + (isList ? '?count=2' : '')));
    }
    case '304': {
      const url = concrete(template);
      const first = await send(app, method, url);
      expectContract(first);
      expect(first.headers.etag).toEqual(expect.any(String));
      return send(app, method, url).set('If-None-Match', first.headers.etag as string);
    }
    case '400': {
      if (isSearch) return send(app, method, concrete(template)).send({ filter: 'userName eq "a"' }); // no `schemas`
      if (isList) return send(app, method, `${concrete(template)}?filter=${encodeURIComponent('userName xx "a"')}`);
      return send(app, method, `${concrete(template)}?attributes=userName&excludedAttributes=emails`);
    }
    case '401':
      return withBody(send(app, method, concrete(template), false));
    case '429': {
      // Use up one address's failed attempts, then send the right token from it.
      const client = newClient();
      const guarded = template === '/' ? '/' : '/scim/v2/Users'; // the status page has a throttle of its own
      for (let i = 0; i < 20; i++) expect((await request(app).get(guarded).set('X-Forwarded-For', client).set('Authorization', 'Bearer wrong')).status).toBe(401);
      return withBody(send(app, method, concrete(template)).set('X-Forwarded-For', client));
    }
    case '403':
      return send(app, method, `${concrete(template)}?filter=${encodeURIComponent('id eq "User"')}`);
    case '404':
      return withBody(send(app, method, concrete(template, template.includes('{id}') ? 'id' : 'tenant')));
    case '405':
    case '501':
      return withBody(send(app, method, concrete(template)));
    case '413':
      return send(app, method, concrete(template)).send({ ...SEARCH, filter: `userName eq "${'a'.repeat(70_000)}"` });
    case '415':
      return send(app, method, concrete(template)).set('Content-Type', 'application/scim+json; charset=iso-8859-1').send(JSON.stringify(SEARCH));
    case '500':
      return withBody(send(fixture.broken, method, concrete(template)));
    case '503':
      if (template === '/readyz') return send(fixture.unsynced, method, template, false);
      return withBody(send(fixture.unsynced, method, concrete(template)));
    default:
      throw new Error(`no recipe for ${status} (${isDiscovery ? 'discovery' : 'resource'} ${method} ${template})`);
  }
}

/**
 * Every documented response, except 500 where nothing reads the directory (refusals and the global discovery
 * documents answer without it, so no failure can be injected there: their 500 is documented for bugs only).
 */
function sweepCases(): [string, Method, string, string][] {
  const doc = YAML.parse(readFileSync(OPENAPI_PATH, 'utf8')) as { paths: Record<string, Record<string, Json>> };
  const cases: [string, Method, string, string][] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
      const operation = item[method] as { responses: Json } | undefined;
      if (!operation) continue;
      const statuses = Object.keys(operation.responses);
      for (const status of statuses) {
        if (status === '500' && !statuses.includes('503')) continue;
        cases.push([`${method.toUpperCase()} ${template} → ${status}`, method, template, status]);
      }
    }
  }
  return cases;
}

describe('openapi/scim.yaml: every documented response, provoked and validated', () => {
  const cases = sweepCases();

  it('covers every operation (sanity check of the generated table)', () => {
    const operations = (keys: string[]) => new Set(keys.map((key) => key.split(' ').slice(0, 2).join(' ')));
    expect(operations(cases.map(([, method, template]) => `${method} ${template} _`))).toEqual(operations(contract().documented()));
    expect(cases.length).toBeGreaterThan(300);
  });

  it.each(cases)('%s', async (_name, method, template, status) => {
    const res = await provoke(method, template, status);
    expect(`${res.status}`).toBe(status);
    expectContract(res);
  });
});

describe('the document against the server’s own declarations (src/scim/schemas.ts)', () => {
  const jsonType = (a: AttributeDefinition) => (a.multiValued ? 'array' : a.type === 'boolean' ? 'boolean' : a.type === 'complex' ? 'object' : 'string');

  /** Property names and JSON types of an OpenAPI object schema, recursively, as `path: type` lines. */
  function documentedShape(schema: Json, prefix = ''): string[] {
    const properties = (schema.properties ?? {}) as Record<string, Json>;
    return Object.entries(properties).flatMap(([name, property]) => {
      const resolved = contract().resolve(property) as Json;
      const inner = resolved.type === 'array' ? (contract().resolve(resolved.items) as Json) : resolved;
      const line = `${prefix}${name}: ${String(resolved.type)}`;
      return inner.type === 'object' ? [line, ...documentedShape(inner, `${prefix}${name}.`)] : [line];
    });
  }

  function declaredShape(attributes: readonly AttributeDefinition[], prefix = ''): string[] {
    return attributes.flatMap((a) => {
      const line = `${prefix}${a.name}: ${jsonType(a)}`;
      return a.subAttributes ? [line, ...declaredShape(a.subAttributes, `${prefix}${a.name}.`)] : [line];
    });
  }

  it.each(RESOURCE_TYPES.map((t) => [t.name, t] as const))('%s: the same attributes, sub-attributes and JSON types', (name, type) => {
    const extension = (s: SchemaDefinition): AttributeDefinition => ({
      name: s.id,
      type: 'complex',
      multiValued: false,
      description: '',
      required: false,
      caseExact: false,
      mutability: 'readOnly',
      returned: 'default',
      uniqueness: 'none',
      subAttributes: s.attributes,
    });
    const declared = declaredShape([...type.schema.core.attributes, ...type.schema.extensions.map(extension)]);
    const documented = documentedShape(contract().resolve({ $ref: `#/components/schemas/${name}` }) as Json);
    expect(documented.sort()).toEqual(declared.sort());
  });
});

describe('GET /openapi.yaml', () => {
  it('describes this version of the server', () => {
    const info = contract().document.info as { version: string };
    expect(info.version).toBe(VERSION);
  });

  it('serves openapi/scim.yaml byte for byte, without authentication, as application/yaml', async () => {
    const res = expectContract(await request(fixture.app).get('/openapi.yaml').buffer(true));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/yaml; charset=utf-8');
    expect(exchangeOf(res).text).toBe(readFileSync(OPENAPI_PATH, 'utf8'));
  });
});

/** GET with the token, validated against the document; returns the parsed body. */
async function scim(url: string, status = 200): Promise<Json> {
  const res = expectContract(await send(fixture.app, 'get', url));
  expect(res.status).toBe(status);
  return res.body as Json;
}

type ListBody = { totalResults: number; itemsPerPage: number; startIndex: number; Resources: Json[] };

describe('RFC 7644 §3.4.2 lists on demo data', () => {
  it('returns every attribute the declarations return by default when no selection is asked for', async () => {
    for (const type of RESOURCE_TYPES) {
      for (const base of ['/scim/v2', `/scim/v2/tenants/${fixture.tenantId}`]) {
        const list = (await scim(`${base}${type.endpoint}`)) as unknown as ListBody;
        // externalId is declared (RFC 7643 §3.1) but this server never sets one.
        const expected = [...type.schema.core.attributes.map((a) => a.name).filter((n) => n !== 'externalId'), ...type.schema.extensions.map((e) => e.id)].sort();
        expect(list.Resources.length).toBeGreaterThan(0);
        for (const resource of list.Resources) expect(Object.keys(resource).sort()).toEqual(expected);
      }
    }
  });

  it.each([
    ['count=0 returns only totals', '?count=0', { itemsPerPage: 0, startIndex: 1, length: 0 }],
    ['startIndex below 1 is treated as 1', '?startIndex=0&count=3', { itemsPerPage: 3, startIndex: 1, length: 3 }],
    ['a page past the end is empty, with Resources present', '?startIndex=500&count=3', { itemsPerPage: 0, startIndex: 500, length: 0 }],
    ['the last partial page has itemsPerPage equal to what it holds', '?startIndex=12&count=5', { itemsPerPage: 2, startIndex: 12, length: 2 }],
    ['count above filter.maxResults is clamped to it', '?count=100', { itemsPerPage: MAX_RESULTS, startIndex: 1, length: MAX_RESULTS }],
    ['a negative count is read as 0', '?count=-4', { itemsPerPage: 0, startIndex: 1, length: 0 }],
    ['parameter names are case-insensitive (Entra sends startindex)', '?startindex=13&COUNT=1', { itemsPerPage: 1, startIndex: 13, length: 1 }],
  ])('paging: %s', async (_name, query, expected) => {
    const list = (await scim(`/scim/v2/Users${query}`)) as unknown as ListBody;
    expect({ totalResults: list.totalResults, itemsPerPage: list.itemsPerPage, startIndex: list.startIndex, length: list.Resources.length }).toEqual({
      totalResults: 13,
      ...expected,
    });
  });

  it('filters: userName eq (case-insensitive), a value path, a delta window, and an empty match', async () => {
    const all = (await scim('/scim/v2/Users?count=10')) as unknown as ListBody;
    const someone = all.Resources.find((u) => (u.roles as unknown[]).length > 0)!;
    const filtered = async (filter: string) => ((await scim(`/scim/v2/Users?filter=${encodeURIComponent(filter)}`)) as unknown as ListBody).Resources.map((u) => u.id);
    expect(await filtered(`userName eq "${String(someone.userName).toUpperCase()}"`)).toEqual([someone.id]);
    expect(await filtered(`emails[type eq "work"].value eq "${String(someone.userName)}"`)).toEqual([someone.id]);
    const total = async (filter: string) => ((await scim(`/scim/v2/Users?count=0&filter=${encodeURIComponent(filter)}`)) as unknown as ListBody).totalResults;
    // Entra's delta filter: seven fractional digits, a window that covers everything.
    const active = await total('active eq true');
    expect(active).toBeGreaterThan(0);
    expect(active).toBeLessThan(13);
    expect(await total('active eq true and (meta.lastModified ge "0001-01-03T00:00:00.0000000Z" and meta.lastModified le "2999-01-01T00:00:00.0000000Z")')).toBe(active);
    const none = (await scim('/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.invalid%22')) as unknown as ListBody;
    expect(none).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: 0, itemsPerPage: 0, startIndex: 1, Resources: [] });
  });

  it('answers 400 invalidFilter with the RFC 7644 §3.12 body for an unknown operator', async () => {
    const body = await scim(`/scim/v2/Users?filter=${encodeURIComponent('userName xx "a"')}`, 400);
    expect(body).toEqual({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '400', scimType: 'invalidFilter', detail: expect.any(String) });
  });

  it('sorts by userName descending', async () => {
    const list = (await scim('/scim/v2/Users?sortBy=userName&sortOrder=descending&count=10')) as unknown as ListBody;
    const names = list.Resources.map((u) => u.userName as string);
    expect(names).toEqual([...names].sort().reverse());
  });

  it('attributes and excludedAttributes shape every resource (schemas and id always stay)', async () => {
    const picked = (await scim('/scim/v2/Users?attributes=userName,name.givenName&count=2')) as unknown as ListBody;
    for (const user of picked.Resources) expect(Object.keys(user).sort()).toEqual(['id', 'name', 'schemas', 'userName']);
    for (const user of picked.Resources) expect(Object.keys(user.name as Json)).toEqual(['givenName']);
    const groups = (await scim('/scim/v2/Groups?excludedAttributes=members')) as unknown as ListBody;
    expect(groups.totalResults).toBe(3);
    for (const group of groups.Resources) expect(group).not.toHaveProperty('members');
    const one = await scim(`/scim/v2/Groups/${fixture.ids.global.Groups}?attributes=displayName`);
    expect(Object.keys(one).sort()).toEqual(['displayName', 'id', 'schemas']);
  });

  it('the tenant view uses Xero UserIDs and baton-xero role slugs', async () => {
    const roles = (await scim(`/scim/v2/tenants/${fixture.tenantId}/Roles`)) as unknown as ListBody;
    for (const role of roles.Resources) expect(role.id).toMatch(/^(readonly|invoiceonly|standard|financialadviser|managedclient|cashbookclient)$/);
    const users = (await scim(`/scim/v2/tenants/${fixture.tenantId}/Users`)) as unknown as ListBody;
    for (const user of users.Resources) {
      const records = (user['urn:xero-scim:schemas:extension:xero:1.0:User'] as { organisations: { xeroUserId: string }[] }).organisations;
      expect(records.map((r) => r.xeroUserId)).toEqual([user.id]);
    }
    const groups = (await scim(`/scim/v2/tenants/${fixture.tenantId}/Groups`)) as unknown as ListBody;
    expect(groups.Resources.map((g) => g.id)).toEqual([fixture.tenantId]);
  });

  it('a root search returns Users, Groups and Roles in one list, paged across types', async () => {
    const counts: Record<string, number> = {};
    let total = 0;
    for (let startIndex = 1; startIndex === 1 || startIndex <= total; startIndex += MAX_RESULTS) {
      const res = expectContract(await send(fixture.app, 'post', '/scim/v2/.search').send({ schemas: [SEARCH_REQUEST_SCHEMA], attributes: ['displayName'], startIndex }));
      const page = res.body as ListBody;
      total = page.totalResults;
      for (const r of page.Resources) counts[(r.schemas as string[])[0]!] = (counts[(r.schemas as string[])[0]!] ?? 0) + 1;
    }
    const sizes = await Promise.all(['Users', 'Groups', 'Roles'].map(async (c) => ((await scim(`/scim/v2/${c}?count=0`)) as unknown as ListBody).totalResults));
    expect(counts).toEqual({
      'urn:ietf:params:scim:schemas:core:2.0:User': sizes[0],
      'urn:ietf:params:scim:schemas:core:2.0:Group': sizes[1],
      'urn:okta:scim:schemas:core:1.0:Role': sizes[2],
    });
    expect(total).toBe(sizes[0]! + sizes[1]! + sizes[2]!);
  });
});

describe('HEAD', () => {
  it('is answered wherever GET is, with its headers and no body', async () => {
    for (const url of ['/scim/v2/Users?count=1', `/scim/v2/Groups/${fixture.ids.global.Groups}`, '/scim/v2/ServiceProviderConfig', '/healthz']) {
      const res = expectContract(await request(fixture.app).head(url).set('Authorization', AUTH));
      expect(`${url} ${res.status} ${exchangeOf(res).text}`).toBe(`${url} 200 `);
    }
  });
});

describe('the validator itself', () => {
  // Proof that the contract can fail: each answer below departs from the document in one way.
  const valid = { method: 'GET', url: '/scim/v2/Users/x', status: 404, headers: { 'content-type': 'application/scim+json; charset=utf-8', 'x-request-id': 'r' } };
  const errorBody = { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '404', detail: 'User "x" not found.' };

  it('accepts a conforming answer', () => {
    expect(contract().problems({ ...valid, text: JSON.stringify(errorBody) })).toEqual([]);
  });

  it.each([
    ['status as a number', { ...valid, text: JSON.stringify({ ...errorBody, status: 404 }) }, /body .*status must be string/],
    ['an undocumented attribute', { ...valid, text: JSON.stringify({ ...errorBody, internal: 'stack' }) }, /must NOT have additional properties/],
    ['an undocumented status', { ...valid, status: 418, text: JSON.stringify(errorBody) }, /status 418 is not documented/],
    ['a missing required header', { ...valid, headers: { 'content-type': 'application/scim+json' }, text: JSON.stringify(errorBody) }, /required header X-Request-Id is missing/],
    ['an undocumented media type', { ...valid, headers: { ...valid.headers, 'content-type': 'text/html' }, text: '<p>' }, /content type "text\/html" is not documented/],
    ['an undocumented route', { ...valid, url: '/scim/v2/Widgets', text: '{}' }, /no documented path matches/],
  ])('rejects %s', (_name, exchange, message) => {
    const problems = contract().problems(exchange);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it('rejects a User with a number where the document says string', () => {
    expect(contract().validateComponent('User', { schemas: [USER_SCHEMA_ID], id: 'x', userName: 42 })).toMatch(/userName must be string/);
  });
});
