/**
 * One organisation's part of a sync (`src/directory/tenant-sync.ts`) against a scripted accounting reader, without
 * the sandbox: an answer waits for the removal guard instead of replacing the data, a failure keeps the last good
 * data, organisation details are fetched only when due or renamed, and every call goes through the one renewal.
 */
import type { Renewing } from '../../src/directory/credentials';
import type { TenantData } from '../../src/directory/model';
import { emptyCounts } from '../../src/directory/sync-report';
import { type TenantState, Tenants } from '../../src/directory/tenant-state';
import { syncTenant } from '../../src/directory/tenant-sync';
import { silentLogger } from '../../src/log';
import type { AccountingOrganisation, AccountingReader, AccountingUser } from '../../src/xero/accounting';
import { AppBudget, DEFAULT_POLICY, RateBudget, XERO_LIMITS } from '../../src/xero/budget';
import { XeroError } from '../../src/xero/errors';
import type { Connection } from '../../src/xero/identity';
import { SteppingClock, T0 } from '../xero/helpers/clocks';

const ID = '0a1b2c3d-0000-4000-8000-000000000001';
const HOUR = 3_600_000;
const connection = (tenantName = 'Acme Ltd'): Connection => ({ id: 'conn-1', tenantId: ID.toUpperCase(), tenantType: 'ORGANISATION', tenantName });
const details = (name: string): AccountingOrganisation => ({
  id: ID,
  name,
  edition: 'BUSINESS',
  createdAt: '2020-01-01T00:00:00.000Z',
  connectionId: 'conn-1',
  tenantType: 'ORGANISATION',
});
const user = (n: number, role: AccountingUser['role'] = 'STANDARD'): AccountingUser => ({
  organisationId: ID,
  xeroUserId: `u${n}`,
  email: `person${n}@example.com`,
  firstName: 'P',
  lastName: `${n}`,
  role,
  isSubscriber: false,
  updatedAt: '2026-01-01T00:00:00.000Z',
});

/** Answers from a script, one entry per call; an Error entry is thrown. */
class ScriptedReader implements AccountingReader {
  readonly calls: string[] = [];
  readonly tokens: string[] = [];
  constructor(
    private readonly organisations: (AccountingOrganisation | Error)[],
    private readonly users: (AccountingUser[] | Error)[],
  ) {}
  async getOrganisation(_c: Connection, accessToken: string) {
    this.calls.push('GET Organisation');
    this.tokens.push(accessToken);
    const next = this.organisations.shift() ?? new Error('no more Organisation answers scripted');
    if (next instanceof Error) throw next;
    return { value: next, headers: {} };
  }
  async getUsers(_tenantId: string, accessToken: string) {
    this.calls.push('GET Users');
    this.tokens.push(accessToken);
    const next = this.users.shift() ?? new Error('no more Users answers scripted');
    if (next instanceof Error) throw next;
    return { value: next, headers: {} };
  }
}

/** A renewal that renews on the first 401 of each call, handing out token-1, token-2, … */
class CountingRenewal implements Renewing {
  renewals = 0;
  private token = 'token-1';
  async withRenewal<T>(_operation: string, call: (accessToken: () => string) => Promise<T>): Promise<T> {
    try {
      return await call(() => this.token);
    } catch (err) {
      if (!(err instanceof XeroError) || err.code !== 'XERO_UNAUTHORIZED') throw err;
      this.renewals++;
      this.token = `token-${this.renewals + 1}`;
      return call(() => this.token);
    }
  }
}

function setUp(reader: ScriptedReader, credentials: Renewing = new CountingRenewal()) {
  const clock = new SteppingClock();
  // One attempt per call: the budget's own retries are proved in test/xero; here each scripted failure is final.
  const budgets = new Tenants((id) => new RateBudget(id, XERO_LIMITS, { ...DEFAULT_POLICY, maxAttempts: 1 }, new AppBudget(clock), { clock }));
  const state = budgets.get(ID);
  const counts = emptyCounts();
  const run = (c = connection()) => syncTenant(state, c, { accounting: reader, credentials, clock, logger: silentLogger, organisationRefreshMs: 24 * HOUR, counts });
  return { clock, state, counts, run };
}

const goodData = (state: TenantState): TenantData => ({ organisation: state.organisation!, users: [], syncedAt: '2026-11-26T00:00:00.000Z' });

