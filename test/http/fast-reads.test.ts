/**
 * The hot reads' fast path (src/http/fast-reads.ts): the requests it takes are answered byte for byte as the Express
 * routes answer them (status, body, ETag, headers), with the same throttle, request ids, security headers and
 * metrics; every request it does not recognise exactly reaches Express untouched.
 */
import express from 'express';
import request from 'supertest';
import { createApp, finish, mountScim, type AppOptions } from '../../src/http/app';
import { answerHotReadsFirst } from '../../src/http/fast-reads';
import { requestLog, requestStarter } from '../../src/http/request-log';
import { scimAuth } from '../../src/http/auth';
import { createScimApi } from '../../src/http/scim-router';
import { securityHeaders } from '../../src/http/security-headers';
import { silentLogger } from '../../src/log';
import { Metrics } from '../../src/ops/metrics';
import { ACME, AUTH, PUBLIC_URL, TOKEN, fixedDirectory, rawGet, snapshotOf } from './fixtures';

const directory = fixedDirectory(snapshotOf());
const options: AppOptions = { directory, tokens: [TOKEN], publicUrl: PUBLIC_URL };

/** The same app with no fast path: every request goes through Express's routes. */
function routedOnly(): express.Express {
  const app = express();
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.use(securityHeaders(), requestLog(silentLogger));
  mountScim(app, options);
  finish(app, silentLogger);
  return app;
}

/** Only the fast path, then a sentinel: what the fast path does not answer shows as 599. */
function fastPathOnly(): express.Express {
  const api = createScimApi({ directory, maxResults: 1000, basicAuth: false, rootUrl: () => `${PUBLIC_URL}/scim/v2` });
  const app = express();
  app.use((_req, res) => {
    res.status(599).send('passed on');
  });
  const errors = finish(app, silentLogger);
  answerHotReadsFirst(app, { basePath: '/scim/v2', auth: scimAuth({ tokens: [TOKEN] }), reads: api.reads, start: requestStarter(silentLogger), errors });
  return app;
}

async function userIds(): Promise<string[]> {
  const res = await request(routedOnly()).get('/scim/v2/Users').set(AUTH);
  return (res.body.Resources as { id: string }[]).map((u) => u.id);
}

/** What a client can tell apart: everything but the request id, which is per request. */
function answer(res: request.Response) {
  const { 'x-request-id': requestId, date: _date, ...headers } = res.headers;
  expect(requestId).toMatch(/^[A-Za-z0-9._:-]+$/);
  return { status: res.status, headers, body: res.text };
}

describe('the hot reads answer as the Express routes do', () => {
  const fast = createApp(options);
  const routed = routedOnly();

  /** Reads by id, lists, lookups, attribute selection, 404s and conditional GETs, each with its headers. */
  async function hotCases(): Promise<[string, Record<string, string>][]> {
    const [ann] = await userIds();
    const etag = (await request(routed).get(`/scim/v2/Users/${ann}`).set(AUTH)).headers.etag as string;
    const group = (await request(routed).get('/scim/v2/Groups').set(AUTH)).body.Resources[0].id as string;
    return [
      [`/scim/v2/Users/${ann}`, AUTH],
      [`/scim/v2/Users/${ann}?attributes=userName`, AUTH],
      [`/scim/v2/Users/${encodeURIComponent(ann!)}`, AUTH],
      [`/scim/v2/Users/${ann}`, { ...AUTH, 'If-None-Match': etag }],
      ['/scim/v2/Users/no-such-user', AUTH],
      ['/scim/v2/Users?filter=userName%20eq%20%22bob%40example.com%22', AUTH],
      ['/scim/v2/Users?filter=userName%20eq%20%22nobody%40example.com%22', AUTH],
      ['/scim/v2/Users?filter=bogus%20zz', AUTH],
      ['/scim/v2/Users?startIndex=2&count=1', AUTH],
      [`/scim/v2/Groups/${group}?excludedAttributes=members`, AUTH],
      ['/scim/v2/Groups?excludedAttributes=members', AUTH],
      ['/scim/v2/Roles?count=2', AUTH],
      [`/scim/v2/Users/${ann}`, {}],
      [`/scim/v2/Users/${ann}`, { Authorization: 'Bearer wrong' }],
      [`/scim/v2/tenants/${ACME}/Users/${ann}`, AUTH],
      [`/scim/v2/tenants/no-such-organisation/Users/${ann}`, AUTH],
      ['/scim/v2/tenants/no-such-organisation/Users?filter=userName%20eq%20%22bob%40example.com%22', AUTH],
    ];
  }

  it('for reads by id, lists, lookups, attribute selection, 404s and conditional GETs', async () => {
    for (const [path, headers] of await hotCases()) {
      const viaFast = answer(await request(fast).get(path).set(headers));
      const viaRoutes = answer(await request(routed).get(path).set(headers));
      expect({ path, ...viaFast }).toEqual({ path, ...viaRoutes });
    }
  });

  it('the same when every read must wait for the directory (a live-mode sync due): only the waiting differs', async () => {
    const waiting = createApp({ ...options, directory: { ...directory, readNow: () => undefined } });
    for (const [path, headers] of await hotCases()) {
      const viaWaiting = answer(await request(waiting).get(path).set(headers));
      const atOnce = answer(await request(fast).get(path).set(headers));
      expect({ path, ...viaWaiting }).toEqual({ path, ...atOnce });
    }
  });

  it('for HEAD, with the headers and no body', async () => {
    const [ann] = await userIds();
    const viaFast = await request(fast).head(`/scim/v2/Users/${ann}`).set(AUTH);
    const viaRoutes = await request(routed).head(`/scim/v2/Users/${ann}`).set(AUTH);
    expect(viaFast.status).toBe(200);
    expect(answer(viaFast)).toEqual(answer(viaRoutes));
  });
});

