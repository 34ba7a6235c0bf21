/**
 * The directory's stop signal lives as long as the process and reaches every organisation's rate budget. Waits on it
 * (room in the app's minute allowance, backoff) must not leave 'abort' listeners behind, nor hang one each on it:
 * at XERO_CONCURRENCY organisations waiting at once that tripped Node's MaxListenersExceededWarning in a sync of
 * thousands of organisations.
 */
import { getEventListeners } from 'node:events';
import { type Sandbox, createSandbox } from '../../src/sandbox';
import { XeroAccounting } from '../../src/xero/accounting';
import { AppBudget, DEFAULT_POLICY, RateBudget, XERO_LIMITS } from '../../src/xero/budget';
import { type Clock, systemClock } from '../../src/xero/clock';
import { IdentityClient } from '../../src/xero/identity';

const ORGANISATIONS = 60;

let sandbox: Sandbox;
let server: { url: string; close(): Promise<void> };
let tenants: string[];
let access: string;
let reader: XeroAccounting;

async function setUp(appPerMinute: number): Promise<void> {
  sandbox = createSandbox({ data: { seed: 17, organisations: ORGANISATIONS, usersPerOrganisation: 2 }, limits: { enforce: true, appPerMinute } });
  server = await sandbox.listen(0, '127.0.0.1');
  const web = sandbox.clients.web;
  tenants = sandbox.data.organisations().map((o) => o.organisationId);
  const identity = new IdentityClient({
    identityUrl: server.url,
    apiUrl: server.url,
    loginUrl: server.url,
    clientId: web.clientId,
    clientSecret: web.clientSecret,
    timeoutMs: 5000,
  });
  access = (await identity.token({ type: 'refresh_token', refreshToken: sandbox.data.issueRefreshToken(web.clientId, tenants) })).accessToken;
  reader = new XeroAccounting(server.url);
}

afterEach(async () => {
  await server.close();
});

/** The real clock, telling when the n-th wait has begun (no timing: the waits are ended by aborting). */
function countingClock(n: number): { clock: Clock; waiting: Promise<void> } {
  let started = 0;
  let reached!: () => void;
  const waiting = new Promise<void>((resolve) => (reached = resolve));
  const clock: Clock = {
    now: systemClock.now,
    sleep: (ms, signal) => {
      if (++started === n) reached();
      return systemClock.sleep(ms, signal);
    },
  };
  return { clock, waiting };
}

const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('the stop signal shared by every rate budget', () => {
  it('carries one abort listener while many organisations wait for the app allowance, and none once they end', async () => {
    await setUp(1);
    const stopping = new AbortController();
    const { clock, waiting } = countingClock(ORGANISATIONS - 1);
    const app = new AppBudget(clock);
    const budgets = tenants.map(
      (id) => new RateBudget(id, XERO_LIMITS, { ...DEFAULT_POLICY, timeoutMs: 5000 }, app, { clock, signal: stopping.signal }),
    );
    // The first answer says the app's minute is used up (the sandbox allows 1 call a minute): the rest wait a minute.
    await budgets[0]!.call('GET Users', () => reader.getUsers(tenants[0]!, access));
    const rest = budgets.slice(1).map((b, i) => b.call('GET Users', () => reader.getUsers(tenants[i + 1]!, access)).catch((e: unknown) => e));
    await waiting;

    expect(abortListeners(stopping.signal)).toBe(1);

    stopping.abort();
    const results = await Promise.all(rest);
    expect(results).toEqual(Array(ORGANISATIONS - 1).fill(expect.objectContaining({ code: 'XERO_CANCELLED' })));
    expect(abortListeners(stopping.signal)).toBe(0);
    expect(sandbox.data.counters().status429).toBe(0);
  });

  it('keeps no abort listener after hundreds of calls with retries and waits', async () => {
    await setUp(10_000);
    const stopping = new AbortController();
    const app = new AppBudget();
    // Every organisation's first Users call fails with a 503 and is retried after a (zero-length) backoff wait.
    const budgets = tenants.map(
      (id) => new RateBudget(id, XERO_LIMITS, { ...DEFAULT_POLICY, timeoutMs: 5000 }, app, { random: () => 0, signal: stopping.signal }),
    );
    for (const tenantId of tenants) sandbox.data.scriptFault({ path: 'Users', tenantId, count: 1, kind: 503 });
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(budgets.map((b, i) => b.call('GET Users', () => reader.getUsers(tenants[i]!, access))));
      expect(results.every((r) => Array.isArray(r))).toBe(true);
      expect(abortListeners(stopping.signal)).toBe(0);
    }
    expect(sandbox.data.counters().byTenant[tenants[0]!.toLowerCase()]!.Users).toBe(4);
  });
});
