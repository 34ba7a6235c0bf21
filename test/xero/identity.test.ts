import {
  type IdentityOptions,
  authorizationUrl,
  connectionsRequest,
  readConnectionsResponse,
  readTokenResponse,
  revocationRequest,
  tokenRequest,
} from '../../src/xero/identity';

const OPTIONS: IdentityOptions = {
  identityUrl: 'https://identity.example',
  apiUrl: 'https://api.example',
  loginUrl: 'https://login.example',
  clientId: 'client id+1',
  clientSecret: 's3cr:et',
  timeoutMs: 1000,
};
const NOW = Date.parse('2026-11-27T05:00:00Z');

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('Token requests (RFC 6749 §4.1.3, §4.4.2, §6; RFC 7636 §4.5)', () => {
  it('authenticates with HTTP Basic of the form-encoded id and secret (RFC 6749 §2.3.1)', () => {
    const request = tokenRequest(OPTIONS, { type: 'client_credentials', scope: 'accounting.settings.read' });
    expect(request.url).toBe('https://identity.example/connect/token');
    expect(request.init.method).toBe('POST');
    expect(request.init.headers.authorization).toBe(`Basic ${Buffer.from('client%20id%2B1:s3cr%3Aet').toString('base64')}`);
    expect(Object.fromEntries(new URLSearchParams(String(request.init.body)))).toEqual({ grant_type: 'client_credentials', scope: 'accounting.settings.read' });
  });

  it('sends the refresh token and the PKCE verifier in the form body', () => {
    expect(Object.fromEntries(new URLSearchParams(String(tokenRequest(OPTIONS, { type: 'refresh_token', refreshToken: 'r1' }).init.body)))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'r1',
    });
    const code = tokenRequest(OPTIONS, { type: 'authorization_code', code: 'c', redirectUri: 'https://localhost:8080', codeVerifier: 'v' });
    expect(Object.fromEntries(new URLSearchParams(String(code.init.body)))).toEqual({
      grant_type: 'authorization_code',
      code: 'c',
      redirect_uri: 'https://localhost:8080',
      code_verifier: 'v',
    });
  });

  it('puts client_id in the body for a public (PKCE-only) client', () => {
    const { clientSecret: _, ...publicClient } = OPTIONS;
    const request = tokenRequest(publicClient, { type: 'refresh_token', refreshToken: 'r1' });
    expect(request.init.headers.authorization).toBeUndefined();
    expect(new URLSearchParams(String(request.init.body)).get('client_id')).toBe('client id+1');
  });

  it('revokes with token_type_hint=refresh_token (RFC 7009 §2.1)', () => {
    const request = revocationRequest(OPTIONS, 'r1');
    expect(request.url).toBe('https://identity.example/connect/revocation');
    expect(Object.fromEntries(new URLSearchParams(String(request.init.body)))).toEqual({ token: 'r1', token_type_hint: 'refresh_token' });
  });

  it('builds the consent URL on the configured login host with S256', () => {
    const url = new URL(authorizationUrl(OPTIONS, { redirectUri: 'https://localhost:8080', scope: 'offline_access accounting.settings.read', state: 'st', codeChallenge: 'ch' }));
    expect(url.origin + url.pathname).toBe('https://login.example/identity/connect/authorize');
    expect(Object.fromEntries(url.searchParams)).toEqual({
      response_type: 'code',
      client_id: 'client id+1',
      redirect_uri: 'https://localhost:8080',
      scope: 'offline_access accounting.settings.read',
      state: 'st',
      code_challenge: 'ch',
      code_challenge_method: 'S256',
    });
  });

  it('asks /connections with the bearer token on the configured API host', () => {
    expect(connectionsRequest(OPTIONS, 'a1')).toEqual({
      url: 'https://api.example/connections',
      init: { method: 'GET', headers: { authorization: 'Bearer a1', accept: 'application/json' } },
    });
  });
});

describe('Token responses (RFC 6749 §5.1, §5.2)', () => {
  it('reads a token set and makes its expiry absolute', async () => {
    const set = await readTokenResponse(
      json(200, { access_token: 'a', expires_in: 1800, token_type: 'Bearer', refresh_token: 'r', scope: 'offline_access' }),
      'token (refresh_token)',
      NOW,
    );
    expect(set).toEqual({ accessToken: 'a', expiresAt: NOW + 1_800_000, refreshToken: 'r', scope: 'offline_access' });
  });

  it.each([
    ['no access_token', { expires_in: 1800, token_type: 'Bearer' }],
    ['a non-Bearer type', { access_token: 'a', expires_in: 1800, token_type: 'mac' }],
    ['no expiry', { access_token: 'a', token_type: 'Bearer' }],
  ])('refuses a 200 with %s as XERO_BAD_RESPONSE, naming fields not values', async (_what, body) => {
    const error = await readTokenResponse(json(200, body), 'token (refresh_token)', NOW).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'XERO_BAD_RESPONSE' });
    expect((error as Error).message).not.toMatch(/"a"/);
  });

  it('refuses a body that is not JSON', async () => {
    await expect(readTokenResponse(json(200, '<html>'), 'token (refresh_token)', NOW)).rejects.toMatchObject({ code: 'XERO_BAD_RESPONSE' });
  });

  it.each([
    [400, { error: 'invalid_grant' }, 'XERO_INVALID_GRANT'],
    [400, { error: 'invalid_client' }, 'XERO_INVALID_CLIENT'],
    [400, { error: 'unsupported_grant_type' }, 'XERO_BAD_REQUEST'],
    [503, '', 'XERO_SERVER_ERROR'],
    [429, '', 'XERO_RATE_LIMITED'],
  ] as const)('maps %i %j to %s', async (status, body, code) => {
    await expect(readTokenResponse(json(status, body), 'token (refresh_token)', NOW)).rejects.toMatchObject({ code, status });
  });
});

describe('GET /connections responses (docs/xero.md, "Connection")', () => {
  it('reads connections and the app-minute header', async () => {
    const body = [
      {
        id: '7cb59f93-0000-4000-8000-000000000001',
        authEventId: 'e',
        tenantId: 'fe79f7dd-0000-4000-8000-000000000002',
        tenantType: 'ORGANISATION',
        tenantName: 'Demo Company (NZ)',
        createdDateUtc: '2019-12-07T18:46:19.5165400',
        updatedDateUtc: '2019-12-07T18:46:19.5187840',
      },
    ];
    const { connections, headers } = await readConnectionsResponse(json(200, body, { 'X-AppMinLimit-Remaining': '9999' }), NOW);
    expect(connections).toEqual(body);
    expect(headers['x-appminlimit-remaining']).toBe('9999');
  });

  it('refuses something that is not a list of connections', async () => {
    await expect(readConnectionsResponse(json(200, { connections: [] }), NOW)).rejects.toMatchObject({ code: 'XERO_BAD_RESPONSE' });
    await expect(readConnectionsResponse(json(200, [{ id: 'x' }]), NOW)).rejects.toMatchObject({ code: 'XERO_BAD_RESPONSE' });
  });

  it('maps 401 to XERO_UNAUTHORIZED', async () => {
    await expect(
      readConnectionsResponse(json(401, { Title: 'Unauthorized', Status: 401, Detail: 'TokenExpired: token expired at 2026-11-27' }), NOW),
    ).rejects.toMatchObject({ code: 'XERO_UNAUTHORIZED', message: expect.stringContaining('TokenExpired') });
  });
});