describe('the fast path takes exactly the hot reads', () => {
  const app = fastPathOnly();

  it.each([
    ['a read by id', '/scim/v2/Users/x'],
    ['a list', '/scim/v2/Users'],
    ['a userName eq lookup', '/scim/v2/Users?filter=userName%20eq%20%22bob%40example.com%22'],
    ['a group by id', '/scim/v2/Groups/x'],
    ['the roles', '/scim/v2/Roles?count=1'],
  ])('answers %s itself', async (_name, path) => {
    const res = await request(app).get(path).set(AUTH);
    expect(res.status).not.toBe(599);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  });

  it.each([
    ['another method', 'post', '/scim/v2/Users/x'],
    ['another case', 'get', '/scim/v2/users/x'],
    ['a trailing slash', 'get', '/scim/v2/Users/'],
    ['a nested path', 'get', '/scim/v2/Users/x/y'],
    ['the .search route, in any case', 'get', '/scim/v2/Users/.SEARCH'],
    ['a tenant view', 'get', `/scim/v2/tenants/${ACME}/Users`],
    ['discovery', 'get', '/scim/v2/Schemas'],
    ['an id Express refuses to decode', 'get', '/scim/v2/Users/%E0%A4%A'],
    ['another resource', 'get', '/scim/v2/Userz'],
    ['the operator routes', 'get', '/metrics'],
  ])('passes on %s untouched', async (_name, method, path) => {
    const res = await (request(app) as unknown as Record<string, (p: string) => request.Test>)[method]!(path).set(AUTH);
    expect(res.status).toBe(599);
    expect(res.text).toBe('passed on');
  });
});

describe('the fast path leaves to Express a URL it reads with the legacy parser', () => {
  it('one with a `#`, which Express cuts there: the path and query it reads are not the ones written', async () => {
    const [ann] = await userIds();
    const passed = await rawGet(fastPathOnly(), `/scim/v2/Users/${ann}#x`);
    expect([passed.status, passed.text]).toEqual([599, 'passed on']);
    // Answered as the routes answer it: the resource before the `#`.
    const fast = await rawGet(createApp(options), `/scim/v2/Users/${ann}#x`);
    expect(fast.status).toBe(200);
    expect(fast.text).toBe((await rawGet(routedOnly(), `/scim/v2/Users/${ann}#x`)).text);
    expect(JSON.parse(fast.text).id).toBe(ann);
  });
});

describe('the fast path keeps what every answer has', () => {
  it('security headers and a request id, honouring the incoming one', async () => {
    const res = await request(createApp(options)).get('/scim/v2/Users').set(AUTH).set('X-Request-Id', 'trace-123');
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe('trace-123');
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
  });

  it('counts requests under their route templates in /metrics', async () => {
    const metrics = new Metrics({ directory });
    const app = createApp({ ...options, metrics });
    const [ann] = await userIds();
    await request(app).get(`/scim/v2/Users/${ann}`).set(AUTH).expect(200);
    await request(app).get('/scim/v2/Users?filter=userName%20eq%20%22bob%40example.com%22').set(AUTH).expect(200);
    await request(app).get('/scim/v2/Users/no-such-user').set(AUTH).expect(404);
    await request(app).get('/scim/v2/Users').expect(401);
    const text = await metrics.render();
    expect(text).toMatch(/^xero_scim_http_requests_total\{method="GET",route="\/scim\/v2\/Users\/:id",status="200"\} 1$/m);
    expect(text).toMatch(/^xero_scim_http_requests_total\{method="GET",route="\/scim\/v2\/Users",status="200"\} 1$/m);
    expect(text).toMatch(/^xero_scim_http_requests_total\{method="GET",route="\/scim\/v2\/Users\/:id",status="404"\} 1$/m);
    expect(text).toMatch(/^xero_scim_http_requests_total\{method="GET",route="unmatched",status="401"\} 1$/m);
  });

  it('shares one failed-auth throttle with the routes: failures on hot reads lock out every SCIM request, and back', async () => {
    let now = 0;
    const app = createApp({ ...options, clock: { now: () => now } });
    for (let i = 0; i < 20; i++) await request(app).get('/scim/v2/Users/x').set('Authorization', 'Bearer wrong').expect(401);
    const discovery = await request(app).get('/scim/v2/Schemas').set(AUTH);
    expect(discovery.status).toBe(429);
    expect(discovery.headers['retry-after']).toMatch(/^\d+$/);

    now += 3_600_000; // refilled
    for (let i = 0; i < 20; i++) await request(app).get('/scim/v2/Schemas').set('Authorization', 'Bearer wrong').expect(401);
    const hot = await request(app).get('/scim/v2/Users').set(AUTH);
    expect(hot.status).toBe(429);
    expect(hot.body.status).toBe('429');
    // A refusal on the fast path carries what every answer has, as its successes do.
    expect(hot.headers['content-security-policy']).toContain("default-src 'none'");
    expect(hot.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});
