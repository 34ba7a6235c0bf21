import { type Sandbox, type SandboxOptions, createSandbox } from '../../src/sandbox';
import { XeroAccounting } from '../../src/xero/accounting';
import { AppBudget, DEFAULT_POLICY, RateBudget, XERO_LIMITS } from '../../src/xero/budget';
import { IdentityClient } from '../../src/xero/identity';
import { SteppingClock } from './helpers/clocks';

let clock: SteppingClock;
let sandbox: Sandbox;
let server: { url: string; close(): Promise<void> };
let token: string;
let tenantId: string;
let accounting: XeroAccounting;

async function setUp(limits: Parameters<typeof createSandbox>[0] extends infer O ? (O extends { limits?: infer L } ? L : never) : never): Promise<void> {
  clock = new SteppingClock();
  sandbox = createSandbox({ clock, data: { seed: 11, organisations: 1, usersPerOrganisation: 3 }, limits, latency: { fixedMs: 5, jitterMs: 10 } });
  server = await sandbox.listen(0, '127.0.0.1');
  const custom = sandbox.clients.custom;
  const identity = new IdentityClient(
    { identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId: custom.clientId, clientSecret: custom.clientSecret, timeoutMs: 5000 },
    { clock },
  );
  token = (await identity.token({ type: 'client_credentials' })).accessToken;
  tenantId = custom.tenantIds![0]!;
  accounting = new XeroAccounting(server.url);
}

afterEach(async () => {
  await server.close();
});

/**
 * Four organisations sharing one app allowance, each with its own budget, through a web app's token: the sandbox
 * started with `options` on a stepping clock. The first answer is read before returning, since it is what teaches
 * the app's allowance (the very first wave is necessarily blind).
 */
async function appAllowanceWorld(options: Omit<SandboxOptions, 'clock'>) {
  clock = new SteppingClock();
  sandbox = createSandbox({ clock, ...options });
  server = await sandbox.listen(0, '127.0.0.1');
  const web = sandbox.clients.web;
  const tenants = sandbox.data.organisations().map((o) => o.organisationId);
  const identity = new IdentityClient(
    { identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId: web.clientId, clientSecret: web.clientSecret, timeoutMs: 5000 },
    { clock },
  );
  const access = (await identity.token({ type: 'refresh_token', refreshToken: sandbox.data.issueRefreshToken(web.clientId, tenants) })).accessToken;
  const reader = new XeroAccounting(server.url);
  const app = new AppBudget(clock);
  const budgets = tenants.map((id) => new RateBudget(id, XERO_LIMITS, { ...DEFAULT_POLICY, timeoutMs: 5000 }, app, { clock, random: () => 0.5 }));
  await budgets[0]!.call('GET Users', () => reader.getUsers(tenants[0]!, access));
  return { budgets, reader, tenants, access };
}

function budget(limits = XERO_LIMITS): RateBudget {
  return new RateBudget(tenantId, limits, { ...DEFAULT_POLICY, timeoutMs: 5000 }, new AppBudget(clock), { clock, random: () => 0.5 });
}

function burst(b: RateBudget, n: number): Promise<unknown[]> {
  return Promise.all(Array.from({ length: n }, () => b.call('GET Users', () => accounting.getUsers(tenantId, token)).catch((e: unknown) => e)));
}

