import { createHash, createPublicKey, verify, type JsonWebKey } from 'node:crypto';
import request from 'supertest';
import { createSandbox } from '../../src/sandbox';
import { basic, ManualClock } from './support';

const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const challenge = createHash('sha256').update(verifier).digest('base64url');
const OPAQUE = /^[A-Za-z0-9_-]{40,}$/;

describe('RFC 6749 §4.4 client credentials (Xero custom connection)', () => {
  const sandbox = createSandbox();
  const { clientId, clientSecret } = sandbox.clients.custom;

  it('answers a token set without refresh token, with every API scope when none is asked for', async () => {
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(Object.keys(res.body)).toEqual(['access_token', 'expires_in', 'token_type', 'scope']);
    expect(res.body).toEqual({ access_token: expect.stringMatching(OPAQUE), expires_in: 1800, token_type: 'Bearer', scope: expect.stringContaining('accounting.settings.read') });
  });

  it.each([['scope'], ['scopes']])('grants exactly the scopes sent in `%s`', async (field) => {
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'client_credentials', [field]: 'accounting.settings.read accounting.contacts.read' });
    expect(res.body.scope).toBe('accounting.settings.read accounting.contacts.read');
  });

  it.each([
    ['a wrong secret', basic(clientId, 'wrong'), { grant_type: 'client_credentials' }, 'invalid_client'],
    ['an unknown client', basic('nobody', clientSecret), { grant_type: 'client_credentials' }, 'invalid_client'],
    ['no client authentication', undefined, { grant_type: 'client_credentials' }, 'invalid_client'],
    ['a malformed Basic header', 'Basic !!!', { grant_type: 'client_credentials' }, 'invalid_client'],
    ['an unknown grant type', basic(clientId, clientSecret), { grant_type: 'password' }, 'unsupported_grant_type'],
    ['no grant type', basic(clientId, clientSecret), {}, 'invalid_request'],
    ['an unknown scope', basic(clientId, clientSecret), { grant_type: 'client_credentials', scope: 'accounting.everything' }, 'invalid_scope'],
    ['accounting.transactions, closed to apps created since March 2026', basic(clientId, clientSecret), { grant_type: 'client_credentials', scope: 'accounting.transactions' }, 'invalid_scope'],
  ])('answers 400 {"error":…} for %s', async (_case, auth, form, error) => {
    const req = request(sandbox.app).post('/connect/token').type('form');
    if (auth) req.set('Authorization', auth);
    const res = await req.send(form);
    expect(res.status).toBe(400);
    expect(res.text).toBe(JSON.stringify({ error }));
  });

  it('refuses client credentials to a web app (unauthorized_client)', async () => {
    const { clientId: webId, clientSecret: webSecret } = sandbox.clients.web;
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(webId, webSecret)).type('form').send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'unauthorized_client' });
  });

  it('accepts the credentials in the form body too (RFC 6749 §2.3.1)', async () => {
    const res = await request(sandbox.app).post('/connect/token').type('form').send({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    expect(res.status).toBe(200);
  });

  it('answers a JSON body instead of a form with a 400, not a crash', async () => {
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request' });
  });
});

