import http from 'node:http';
import request from 'supertest';
import { createSandbox, SandboxAdminError } from '../../src/sandbox';
import { basic, ManualClock, UUID, webToken } from './support';

async function setup() {
  const clock = new ManualClock();
  const sandbox = createSandbox({ clock });
  const [a, b] = sandbox.data.organisations();
  const token = await webToken(sandbox, [a!.organisationId, b!.organisationId]);
  const users = (tenant = a!.organisationId) =>
    request(sandbox.app).get('/api.xro/2.0/Users').set('Accept', 'application/json').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', tenant);
  return { clock, sandbox, users, a: a!, b: b!, token };
}

/** A raw request whose outcome may be "no answer at all". */
function rawGet(url: string, headers: Record<string, string>, timeoutMs: number): Promise<{ status?: number; error?: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { headers, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve({ error: 'timeout' });
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('scripted faults', () => {
  it('fails the next N calls to Users for one tenant with 503, leaving other tenants and endpoints alone', async () => {
    const { sandbox, users, a, b } = await setup();
    sandbox.data.scriptFault({ path: 'Users', tenantId: a.organisationId, count: 2, kind: 503 });
    const first = await users();
    expect(first.status).toBe(503);
    expect(first.body).toEqual({ Type: null, Title: 'Service Unavailable', Status: 503, Detail: 'The Xero API is temporarily unavailable', Instance: expect.stringMatching(UUID), Extensions: {} });
    expect((await users(b.organisationId)).status).toBe(200);
    expect((await users()).status).toBe(503);
    expect((await users()).status).toBe(200);
  });

  it("answers an 'empty' fault with a well-formed 200 that has nothing in it: /connections [] and Users {\"Users\":[]} (JSON and XML)", async () => {
    const { sandbox, users, a, b, token } = await setup();
    const connections = () => request(sandbox.app).get('/connections').set('Authorization', `Bearer ${token}`);
    expect((await request(sandbox.app).post('/__sandbox/faults').send({ path: 'connections', count: 1, kind: 'empty' })).status).toBe(204);
    const empty = await connections();
    expect([empty.status, empty.body]).toEqual([200, []]);
    expect((await connections()).body).toHaveLength(2);

    sandbox.data.scriptFault({ path: 'Users', tenantId: a.organisationId, count: 2, kind: 'empty' });
    const json = await users();
    expect(json.status).toBe(200);
    expect(json.body).toEqual({ Id: expect.stringMatching(UUID), Status: 'OK', ProviderName: expect.any(String), DateTimeUTC: expect.any(String), Users: [] });
    expect((await users(b.organisationId)).body.Users.length).toBeGreaterThan(0);
    const xml = await request(sandbox.app).get('/api.xro/2.0/Users').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', a.organisationId);
    expect(xml.status).toBe(200);
    expect(xml.text).toContain('<Status>OK</Status>');
    expect(xml.text).not.toContain('<User>');
    expect((await users()).body.Users.length).toBe(sandbox.data.users(a.organisationId).length);
  });

  it("refuses an 'empty' fault on a path that has no empty answer", async () => {
    const { sandbox } = await setup();
    const res = await request(sandbox.app).post('/__sandbox/faults').send({ path: 'Organisation', count: 1, kind: 'empty' });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain("kind 'empty' needs path 'connections' or 'Users'");
  });

  it('injects 429s for the minute and the day with the given Retry-After', async () => {
    const { sandbox, users } = await setup();
    sandbox.data.scriptFault({ path: 'Users', count: 1, kind: '429-day', retryAfterSeconds: 40_000 });
    sandbox.data.scriptFault({ path: 'Users', count: 1, kind: '429-minute' });
    const day = await users();
    expect([day.status, day.text, day.headers['retry-after'], day.headers['x-rate-limit-problem']]).toEqual([429, '', '40000', 'day']);
    const minute = await users();
    expect([minute.status, minute.headers['retry-after'], minute.headers['x-rate-limit-problem']]).toEqual([429, '60', 'minute']);
    expect(sandbox.data.counters().status429).toBe(2);
  });

  it('drops the connection, and withholds an answer until the client times out', async () => {
    const { sandbox, a, token } = await setup();
    const server = await sandbox.listen();
    sandbox.data.resetCounters();
    try {
      const headers = { Authorization: `Bearer ${token}`, 'xero-tenant-id': a.organisationId, Accept: 'application/json' };
      sandbox.data.scriptFault({ path: 'Organisation', count: 1, kind: 'drop' });
      expect(await rawGet(`${server.url}/api.xro/2.0/Organisation`, headers, 2000)).toEqual({ error: 'ECONNRESET' });
      sandbox.data.scriptFault({ path: 'Organisation', count: 1, kind: 'timeout' });
      expect(await rawGet(`${server.url}/api.xro/2.0/Organisation`, headers, 200)).toEqual({ error: 'timeout' });
      expect(await rawGet(`${server.url}/api.xro/2.0/Organisation`, headers, 2000)).toEqual({ status: 200 });
      expect(sandbox.data.counters().byStatus).toEqual({ dropped: 1, timeout: 1, 200: 1 });
    } finally {
      await server.close();
    }
  });

  it('loses the response of a token refresh after rotating, so the old token must be retried within the grace period', async () => {
    const { sandbox } = await setup();
    const { clientId, clientSecret } = sandbox.clients.web;
    const refreshToken = sandbox.data.issueRefreshToken(clientId, [sandbox.data.organisations()[0]!.organisationId]);
    const server = await sandbox.listen();
    try {
      sandbox.data.scriptFault({ path: 'token', count: 1, kind: 'lose-token-response' });
      const refresh = () =>
        fetch(`${server.url}/connect/token`, {
          method: 'POST',
          headers: { Authorization: basic(clientId, clientSecret), 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }),
        });
      await expect(refresh()).rejects.toThrow('fetch failed');
      const retried = await refresh();
      expect(retried.status).toBe(200);
      expect(sandbox.data.counters().token).toEqual({ client_credentials: 0, authorization_code: 0, refresh_token: 3, other: 0, errors: 0 });
    } finally {
      await server.close();
    }
  });

  it('fails the token endpoint with 500 when scripted', async () => {
    const { sandbox } = await setup();
    sandbox.data.scriptFault({ path: 'token', count: 1, kind: 500 });
    const { clientId, clientSecret } = sandbox.clients.custom;
    const res = await request(sandbox.app).post('/connect/token').set('Authorization', basic(clientId, clientSecret)).type('form').send({ grant_type: 'client_credentials' });
    expect(res.status).toBe(500);
    expect(res.body.Title).toBe('Internal Server Error');
  });

  it('rejects a malformed script with a clear error', () => {
    const { data } = createSandbox();
    expect(() => data.scriptFault({ path: 'Invoices' as never, count: 1, kind: 503 })).toThrow(SandboxAdminError);
    expect(() => data.scriptFault({ path: 'Invoices' as never, count: 1, kind: 503 })).toThrow(/path/);
    expect(() => data.scriptFault({ path: 'Users', count: 0, kind: 503 })).toThrow(/count/);
    expect(() => data.scriptFault({ path: 'Users', count: 1, kind: 'lose-token-response' })).toThrow("kind 'lose-token-response' needs path 'token'");
  });
});

describe('random faults and latency', () => {
  it('are reproducible from their seed', async () => {
    const outcomes = async () => {
      const { sandbox, users } = await setup();
      sandbox.data.setFaults({ serverErrorRate: 0.3, rateLimitRate: 0.2, seed: 99 });
      const statuses: number[] = [];
      for (let i = 0; i < 20; i++) statuses.push((await users()).status);
      return statuses;
    };
    const first = await outcomes();
    expect(first).toEqual(await outcomes());
    expect(new Set(first)).toEqual(new Set([200, 429, 503]));
  });

  it('delays answers by the configured latency', async () => {
    const { sandbox, users } = await setup();
    sandbox.data.setLatency({ fixedMs: 120 });
    // Timers are faked, I/O is not: the answer waits on a 120 ms timer that only the test moves.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      let answered = false;
      const answer = users().then((res) => {
        answered = true;
        return res;
      });
      for (let turns = 0; jest.getTimerCount() === 0 && turns < 10_000; turns++) await new Promise((r) => setImmediate(r));
      jest.advanceTimersByTime(119);
      for (let turns = 0; turns < 20; turns++) await new Promise((r) => setImmediate(r));
      expect(answered).toBe(false);
      jest.advanceTimersByTime(1);
      expect((await answer).status).toBe(200);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe('counters', () => {
  it('count calls per endpoint and tenant, including 429s, and reset', async () => {
    const { sandbox, users, a, b, token } = await setup();
    sandbox.data.resetCounters();
    await users();
    await users(b.organisationId);
    const zoeId = sandbox.data.users(b.organisationId)[0]!.userId;
    await request(sandbox.app).get(`/api.xro/2.0/Users/${zoeId}`).set('Authorization', `Bearer ${token}`).set('xero-tenant-id', b.organisationId);
    await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${token}`);
    sandbox.data.scriptFault({ path: 'Organisation', tenantId: a.organisationId, count: 1, kind: '429-minute' });
    await request(sandbox.app).get('/api.xro/2.0/Organisation').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', a.organisationId);
    expect(sandbox.data.counters()).toEqual({
      total: 5,
      byEndpoint: { 'GET /api.xro/2.0/Users': 2, 'GET /api.xro/2.0/Users/{UserID}': 1, 'GET /connections': 1, 'GET /api.xro/2.0/Organisation': 1 },
      byTenant: {
        [a.organisationId]: { Users: 1, User: 0, Organisation: 1, status429: 1 },
        [b.organisationId]: { Users: 1, User: 1, Organisation: 0, status429: 0 },
      },
      byStatus: { 200: 4, 429: 1 },
      status429: 1,
      token: { client_credentials: 0, authorization_code: 0, refresh_token: 0, other: 0, errors: 0 },
    });
    sandbox.data.resetCounters();
    expect(sandbox.data.counters().total).toBe(0);
  });
});

describe('admin API over HTTP (/__sandbox)', () => {
  it('adds a user, changes the role (bumping UpdatedDateUTC), removes the user; Users reflects each step', async () => {
    const { sandbox, users, a, clock } = await setup();
    const added = await request(sandbox.app).post(`/__sandbox/organisations/${a.organisationId}/users`).send({ email: 'new.person@example.com', firstName: 'New', lastName: 'Person', role: 'READONLY' });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({ userId: expect.stringMatching(UUID), email: 'new.person@example.com', firstName: 'New', lastName: 'Person', role: 'READONLY', isSubscriber: false, updatedAt: clock.now() });
    clock.advance(60);
    const changed = await request(sandbox.app).put(`/__sandbox/organisations/${a.organisationId}/users/${added.body.userId}/role`).send({ role: 'STANDARD' });
    expect(changed.body).toEqual({ ...added.body, role: 'STANDARD', updatedAt: clock.now() });
    const listed = (await users()).body.Users.find((u: { UserID: string }) => u.UserID === added.body.userId);
    expect(listed).toEqual(expect.objectContaining({ OrganisationRole: 'STANDARD', UpdatedDateUTC: `/Date(${clock.now()}+0000)/` }));
    expect((await request(sandbox.app).delete(`/__sandbox/organisations/${a.organisationId}/users/${added.body.userId}`)).status).toBe(204);
    expect((await users()).body.Users.some((u: { UserID: string }) => u.UserID === added.body.userId)).toBe(false);
  });

  it('lists organisations and users, adds an organisation, connects and disconnects it for the web client', async () => {
    const { sandbox, token } = await setup();
    const orgs = await request(sandbox.app).get('/__sandbox/organisations');
    expect(orgs.body.map((o: { name: string; userCount: number }) => [o.name, o.userCount])).toEqual([
      ['Kōwhai Joinery', 5],
      ['Harbour & Hale Advisory', 6],
      ['Southern Cross Animal Rescue', 6],
    ]);
    const created = await request(sandbox.app).post('/__sandbox/organisations').send({ name: 'Tui Bakery', countryCode: 'NZ' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual(expect.objectContaining({ organisationId: expect.stringMatching(UUID), name: 'Tui Bakery', edition: 'BUSINESS', userCount: 0 }));
    const id = created.body.organisationId as string;
    const connected = await request(sandbox.app).post(`/__sandbox/organisations/${id}/connect`);
    expect(connected.status).toBe(201);
    const connections = await request(sandbox.app).get('/connections').set('Authorization', `Bearer ${token}`);
    expect(connections.body.map((c: { tenantName: string }) => c.tenantName)).toContain('Tui Bakery');
    const org = await request(sandbox.app).get('/api.xro/2.0/Organisation').set('Accept', 'application/json').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', id);
    expect(org.body.Organisations[0].Name).toBe('Tui Bakery');
    expect((await request(sandbox.app).post(`/__sandbox/organisations/${id}/disconnect`)).status).toBe(204);
    expect((await request(sandbox.app).get('/api.xro/2.0/Organisation').set('Authorization', `Bearer ${token}`).set('xero-tenant-id', id)).status).toBe(403);
    const listedUsers = await request(sandbox.app).get(`/__sandbox/organisations/${sandbox.data.organisations()[0]!.organisationId}/users`);
    expect(listedUsers.body).toHaveLength(5);
  });

  it('issues refresh tokens, scripts faults, sets latency and limits, reads and resets counters', async () => {
    const { sandbox, a } = await setup();
    const issued = await request(sandbox.app).post('/__sandbox/refresh-tokens').send({ tenantIds: [a.organisationId] });
    expect(issued.status).toBe(201);
    expect(issued.body).toEqual({ refresh_token: expect.any(String) });
    expect((await request(sandbox.app).post('/__sandbox/faults').send({ path: 'connections', count: 1, kind: 503 })).status).toBe(204);
    expect((await request(sandbox.app).put('/__sandbox/faults').send({ serverErrorRate: 0 })).status).toBe(204);
    expect((await request(sandbox.app).put('/__sandbox/latency').send({ fixedMs: 0, jitterMs: 0 })).status).toBe(204);
    expect((await request(sandbox.app).put('/__sandbox/limits').send({ perMinute: 100 })).status).toBe(204);
    const counters = await request(sandbox.app).get('/__sandbox/counters');
    expect(counters.body.total).toBeGreaterThanOrEqual(1);
    expect((await request(sandbox.app).delete('/__sandbox/counters')).status).toBe(204);
    expect((await request(sandbox.app).get('/__sandbox/counters')).body.total).toBe(0);
  });

  it.each([
    ['an unknown role', 'put', 'users-role', { role: 'BOSS' }, 400],
    ['a Partner-only role outside a Partner organisation', 'put', 'users-role', { role: 'MANAGEDCLIENT' }, 400],
    ['an unknown organisation', 'get', 'missing-org', undefined, 404],
    ['a body that is not JSON', 'post', 'bad-json', '{"email":', 400],
    ['a user missing fields', 'post', 'users', { email: 'x@example.com' }, 400],
    ['a duplicate e-mail (any letter case)', 'post', 'users', { email: 'AROHA@kowhaijoinery.co.nz', firstName: 'A', lastName: 'N', role: 'STANDARD' }, 409],
    ['an unknown admin route', 'get', 'nowhere', undefined, 404],
  ])('answers %s with a clear {"error"} and the right status', async (_case, method, route, body, status) => {
    const { sandbox, a } = await setup();
    const userId = sandbox.data.users(a.organisationId)[1]!.userId;
    const paths: Record<string, string> = {
      'users-role': `/__sandbox/organisations/${a.organisationId}/users/${userId}/role`,
      'missing-org': '/__sandbox/organisations/00000000-0000-4000-8000-000000000000/users',
      'bad-json': `/__sandbox/organisations/${a.organisationId}/users`,
      users: `/__sandbox/organisations/${a.organisationId}/users`,
      nowhere: '/__sandbox/nowhere',
    };
    const agent = request(sandbox.app);
    const req = method === 'put' ? agent.put(paths[route]!) : method === 'post' ? agent.post(paths[route]!) : agent.get(paths[route]!);
    const res = typeof body === 'string' ? await req.set('Content-Type', 'application/json').send(body) : await req.send(body);
    expect(res.status).toBe(status);
    expect(res.body).toEqual({ error: expect.any(String) });
  });

  it('throws SandboxAdminError from the programmatic API', () => {
    const { data } = createSandbox();
    expect(() => data.users('00000000-0000-4000-8000-000000000000')).toThrow(SandboxAdminError);
  });
});
