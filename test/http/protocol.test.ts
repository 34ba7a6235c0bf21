import request from 'supertest';
import pino from 'pino';
import { Writable } from 'node:stream';
import { createApp } from '../../src/http/app';
import type { Directory } from '../../src/directory/model';
import { ACME, AUTH, BASE, TOKEN, appFor, fixedDirectory, snapshotOf } from './fixtures';

const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';

describe('RFC 7644 §2 authentication', () => {
  const app = appFor(snapshotOf(), { tokens: ['old-token', TOKEN], basicAuth: true });

  it('answers 401 with a SCIM error body and a Bearer challenge when no credentials are sent', async () => {
    const res = await request(app).get('/scim/v2/Users');
    expect(res.status).toBe(401);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="xero-scim"/);
    expect(res.body).toEqual({ schemas: [ERROR], status: '401', detail: 'Authentication required: send "Authorization: Bearer <token>" or HTTP Basic.' });
  });

  it('answers 401 invalid_token for a wrong bearer token, without echoing it', async () => {
    const res = await request(app).get('/scim/v2/Users').set('Authorization', 'Bearer not-the-token');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(res.body).toEqual({ schemas: [ERROR], status: '401', detail: 'The bearer token is not valid.' });
    expect(res.text).not.toContain('not-the-token');
  });

  it('does not echo a bare token sent without a scheme', async () => {
    const res = await request(app).get('/scim/v2/Users').set('Authorization', 'secret-token-without-scheme');
    expect(res.status).toBe(401);
    expect(res.text).not.toContain('secret');
  });

  it.each([
    ['the current token', `Bearer ${TOKEN}`],
    ['the previous token during rotation', 'Bearer old-token'],
    ['a lower-case scheme', `bearer ${TOKEN}`],
    ['HTTP Basic with the token as password', `Basic ${Buffer.from(`conductorone:${TOKEN}`).toString('base64')}`],
  ])('accepts %s', async (_name, header) => {
    const res = await request(app).get('/scim/v2/Users').set('Authorization', header);
    expect(res.status).toBe(200);
  });

  it('refuses HTTP Basic unless it is enabled', async () => {
    const res = await request(appFor()).get('/scim/v2/Users').set('Authorization', `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="xero-scim"');
  });

  it('refuses HTTP Basic with a wrong password', async () => {
    const res = await request(app).get('/scim/v2/Users').set('Authorization', `Basic ${Buffer.from('x:wrong').toString('base64')}`);
    expect(res.status).toBe(401);
  });

  it('will not build an app without a token', () => {
    expect(() => createApp({ directory: fixedDirectory(snapshotOf()), tokens: [' '] })).toThrow(/token/);
  });
});

describe('RFC 7644 §3.12 errors', () => {
  const app = appFor();

  it('answers unknown routes with a SCIM 404', async () => {
    const res = await request(app).get('/scim/v2/Widgets').set(AUTH);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ schemas: [ERROR], status: '404', detail: 'No such endpoint: GET /scim/v2/Widgets.' });
  });

  it('answers an unknown id with a SCIM 404', async () => {
    const res = await request(app).get('/scim/v2/Users/no-such-user').set(AUTH);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ schemas: [ERROR], status: '404', detail: 'User "no-such-user" not found.' });
  });

  it.each([
    ['POST', '/scim/v2/Users'],
    ['POST', '/scim/v2/Groups'],
    ['PUT', '/scim/v2/Users/x'],
    ['PATCH', '/scim/v2/Groups/x'],
    ['DELETE', '/scim/v2/Roles/x'],
  ])('answers %s %s with 501 read-only and Allow: GET, HEAD', async (method, path) => {
    const res = await request(app)[method.toLowerCase() as 'post'](path).set(AUTH).send({ schemas: [] });
    expect(res.status).toBe(501);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body).toEqual({
      schemas: [ERROR],
      status: '501',
      detail: 'This SCIM server is read-only: it serves the Xero directory and accepts no creates, replaces, patches or deletes.',
    });
  });

  it('answers a write to a discovery endpoint with 405 and Allow', async () => {
    const res = await request(app).put('/scim/v2/ServiceProviderConfig').set(AUTH).send({});
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
    expect(res.body.schemas).toEqual([ERROR]);
  });

  it('answers GET /.search with 405 and Allow: POST', async () => {
    const res = await request(app).get('/scim/v2/Users/.search').set(AUTH);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    const root = await request(app).get('/scim/v2/.search').set(AUTH);
    expect(root.status).toBe(405);
    expect(root.headers.allow).toBe('POST');
  });

  it('answers /Bulk and /Me with 501', async () => {
    expect((await request(app).post('/scim/v2/Bulk').set(AUTH).send({})).status).toBe(501);
    expect((await request(app).get('/scim/v2/Me').set(AUTH)).status).toBe(501);
  });

  describe('the method and the route decide before any body is read (a body is parsed only by .search)', () => {
    // Okta's SCIM 2.0 spec test POSTs the body `test` to the discovery endpoints and expects 405.
    it.each(['/scim/v2/ServiceProviderConfig', '/scim/v2/ResourceTypes', '/scim/v2/Schemas', `/scim/v2/tenants/${ACME}/Schemas`])(
      'answers POST %s with the body `test` with 405 and Allow: GET, HEAD',
      async (path) => {
        for (const type of ['application/scim+json', 'application/json']) {
          const res = await request(app).post(path).set(AUTH).set('Content-Type', type).send('test');
          expect({ status: res.status, allow: res.headers.allow, body: res.body }).toEqual({
            status: 405,
            allow: 'GET, HEAD',
            body: { schemas: [ERROR], status: '405', detail: 'This endpoint answers only GET, HEAD.' },
          });
        }
      },
    );

    it('answers a junk POST to /Users with 501 read-only, and to an unknown path with 404', async () => {
      const junk = (path: string) => request(app).post(path).set(AUTH).set('Content-Type', 'application/scim+json').send('test');
      expect((await junk('/scim/v2/Users')).status).toBe(501);
      expect((await junk('/scim/v2/Bulk')).status).toBe(501);
      const unknown = await junk('/scim/v2/Widgets');
      expect({ status: unknown.status, body: unknown.body }).toEqual({ status: 404, body: { schemas: [ERROR], status: '404', detail: 'No such endpoint: POST /scim/v2/Widgets.' } });
      // Where a body is read, a junk one is still a syntax error.
      expect((await junk('/scim/v2/Users/.search')).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
      expect((await junk('/scim/v2/.search')).body).toMatchObject({ status: '400', scimType: 'invalidSyntax' });
    });
  });

  describe('RFC 7644 §3.4.2.5 attributes and excludedAttributes hold attribute paths', () => {
    const detail = expect.stringContaining('is not an attribute path');

    it.each([
      ['attributes', '/scim/v2/Users?attributes=emails%5Btype%20eq%20%22work%22%5D'],
      ['excludedAttributes', '/scim/v2/Users?excludedAttributes=emails%5Btype%20eq%20%22work%22%5D'],
      ['attributes, one of several', '/scim/v2/Users?attributes=userName,emails%5Btype%20eq%20%22work%22%5D.value'],
      ['attributes on a single resource', `/scim/v2/Groups/${ACME}?attributes=name..givenName`],
    ])('answers a value filter or malformed path in %s with 400 invalidValue, not a resource shaped otherwise', async (_name, url) => {
      const res = await request(app).get(url).set(AUTH);
      expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { schemas: [ERROR], status: '400', scimType: 'invalidValue', detail } });
    });

    it('reads a SearchRequest’s attributes the same way', async () => {
      const res = await request(app)
        .post('/scim/v2/Users/.search')
        .set(AUTH)
        .send({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], attributes: ['emails[type eq "work"]'] });
      expect(res.body).toEqual({ schemas: [ERROR], status: '400', scimType: 'invalidValue', detail });
    });

    it('still ignores a well-formed path of an attribute the type lacks (a root search names several types’ attributes)', async () => {
      const res = await request(app).get('/scim/v2/Groups?attributes=displayName,userName').set(AUTH);
      expect(res.status).toBe(200);
      expect(Object.keys(res.body.Resources[0]).sort()).toEqual(['displayName', 'id', 'schemas']);
    });
  });

  it('answers malformed JSON with 400 invalidSyntax', async () => {
    const res = await request(app).post('/scim/v2/Users/.search').set(AUTH).set('Content-Type', 'application/scim+json').send('{"schemas":');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ schemas: [ERROR], status: '400', scimType: 'invalidSyntax', detail: 'The request body is not valid JSON.' });
  });

  it('answers an oversized body with 413', async () => {
    const res = await request(app)
      .post('/scim/v2/Users/.search')
      .set(AUTH)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ filter: 'x'.repeat(100_000) }));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ schemas: [ERROR], status: '413', detail: 'The request body is too large.' });
  });

  it('answers 503 with Retry-After before the first snapshot', async () => {
    const app = createApp({ directory: fixedDirectory(undefined), tokens: [TOKEN] });
    const res = await request(app).get('/scim/v2/Users').set(AUTH);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('10');
    expect(res.body).toEqual({ schemas: [ERROR], status: '503', detail: 'The directory has not been loaded from Xero yet; retry shortly.' });
  });

  it('answers an unexpected failure with a plain 500, logging it with the request id', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) }));
    const broken: Directory = {
      current: () => undefined,
      forRead: () => Promise.reject(new Error('database password is hunter2')),
      status: () => ({ ready: false, tenants: [] }),
    };
    const res = await request(createApp({ directory: broken, tokens: [TOKEN], logger })).get('/scim/v2/Users').set(AUTH);
    expect(res.status).toBe(500);
    const requestId = res.headers['x-request-id'];
    expect(res.body).toEqual({ schemas: [ERROR], status: '500', detail: `Internal server error. Quote request id ${requestId} when reporting it.` });
    expect(res.text).not.toContain('hunter2');
    expect(lines.join('')).toContain(requestId);
  });
});

describe('RFC 7644 §3.1 media type and headers', () => {
  const app = appFor();

  it.each(['application/scim+json', 'application/json', '*/*', 'text/html'])('answers Accept: %s with application/scim+json', async (accept) => {
    const res = await request(app).get('/scim/v2/Users').set(AUTH).set('Accept', accept);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
  });

  it('sends strict security headers on every route, including errors', async () => {
    for (const path of ['/scim/v2/Users', '/nowhere']) {
      const res = await request(app).get(path).set(AUTH);
      expect(res.headers['content-security-policy']).toContain("default-src 'none'");
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });

  it('answers HEAD like GET, without a body', async () => {
    const res = await request(app).head('/scim/v2/Users').set(AUTH);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(res.headers.etag).toMatch(/^W\//);
    expect(res.text).toBeUndefined();
  });

  it('accepts a SearchRequest sent as application/json', async () => {
    const res = await request(app)
      .post('/scim/v2/Users/.search')
      .set(AUTH)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ schemas: ['urn:ietf:params:scim:api:messages:2.0:SearchRequest'], count: 1 }));
    expect(res.status).toBe(200);
    expect(res.body.itemsPerPage).toBe(1);
  });
});

describe('meta.location (RFC 7643 §3.1)', () => {
  const id = ACME;

  it('uses the configured public URL', async () => {
    const res = await request(appFor()).get(`/scim/v2/Groups/${id}`).set(AUTH);
    expect(res.body.meta.location).toBe(`${BASE}/Groups/${id}`);
  });

  it('uses the request Host and ignores X-Forwarded-* without trustProxy', async () => {
    const app = appFor(snapshotOf(), { publicUrl: undefined });
    const res = await request(app).get(`/scim/v2/Groups/${id}`).set(AUTH).set('Host', 'scim.internal:8080').set('X-Forwarded-Host', 'evil.example').set('X-Forwarded-Proto', 'https');
    expect(res.body.meta.location).toBe(`http://scim.internal:8080/scim/v2/Groups/${id}`);
  });

  it('honours X-Forwarded-Proto and X-Forwarded-Host with trustProxy', async () => {
    const app = appFor(snapshotOf(), { publicUrl: undefined, trustProxy: true });
    const res = await request(app).get(`/scim/v2/Groups/${id}`).set(AUTH).set('X-Forwarded-Host', 'scim.example.com').set('X-Forwarded-Proto', 'https');
    expect(res.body.meta.location).toBe(`https://scim.example.com/scim/v2/Groups/${id}`);
  });

  it('never puts a malformed Host into a location', async () => {
    const app = appFor(snapshotOf(), { publicUrl: undefined });
    const res = await request(app).get(`/scim/v2/Groups/${id}`).set(AUTH).set('Host', 'a"b<c>');
    expect(res.status).toBe(200);
    expect(res.body.meta.location).toBe(`http://localhost/scim/v2/Groups/${id}`);
  });
});
