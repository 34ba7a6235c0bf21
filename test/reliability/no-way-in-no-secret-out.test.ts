/**
 * Guarantee 5 — no way in without a token, and no secret out. Failed authentication is throttled per client
 * (src/http/throttle.ts); tokens can come from a file; every response, errors and 404s included, carries the
 * security headers; and a whole `serve` session — token rotations, a lost token response, Xero failures, bad
 * credentials of every shape — writes none of the secrets it handled to its logs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { createApp } from '../../src/http/app';
import { AUTH_THROTTLE_DEFAULTS } from '../../src/http/throttle';
import { DEFAULT_CLIENTS, createSandbox } from '../../src/sandbox';
import { fixedDirectory, snapshotOf } from '../http/fixtures';
import type { Clock } from '../../src/xero/clock';
import { ManualClock } from '../xero/helpers/clocks';
import { capturedLogger, waitFor } from './support';

const TOKEN = 'guarantee-five-scim-token-0123456789';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

function app(clock = new ManualClock(), trustProxy = false) {
  const { logger } = capturedLogger('silent');
  return createApp({ directory: fixedDirectory(snapshotOf()), tokens: [TOKEN], logger, clock, trustProxy });
}

describe('Guarantee 5: failed authentication is throttled per client', () => {
  const burst = AUTH_THROTTLE_DEFAULTS.burst;

  it(`answers ${burst} bad tokens with 401, then 429 with an integer Retry-After to that client, the right token included`, async () => {
    const clock = new ManualClock();
    const server = app(clock);
    for (let i = 0; i < burst; i++) {
      const res = await request(server).get('/scim/v2/Users').set('Authorization', `Bearer guess-${i}`);
      expect(res.status).toBe(401);
    }
    const throttled = await request(server).get('/scim/v2/Users').set('Authorization', 'Bearer one-more-guess');
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(throttled.headers['content-type']).toBe('application/scim+json; charset=utf-8');
    expect(throttled.body).toEqual({ schemas: [ERROR_SCHEMA], status: '429', detail: expect.stringContaining('failed authentication') });
    // A hit must look like a miss while throttled, or the throttle would not slow guessing at all.
    expect((await request(server).get('/scim/v2/Users').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(429);

    clock.advance(Number(throttled.headers['retry-after']) * 1000);
    expect((await request(server).get('/scim/v2/Users').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('counts every failure of a concurrent burst: no more than the burst gets through to authentication', async () => {
    const server = http.createServer(app());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const statuses = await Promise.all(
        Array.from({ length: 120 }, (_, i) =>
          fetch(`http://127.0.0.1:${port}/scim/v2/Users`, { headers: { authorization: `Bearer burst-${i}` } }).then((r) => r.status),
        ),
      );
      expect(statuses.filter((s) => s === 401)).toHaveLength(burst);
      expect(statuses.filter((s) => s === 429)).toHaveLength(120 - burst);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('throttles the client that fails, not its neighbours (per address, X-Forwarded-For behind a trusted proxy)', async () => {
    const server = app(new ManualClock(), true);
    for (let i = 0; i <= burst; i++) await request(server).get('/scim/v2/Groups').set('X-Forwarded-For', '203.0.113.7').set('Authorization', 'Bearer x');
    expect((await request(server).get('/scim/v2/Groups').set('X-Forwarded-For', '203.0.113.7').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(429);
    expect((await request(server).get('/scim/v2/Groups').set('X-Forwarded-For', '198.51.100.2').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(200);
  });

  it('never counts successful requests against a client', async () => {
    const server = app();
    for (let i = 0; i < burst * 3; i++) expect((await request(server).get('/scim/v2/Roles').set('Authorization', `Bearer ${TOKEN}`)).status).toBe(200);
  });
});

describe('Guarantee 5: security headers on every response, errors and 404s included', () => {
  const server = app();
  const cases: [string, (r: request.SuperTest<request.Test>) => request.Test, number][] = [
    ['a SCIM list', (r) => r.get('/scim/v2/Users').set('Authorization', `Bearer ${TOKEN}`), 200],
    ['no credentials', (r) => r.get('/scim/v2/Users'), 401],
    ['a SCIM 404', (r) => r.get('/scim/v2/Users/nobody').set('Authorization', `Bearer ${TOKEN}`), 404],
    ['an unknown route', (r) => r.get('/wp-admin/install.php'), 404],
    ['a bad filter', (r) => r.get('/scim/v2/Users?filter=userName%20zz%20%22x%22').set('Authorization', `Bearer ${TOKEN}`), 400],
    ['a write', (r) => r.delete('/scim/v2/Users/x').set('Authorization', `Bearer ${TOKEN}`), 501],
    ['an oversized body', (r) => r.post('/scim/v2/.search').set('Authorization', `Bearer ${TOKEN}`).type('application/scim+json').send(JSON.stringify({ filter: 'x'.repeat(70_000) })), 413],
    ['a bad percent-encoding', (r) => r.get('/scim/v2/Users/%E0%A4%A').set('Authorization', `Bearer ${TOKEN}`), 400],
    ['the status page without a token', (r) => r.get('/'), 401],
    ['/healthz', (r) => r.get('/healthz'), 200],
    ['/readyz', (r) => r.get('/readyz'), 200],
    ['/metrics', (r) => r.get('/metrics'), 200],
  ];

  it.each(cases)('for %s', async (_name, send, status) => {
    const res = await send(request(server) as unknown as request.SuperTest<request.Test>);
    expect(res.status).toBe(status);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-request-id']).toEqual(expect.any(String));
    // Headers only an HTML document acts on (helmet sets them for the status page alone).
    if (!String(res.headers['content-type']).startsWith('text/html')) {
      for (const name of ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-permitted-cross-domain-policies', 'x-xss-protection']) {
        expect(res.headers[name]).toBeUndefined();
      }
    }
  });
});

/** The sandbox behind a recorder of every token the token endpoint hands out: the secrets a session holds. */
function recordingSandboxServer(sandboxApp: http.RequestListener, issued: Map<string, string>): http.Server {
  return http.createServer((req, res) => {
    if (req.url?.startsWith('/connect/token')) {
      const chunks: Buffer[] = [];
      const write = res.write.bind(res) as (...args: unknown[]) => boolean;
      const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.write = ((chunk: unknown, ...rest: unknown[]) => {
        if (chunk) chunks.push(Buffer.from(chunk as string));
        return write(chunk, ...rest);
      }) as typeof res.write;
      res.end = ((chunk?: unknown, ...rest: unknown[]) => {
        if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk as string));
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
          for (const key of ['access_token', 'refresh_token', 'id_token']) if (typeof body[key] === 'string') issued.set(body[key], key);
        } catch {
          // not JSON (a fault): nothing was issued
        }
        return end(chunk, ...rest);
      }) as typeof res.end;
    }
    sandboxApp(req, res);
  });
}