describe('an organisation synced for the first time', () => {
  it('fetches its details, then its users, and leaves the answer for the removal guard (not yet its data)', async () => {
    const reader = new ScriptedReader([details('Acme Ltd')], [[user(1), user(2, 'REMOVED')]]);
    const { state, counts, run } = setUp(reader);
    await run();
    expect(reader.calls).toEqual(['GET Organisation', 'GET Users']);
    expect(state.data).toBeUndefined();
    expect(state.answer?.organisation.name).toBe('Acme Ltd');
    expect(state.answer?.users.map((u) => [u.xeroUserId, u.role])).toEqual([
      ['u1', 'STANDARD'],
      ['u2', 'REMOVED'],
    ]);
    expect(state.lastError).toBeUndefined();
    expect(state.lastAttemptAt).toBe(new Date(T0).toISOString());
    expect(state.callsLastSync).toBe(2);
    expect(counts).toMatchObject({ organisation: 1, users: 1 });
    expect(counts.perTenant.get(ID)).toBe(2);
  });

  it('fails as a whole when its details cannot be had: no answer, the error recorded, still no data', async () => {
    const reader = new ScriptedReader([new XeroError('XERO_FORBIDDEN', 'no access to this organisation', { status: 403 })], []);
    const { state, run } = setUp(reader);
    await run();
    expect(reader.calls).toEqual(['GET Organisation']);
    expect(state.answer).toBeUndefined();
    expect(state.data).toBeUndefined();
    expect(state.lastError).toMatchObject({ code: 'XERO_FORBIDDEN' });
  });
});

describe('an organisation with last good data', () => {
  async function synced(reader: ScriptedReader) {
    const parts = setUp(reader);
    await parts.run();
    parts.state.data = goodData(parts.state);
    delete parts.state.answer;
    reader.calls.length = 0;
    return parts;
  }

  it('keeps that data and records the error when its Users call fails', async () => {
    const reader = new ScriptedReader([details('Acme Ltd')], [[user(1)], new XeroError('XERO_SERVER_ERROR', 'Xero answered 500', { status: 500 })]);
    const { state, run } = await synced(reader);
    const before = state.data;
    await run();
    expect(state.data).toBe(before);
    expect(state.answer).toBeUndefined();
    expect(state.lastError).toMatchObject({ code: 'XERO_SERVER_ERROR' });
  });

  it('does not fetch its details again before ORGANISATION_REFRESH_SECONDS, unless it was renamed', async () => {
    const reader = new ScriptedReader([details('Acme Ltd'), details('Acme Group Ltd')], [[user(1)], [user(1)], [user(1)]]);
    const { state, run } = await synced(reader);
    await run();
    expect(reader.calls).toEqual(['GET Users']);
    reader.calls.length = 0;
    await run(connection('Acme Group Ltd'));
    expect(reader.calls).toEqual(['GET Organisation', 'GET Users']);
    expect(state.answer?.organisation.name).toBe('Acme Group Ltd');
  });

  it('fetches its details again once they are due, and keeps the old ones (and still reads users) if that fails', async () => {
    const reader = new ScriptedReader([details('Acme Ltd'), new XeroError('XERO_TIMEOUT', 'no answer')], [[user(1)], [user(1), user(3)]]);
    const { clock, state, run } = await synced(reader);
    clock.advance(24 * HOUR);
    await run();
    expect(reader.calls).toEqual(['GET Organisation', 'GET Users']);
    expect(state.answer?.organisation.name).toBe('Acme Ltd');
    expect(state.answer?.users).toHaveLength(2);
    expect(state.lastError).toBeUndefined();
  });
});

describe('token renewal', () => {
  it('sends every call through the renewal: a 401 is retried once with the renewed token', async () => {
    const renewal = new CountingRenewal();
    const reader = new ScriptedReader([details('Acme Ltd')], [new XeroError('XERO_UNAUTHORIZED', 'token expired', { status: 401 }), [user(1)]]);
    const { state, run } = setUp(reader, renewal);
    await run();
    expect(renewal.renewals).toBe(1);
    expect(reader.tokens).toEqual(['token-1', 'token-1', 'token-2']);
    expect(state.answer?.users).toHaveLength(1);
  });
});
