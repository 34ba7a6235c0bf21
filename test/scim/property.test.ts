/**
 * Property tests (fast-check): whatever query a client sends, the answer is a SCIM response, never a 500.
 */
import fc from 'fast-check';
import request from 'supertest';
import { AUTH, appFor, generatedTenants, snapshotOf } from '../http/fixtures';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const app = appFor(snapshotOf(generatedTenants(2, 30, 3)), { maxResults: 20 });

const attributeName = fc.constantFrom(
  'userName', 'USERNAME', 'id', 'externalId', 'displayName', 'active', 'emails', 'emails.value', 'emails.type', 'name.givenName',
  'name', 'meta.lastModified', 'meta.created', 'groups.value', 'roles.display', 'members', 'members.value', 'shoeSize', 'a.b.c',
  'urn:ietf:params:scim:schemas:core:2.0:User:userName', 'urn:xero-scim:schemas:extension:xero:1.0:User:organisations.role', 'urn:nope:x',
  '', '$ref', 'emails[type eq "work"].value',
);
const operator = fc.constantFrom('eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le', 'EQ', 'Co', 'zz', '==');
const value = fc.oneof(
  fc.string({ maxLength: 12 }).map((s) => JSON.stringify(s)),
  fc.constantFrom('true', 'false', 'null', '42', '-1.5e3', '"2024-02-01T10:00:00.1234567Z"', '"0001-01-01T00:00:00Z"', '"user1@example.com"', '"', '"\\u00"'),
  fc.integer().map(String),
);
const term = fc.oneof(
  fc.tuple(attributeName, operator, value).map(([a, o, v]) => `${a} ${o} ${v}`),
  attributeName.map((a) => `${a} pr`),
  fc.tuple(attributeName, attributeName, operator, value).map(([a, b, o, v]) => `${a}[${b} ${o} ${v}]`),
);
const filter: fc.Arbitrary<string> = fc.letrec<{ f: string }>((tie) => ({
  f: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    term,
    fc.tuple(tie('f'), fc.constantFrom('and', 'or', 'AND', 'Or', 'xor'), tie('f')).map(([l, op, r]) => `${l} ${op} ${r}`),
    tie('f').map((f) => `not (${f})`),
    tie('f').map((f) => `(${f}`),
    fc.string({ maxLength: 30 }),
  ),
})).f;

const parameter = fc.tuple(
  fc.constantFrom('filter', 'startIndex', 'startindex', 'count', 'COUNT', 'cursor', 'sortBy', 'sortOrder', 'attributes', 'excludedAttributes', 'other'),
  fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -1e12, max: 1e12 }).map(String), attributeName, fc.constantFrom('ascending', 'DESCENDING', '1e3', '')),
);

function expectScimAnswer(res: request.Response): void {
  expect(res.status).not.toBe(500);
  if (res.status === 304) return;
  expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  if (res.status >= 400) {
    expect(res.body.schemas).toEqual([ERROR]);
    expect(res.body.status).toBe(String(res.status));
    expect(res.body.detail).toEqual(expect.any(String));
  } else {
    expect(res.body.itemsPerPage).toBe(res.body.Resources.length);
  }
}

describe('never a 500, always a SCIM body', () => {
  it('for random filters on every resource type', async () => {
    await fc.assert(
      fc.asyncProperty(filter, fc.constantFrom('Users', 'Groups', 'Roles'), async (f, endpoint) => {
        const res = await request(app).get(`/scim/v2/${endpoint}`).query({ filter: f }).set(AUTH);
        expectScimAnswer(res);
      }),
      { numRuns: 150 },
    );
  });

  it('for random query strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(parameter, { maxLength: 5 }), async (parameters) => {
        const query = parameters.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
        const res = await request(app).get(`/scim/v2/Users?${query}`).set(AUTH);
        expectScimAnswer(res);
      }),
      { numRuns: 150 },
    );
  });

  it('for random SearchRequest bodies at the root', async () => {
    const body = fc.record(
      {
        schemas: fc.constantFrom(['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], [], 'x'),
        filter: fc.oneof(filter, fc.integer()),
        startIndex: fc.oneof(fc.integer(), fc.string({ maxLength: 5 })),
        count: fc.oneof(fc.integer(), fc.constant(null)),
        sortBy: attributeName,
        attributes: fc.oneof(fc.array(attributeName, { maxLength: 3 }), attributeName),
      },
      { requiredKeys: ['schemas'] },
    );
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await request(app).post('/scim/v2/.search').set(AUTH).send(b);
        expectScimAnswer(res);
      }),
      { numRuns: 100 },
    );
  });
});