describe('RFC 6749 §4.1 authorization code with RFC 7636 PKCE (Xero web app)', () => {
  const clock = new ManualClock();
  const sandbox = createSandbox({ clock });
  const { clientId, clientSecret } = sandbox.clients.web;
  const [nz, uk, au] = sandbox.data.organisations();
  const authorize = { response_type: 'code', client_id: clientId, redirect_uri: 'https://localhost:8080', scope: 'openid profile email offline_access accounting.settings.read', state: 's-123', code_challenge: challenge, code_challenge_method: 'S256', nonce: 'n-9' };

  async function consent(tenants: string[]): Promise<URL> {
    const form = new URLSearchParams({ ...authorize, decision: 'allow' });
    for (const t of tenants) form.append('tenant', t);
    const res = await request(sandbox.app).post('/identity/connect/authorize').type('form').send(form.toString());
    expect(res.status).toBe(302);
    return new URL(res.headers.location as string);
  }

  it('shows a consent page listing every organisation, with the request carried in hidden fields', async () => {
    const res = await request(sandbox.app).get('/identity/connect/authorize').query(authorize);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    for (const org of [nz!, uk!, au!]) expect(res.text).toContain(`value="${org.organisationId}"`);
    expect(res.text).toContain('Harbour &amp; Hale Advisory');
    expect(res.text).toContain(`<input type="hidden" name="code_challenge" value="${challenge}">`);
    expect(res.text).toContain('<form method="post" action="authorize">');
  });

  it('redirects with code, scope and state on approval, connects the chosen organisations, and exchanges the code once', async () => {
    const location = await consent([nz!.organisationId, au!.organisationId]);
    expect(`${location.origin}${location.pathname}`).toBe('https://localhost:8080/');
    expect(location.searchParams.get('state')).toBe('s-123');
    expect(location.searchParams.get('scope')).toBe(authorize.scope);
    const code = location.searchParams.get('code')!;
    const exchange = { grant_type: 'authorization_code', code, redirect_uri: 'https://localhost:8080', code_verifier: verifier };
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(exchange);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['id_token', 'access_token', 'expires_in', 'token_type', 'refresh_token', 'scope']);
    expect(res.body).toEqual({ id_token: expect.any(String), access_token: expect.stringMatching(OPAQUE), expires_in: 1800, token_type: 'Bearer', refresh_token: expect.stringMatching(OPAQUE), scope: authorize.scope });

    const connections = await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${res.body.access_token}`);
    expect(connections.body.map((c: { tenantId: string }) => c.tenantId)).toEqual([nz!.organisationId, au!.organisationId]);

    const again = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(exchange);
    expect(again.status).toBe(400);
    expect(again.body).toEqual({ error: 'invalid_grant' });
  });

  it('signs an RS256 id_token that verifies against the published JWKS (OIDC Core §2, §3.1.3.7)', async () => {
    const location = await consent([nz!.organisationId]);
    const res = await request(sandbox.app)
      .post('/connect/token')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send({ grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: 'https://localhost:8080', code_verifier: verifier });
    const [header, payload, signature] = (res.body.id_token as string).split('.') as [string, string, string];
    const discovery = await request(sandbox.app).get('/.well-known/openid-configuration');
    const issuer = discovery.body.issuer as string;
    expect(discovery.body).toEqual(
      expect.objectContaining({
        issuer: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        jwks_uri: `${issuer}/.well-known/openid-configuration/jwks`,
        authorization_endpoint: `${issuer}/identity/connect/authorize`,
        token_endpoint: `${issuer}/connect/token`,
        revocation_endpoint: `${issuer}/connect/revocation`,
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
      }),
    );
    const jwks = await request(sandbox.app).get('/.well-known/openid-configuration/jwks');
    const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg: string; kid: string };
    expect(head.alg).toBe('RS256');
    const jwk = (jwks.body.keys as Array<JsonWebKey & { kid: string }>).find((k) => k.kid === head.kid)!;
    expect(jwk).toEqual({ kty: 'RSA', use: 'sig', alg: 'RS256', kid: head.kid, e: 'AQAB', n: expect.any(String) });
    const valid = verify('sha256', Buffer.from(`${header}.${payload}`), createPublicKey({ key: jwk, format: 'jwk' }), Buffer.from(signature, 'base64url'));
    expect(valid).toBe(true);
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const now = Math.floor(clock.now() / 1000);
    expect(claims).toEqual(
      expect.objectContaining({ aud: clientId, iat: now, exp: now + 300, nonce: 'n-9', email: 'aroha@kowhaijoinery.co.nz', given_name: 'Aroha', family_name: 'Ngātai', xero_userid: expect.any(String) }),
    );
    expect(claims.iss).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each([
    ['a wrong code_verifier', { code_verifier: 'not-the-verifier-not-the-verifier-not-the-v' }],
    ['no code_verifier', { code_verifier: undefined }],
    ['another redirect_uri', { redirect_uri: 'http://localhost:3000/callback' }],
  ])('answers invalid_grant for %s', async (_case, change) => {
    const location = await consent([nz!.organisationId]);
    const form = { grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: 'https://localhost:8080', code_verifier: verifier, ...change };
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send(JSON.parse(JSON.stringify(form)));
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant' });
  });

  it('lets a public client (client_id alone) in only through PKCE', async () => {
    const location = await consent([nz!.organisationId]);
    const res = await request(sandbox.app)
      .post('/connect/token')
      .type('form')
      .send({ grant_type: 'authorization_code', client_id: clientId, code: location.searchParams.get('code')!, redirect_uri: 'https://localhost:8080', code_verifier: verifier });
    expect(res.status).toBe(200);
  });

  it('expires codes after ten minutes (RFC 6749 §4.1.2)', async () => {
    const location = await consent([nz!.organisationId]);
    clock.advance(601);
    const res = await request(sandbox.app)
      .post('/connect/token')
      .set('Authorization', basic(clientId, clientSecret))
      .type('form')
      .send({ grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: 'https://localhost:8080', code_verifier: verifier });
    expect(res.body).toEqual({ error: 'invalid_grant' });
  });

  it('redirects access_denied with the state when the person cancels', async () => {
    const res = await request(sandbox.app).post('/identity/connect/authorize').type('form').send({ ...authorize, decision: 'deny' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://localhost:8080/?error=access_denied&state=s-123');
  });

  it('asks again when no organisation was chosen', async () => {
    const res = await request(sandbox.app).post('/identity/connect/authorize').type('form').send({ ...authorize, decision: 'allow' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('Choose at least one organisation to connect.');
  });

  it('shows, never redirects, an error for an unknown client or an unregistered redirect_uri (RFC 6749 §4.1.2.1)', async () => {
    for (const change of [{ client_id: 'nobody' }, { redirect_uri: 'https://evil.example/cb' }]) {
      const res = await request(sandbox.app).get('/identity/connect/authorize').query({ ...authorize, ...change });
      expect(res.status).toBe(400);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toContain('Unauthorized client');
    }
  });

  it.each([
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['an unknown scope', { scope: 'openid accounting.everything' }, 'invalid_scope'],
    ['code_challenge_method=plain', { code_challenge_method: 'plain' }, 'invalid_request'],
  ])('redirects an error for %s', async (_case, change, error) => {
    const res = await request(sandbox.app).get('/identity/connect/authorize').query({ ...authorize, ...change });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`https://localhost:8080/?error=${error}&state=s-123`);
  });

  it('accepts any loopback http redirect_uri (RFC 8252 §7.3)', async () => {
    const res = await request(sandbox.app).get('/identity/connect/authorize').query({ ...authorize, redirect_uri: 'http://127.0.0.1:53123/callback' });
    expect(res.status).toBe(200);
  });
});