describe('RateBudget against the sandbox with Xero\'s limits enforced (docs/xero.md, "Rate limits")', () => {
  it('keeps 130 calls of one organisation within 5 in flight and 60 a minute: zero 429s', async () => {
    await setUp({ enforce: true });
    const b = budget();
    const results = await burst(b, 130);
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(sandbox.data.counters().status429).toBe(0);
    expect(sandbox.data.counters().byTenant[tenantId.toLowerCase()]!.Users).toBe(130);
    // Two full minutes had to pass on the shared clock.
    expect(clock.now() - Date.parse('2026-11-27T05:00:00.000Z')).toBeGreaterThanOrEqual(120_000);
  });

  it('obeys X-MinLimit-Remaining when Xero allows fewer calls than we assume', async () => {
    await setUp({ enforce: true, perMinute: 12 });
    const results = await burst(budget(), 30);
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(sandbox.data.counters().status429).toBe(0);
  });

  it('parks the organisation when X-DayLimit-Remaining reaches 0, without a 429', async () => {
    await setUp({ enforce: true, perDay: 8 });
    const b = budget();
    const results = await burst(b, 12);
    expect(results.filter((r) => Array.isArray(r))).toHaveLength(8);
    expect(results.filter((r) => !Array.isArray(r))).toEqual(Array(4).fill(expect.objectContaining({ code: 'XERO_DAILY_LIMIT' })));
    expect(sandbox.data.counters().status429).toBe(0);
    expect(b.status()).toMatchObject({ dayRemaining: 0, parkedUntil: expect.any(Number) });
  });

  it('stays under a configured daily limit smaller than Xero\'s', async () => {
    await setUp({ enforce: true });
    const b = budget({ ...XERO_LIMITS, perDay: 5 });
    const results = await burst(b, 7);
    expect(results.filter((r) => Array.isArray(r))).toHaveLength(5);
    expect(sandbox.data.counters().byTenant[tenantId.toLowerCase()]!.Users).toBe(5);
  });

  it('waits Retry-After on a minute 429 and then succeeds', async () => {
    await setUp({ enforce: true });
    sandbox.data.scriptFault({ path: 'Users', count: 2, kind: '429-minute', retryAfterSeconds: 30 });
    const b = budget();
    const start = clock.now();
    const [result] = await burst(b, 1);
    expect(Array.isArray(result)).toBe(true);
    expect(clock.now() - start).toBeGreaterThanOrEqual(60_000);
    expect(b.status().rateLimited).toBe(2);
  });

  it('gives up after the configured 429 waits rather than looping', async () => {
    await setUp({ enforce: true });
    sandbox.data.scriptFault({ path: 'Users', count: 50, kind: '429-minute', retryAfterSeconds: 1 });
    const [result] = await burst(budget(), 1);
    expect(result).toMatchObject({ code: 'XERO_RATE_LIMITED', retryAfterSeconds: 1 });
    expect(sandbox.data.counters().byTenant[tenantId.toLowerCase()]!.Users).toBe(DEFAULT_POLICY.maxRateLimitWaits + 1);
  });

  it('times out a call that never answers, with the timeout as the error', async () => {
    await setUp({ enforce: true });
    sandbox.data.scriptFault({ path: 'Users', count: 10, kind: 'timeout' });
    const b = new RateBudget(tenantId, XERO_LIMITS, { ...DEFAULT_POLICY, timeoutMs: 150, maxAttempts: 2 }, new AppBudget(clock), { clock, random: () => 0.5 });
    // The sandbox holds these calls for minutes: only the 150 ms timeout can end them.
    const [result] = await burst(b, 1);
    expect(result).toMatchObject({ code: 'XERO_TIMEOUT' });
  });

  it('shares X-AppMinLimit-Remaining across organisations: the app allowance is never overrun', async () => {
    const { budgets, reader, tenants, access } = await appAllowanceWorld({ data: { seed: 12, organisations: 4, usersPerOrganisation: 2 }, limits: { enforce: true, appPerMinute: 12 } });
    const results = await Promise.all(
      budgets.flatMap((b, i) =>
        Array.from({ length: 5 }, () => b.call('GET Users', () => reader.getUsers(tenants[i]!, access)).catch((e: unknown) => e)),
      ),
    );
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(sandbox.data.counters().status429).toBe(0);
    expect(clock.now() - Date.parse('2026-11-27T05:00:00.000Z')).toBeGreaterThanOrEqual(60_000);
  });

  it('reuses the app allowance as its calls age out of the rolling minute: four windows of calls, no 429', async () => {
    const { budgets, reader, tenants, access } = await appAllowanceWorld({
      data: { seed: 13, organisations: 4, usersPerOrganisation: 2 },
      limits: { enforce: true, appPerMinute: 10 },
      latency: { fixedMs: 2, jitterMs: 5 },
      // Every sleeper moves this clock on by its own wait, so virtual time runs fast: keep the token valid.
      accessTokenTtlSeconds: 86_400,
    });
    const results = await Promise.all(
      budgets.flatMap((b, i) =>
        Array.from({ length: i === 0 ? 9 : 10 }, () => b.call('GET Users', () => reader.getUsers(tenants[i]!, access)).catch((e: unknown) => e)),
      ),
    );
    expect(results.every((r) => Array.isArray(r))).toBe(true);
    expect(sandbox.data.counters().status429).toBe(0);
    expect(tenants.map((t) => sandbox.data.counters().byTenant[t.toLowerCase()]!.Users)).toEqual([10, 10, 10, 10]);
  });
});