describe('Guarantee 5: no secret in any log line of a whole serve session', () => {
  jest.setTimeout(40_000);

  it('logs none of the client secret, refresh and access tokens, SCIM tokens (from a file) or Authorization headers it handled', async () => {
    // Access tokens shorter than the renewal skew: every sync rotates the refresh token.
    const sandbox = createSandbox({ data: 'demo', accessTokenTtlSeconds: 5 });
    const issued = new Map<string, string>(); // token → access_token | refresh_token | id_token
    const xero = recordingSandboxServer(sandbox.app as unknown as http.RequestListener, issued);
    await new Promise<void>((resolve) => xero.listen(0, '127.0.0.1', resolve));
    const xeroUrl = `http://127.0.0.1:${(xero.address() as { port: number }).port}`;
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-secrets-'));
    const tokenFile = path.join(stateDir, 'scim-tokens');
    const scimTokens = ['file-token-one-6c1b0f7e9a', 'file-token-two-0d9e8c7b6a'];
    writeFileSync(tokenFile, `${scimTokens.join('\n')}\n`);
    const initialRefreshToken = sandbox.data.issueRefreshToken(
      DEFAULT_CLIENTS.web.clientId,
      sandbox.data.organisations().map((o) => o.organisationId),
    );
    const { logger, lines } = capturedLogger('trace');
    const config = loadConfig({
      XERO_CLIENT_ID: DEFAULT_CLIENTS.web.clientId,
      XERO_CLIENT_SECRET: DEFAULT_CLIENTS.web.clientSecret,
      XERO_REFRESH_TOKEN: initialRefreshToken,
      XERO_API_URL: xeroUrl,
      XERO_IDENTITY_URL: xeroUrl,
      STATE_DIR: stateDir,
      SCIM_BEARER_TOKEN_FILE: tokenFile,
      SYNC_MODE: 'live',
      LIVE_MIN_FRESHNESS_SECONDS: '1',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'trace',
    });
    // The sync's clock runs ahead of real time on demand: its waits (backoff) move it instead of waiting, and moving
    // it past LIVE_MIN_FRESHNESS_SECONDS makes the next read sync again (another rotation).
    let ahead = 0;
    const clock: Clock = {
      now: () => Date.now() + ahead,
      sleep: async (ms, signal) => {
        if (!signal?.aborted) ahead += Math.max(0, ms);
        await new Promise<void>((resolve) => setImmediate(resolve));
      },
    };
    const freshnessPasses = (): void => {
      ahead += 1100;
    };
    const stopper = new AbortController();
    let url = '';
    const done = runServe(config, { logger, clock, signal: stopper.signal, onListening: (info) => (url = info.url) });
    const scim = (route: string, authorization?: string) => fetch(`${url}${route}`, authorization ? { headers: { authorization } } : {});
    try {
      await waitFor(() => url !== '', 10_000, 'the server to listen');
      // Both tokens from the file work; a session of syncs, each rotating the refresh token, some failing.
      for (const [i, token] of scimTokens.entries()) {
        if (i === 1) {
          sandbox.data.scriptFault({ path: 'token', count: 1, kind: 'lose-token-response' });
          sandbox.data.scriptFault({ path: 'Users', count: 2, kind: 503 });
        }
        await waitFor(async () => (await scim('/scim/v2/Users', `Bearer ${token}`)).status === 200, 10_000, 'a SCIM answer');
        freshnessPasses();
        expect((await scim('/scim/v2/Groups', `Bearer ${token}`)).status).toBe(200);
      }
      // Failures that exhaust their retries, so errors (with their causes) are logged: one organisation, then the token.
      sandbox.data.scriptFault({ path: 'Users', tenantId: sandbox.data.organisations()[0]!.organisationId, count: 4, kind: 500 });
      freshnessPasses();
      await scim('/scim/v2/Roles', `Bearer ${scimTokens[0]}`);
      sandbox.data.scriptFault({ path: 'token', count: 3, kind: 503 });
      freshnessPasses();
      await scim('/scim/v2/Users?filter=userName%20eq%20%22priya.shah%40harbourhale.co.uk%22', `Bearer ${scimTokens[0]}`);
      // Credentials of every wrong shape, some of them real secrets sent where they do not belong.
      await scim('/scim/v2/Users', `Bearer ${DEFAULT_CLIENTS.web.clientSecret}`);
      await scim('/scim/v2/Users', `Basic ${Buffer.from(`admin:${scimTokens[1]}`).toString('base64')}`);
      await scim('/scim/v2/Users', scimTokens[0]);
      await scim(`/scim/v2/Users?access_token=${scimTokens[0]}`);
      await scim('/', `Bearer ${scimTokens[1]}`);
      await scim('/metrics');
      expect(sandbox.data.counters().token.refresh_token).toBeGreaterThanOrEqual(4);
    } finally {
      stopper.abort();
      await done;
      await new Promise((resolve) => xero.close(resolve));
      rmSync(stateDir, { recursive: true, force: true });
    }

    const kinds = [...issued.values()];
    expect(kinds.filter((k) => k === 'refresh_token').length).toBeGreaterThanOrEqual(4);
    expect(kinds.filter((k) => k === 'access_token').length).toBeGreaterThanOrEqual(4);
    const secrets = [DEFAULT_CLIENTS.web.clientSecret, initialRefreshToken, ...scimTokens, ...issued.keys()];
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(15);
    // The failures were logged, with their errors: the lines most likely to carry a request's secrets.
    expect(log).toMatch(/"level":"warn".*organisation sync failed/);
    expect(log).toMatch(/"level":"error".*sync failed/);
    expect(log).toContain('"msg":"request"');
    for (const secret of secrets) {
      // Also a long piece of it: a truncated token is still a leak.
      expect({ secret: secret.slice(0, 12), logged: log.includes(secret) || log.includes(secret.slice(0, 24)) }).toEqual({
        secret: secret.slice(0, 12),
        logged: false,
      });
    }
    expect(log).not.toMatch(/Bearer [A-Za-z0-9]/);
    expect(log).not.toMatch(/Basic [A-Za-z0-9+/]{8}/);
    expect(log).not.toContain('priya.shah@harbourhale.co.uk');
  });
});