describe('autoApprove', () => {
  it('skips the consent page and connects every organisation', async () => {
    const sandbox = createSandbox({ autoApprove: true });
    const res = await request(sandbox.app)
      .get('/identity/connect/authorize')
      .query({ response_type: 'code', client_id: sandbox.clients.web.clientId, redirect_uri: 'https://localhost:8080', scope: 'offline_access accounting.settings.read', state: 'xyz' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.location as string);
    expect([...location.searchParams.keys()]).toEqual(['code', 'scope', 'state']);
    const tokens = await request(sandbox.app)
      .post('/connect/token')
      .set('Authorization', basic(sandbox.clients.web.clientId, sandbox.clients.web.clientSecret))
      .type('form')
      .send({ grant_type: 'authorization_code', code: location.searchParams.get('code')!, redirect_uri: 'https://localhost:8080' });
    expect(Object.keys(tokens.body)).toEqual(['access_token', 'expires_in', 'token_type', 'refresh_token', 'scope']);
    const connections = await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${tokens.body.access_token}`);
    expect(connections.body).toHaveLength(3);
  });
});

describe('RFC 6749 §6 refresh tokens: rotation, grace period, expiry (docs/xero.md, "Grants and tokens")', () => {
  function setup(options: { grace?: number; ttl?: number } = {}) {
    const clock = new ManualClock();
    const sandbox = createSandbox({ clock, refreshGraceSeconds: options.grace ?? 1800, refreshTokenTtlSeconds: options.ttl ?? 60 * 86400, accessTokenTtlSeconds: 60 });
    const { clientId, clientSecret } = sandbox.clients.web;
    const tenant = sandbox.data.organisations()[0]!.organisationId;
    const refresh = (token: string) =>
      request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'refresh_token', refresh_token: token });
    return { clock, sandbox, refresh, first: sandbox.data.issueRefreshToken(clientId, [tenant]) };
  }

  it('rotates on every use and honours a configured access-token lifetime', async () => {
    const { refresh, first } = setup();
    const res = await refresh(first);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ access_token: expect.stringMatching(OPAQUE), expires_in: 60, token_type: 'Bearer', refresh_token: expect.stringMatching(OPAQUE), scope: 'offline_access accounting.settings.read' });
    expect(res.body.refresh_token).not.toBe(first);
  });

  it('keeps the previous refresh token usable during the grace period, then answers invalid_grant', async () => {
    const { clock, refresh, first } = setup({ grace: 1800 });
    const second = (await refresh(first)).body.refresh_token as string;
    clock.advance(1799);
    const retried = await refresh(first);
    expect(retried.status).toBe(200);
    clock.advance(1);
    expect((await refresh(first)).body).toEqual({ error: 'invalid_grant' });
    // The token that replaced it was itself replaced by the retry 1 s ago, so it is within its own grace.
    expect((await refresh(second)).status).toBe(200);
  });

  it('expires an unused refresh token after its lifetime', async () => {
    const { clock, refresh, first } = setup({ ttl: 3600 });
    clock.advance(3600);
    const res = await refresh(first);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_grant' });
  });

  it('refuses another client’s refresh token and an unknown one', async () => {
    const { sandbox, first } = setup();
    const { clientId, clientSecret } = sandbox.clients.custom;
    const stolen = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'refresh_token', refresh_token: first });
    expect(stolen.body).toEqual({ error: 'invalid_grant' });
    const { refresh } = setup();
    expect((await refresh('no-such-token')).body).toEqual({ error: 'invalid_grant' });
  });
});

describe('RFC 7009 revocation', () => {
  it('answers 200, ends the chain and its access tokens, and removes the connections it made', async () => {
    const sandbox = createSandbox();
    const { clientId, clientSecret } = sandbox.clients.web;
    const tenant = sandbox.data.organisations()[1]!.organisationId;
    const refreshToken = sandbox.data.issueRefreshToken(clientId, [tenant]);
    const tokens = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const revoked = await request(sandbox.app).post('/connect/revocation').set('Authorization', basic(clientId, clientSecret)).type('form').send({ token: tokens.body.refresh_token });
    expect(revoked.status).toBe(200);
    expect(revoked.text).toBe('');
    const again = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'refresh_token', refresh_token: tokens.body.refresh_token });
    expect(again.body).toEqual({ error: 'invalid_grant' });
    const users = await request(sandbox.app).get('/api.xro/2.0/Users').set('Authorization', `Bearer ${tokens.body.access_token}`).set('xero-tenant-id', tenant);
    expect(users.status).toBe(401);
    expect(sandbox.data.organisations().length).toBe(3);
  });

  it('needs client authentication and a token', async () => {
    const sandbox = createSandbox();
    expect((await request(sandbox.app).post('/connect/revocation').type('form').send({ token: 'x' })).body).toEqual({ error: 'invalid_client' });
    const { clientId, clientSecret } = sandbox.clients.web;
    expect((await request(sandbox.app).post('/connect/revocation').set('Authorization', basic(clientId, clientSecret)).type('form').send({})).body).toEqual({ error: 'invalid_request' });
  });
});

describe('mounting', () => {
  it('works under a path prefix of another Express app: discovery names the prefixed URLs', async () => {
    const express = (await import('express')).default;
    const outer = express();
    const sandbox = createSandbox();
    outer.use('/xero', sandbox.app);
    const discovery = await request(outer).get('/xero/.well-known/openid-configuration');
    expect(discovery.body.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/xero$/);
    expect(discovery.body.token_endpoint).toBe(`${discovery.body.issuer}/connect/token`);
    const { clientId, clientSecret } = sandbox.clients.custom;
    const token = await request(outer).post('/xero/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'client_credentials' });
    expect(token.status).toBe(200);
  });
});
