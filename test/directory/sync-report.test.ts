/**
 * Health, status and the sync report as pure functions of tenant states (`src/directory/status.ts`,
 * `src/directory/sync-report.ts`), without the sandbox: an organisation with data is never reported missing, a held
 * removal shows as stale with its answers left, and the directory is ready only while it holds a snapshot with an
 * organisation.
 */
import type { GuardPolicy } from '../../src/directory/guard';
import type { TenantData } from '../../src/directory/model';
import { afterSync, directoryStatus, persistenceHealth, tenantHealth } from '../../src/directory/status';
import { buildSyncReport, emptyCounts } from '../../src/directory/sync-report';
import { buildSnapshot } from '../../src/directory/snapshot';
import { type TenantState, Tenants } from '../../src/directory/tenant-state';
import { RateBudget } from '../../src/xero/budget';
import { T0 } from '../xero/helpers/clocks';

const POLICY: GuardPolicy = { confirmations: 3, maxShare: 0.5 };
const iso = (ms: number) => new Date(ms).toISOString();
const data = (id: string, name: string, users = 2): TenantData => ({
  organisation: { id, name, edition: 'BUSINESS', createdAt: iso(0), connectionId: `conn-${id}`, tenantType: 'ORGANISATION' },
  users: Array.from({ length: users }, (_, i) => ({
    organisationId: id,
    xeroUserId: `${id}-u${i}`,
    email: `p${i}@${id}.example`,
    firstName: 'P',
    lastName: `${i}`,
    role: 'STANDARD' as const,
    isSubscriber: false,
    updatedAt: iso(0),
  })),
  syncedAt: iso(T0 - 3_600_000),
});

function states(): { tenants: Tenants; current: TenantState; stale: TenantState; held: TenantState; missing: TenantState } {
  const tenants = new Tenants((id) => new RateBudget(id));
  const current = Object.assign(tenants.get('a'), { data: data('a', 'Alpha'), lastSuccessAt: iso(T0 - 3_600_000) });
  const stale = Object.assign(tenants.get('b'), {
    data: data('b', 'Beta'),
    lastSuccessAt: iso(T0 - 7_200_000),
    lastError: { code: 'XERO_SERVER_ERROR', message: 'Xero answered 500', at: iso(T0) },
  });
  const held = Object.assign(tenants.get('c'), {
    data: data('c', 'Gamma'),
    suspicion: { reason: 'disconnected' as const, since: iso(T0 - 600_000), answers: 1, awaitsOperator: false },
  });
  const missing = Object.assign(tenants.get('d'), {
    connection: { id: 'conn-d', tenantId: 'd', tenantType: 'ORGANISATION', tenantName: 'Delta' },
    lastError: { code: 'XERO_FORBIDDEN', message: 'no access', at: iso(T0) },
  });
  return { tenants, current, stale, held, missing };
}

describe('an organisation\'s health, from its state', () => {
  it('is current with data and no error, stale with data and an error or a suspicion, missing without data', () => {
    const { current, stale, held, missing } = states();
    expect([current, stale, held, missing].map((s) => tenantHealth(s, POLICY).state)).toEqual(['current', 'stale', 'stale', 'missing']);
  });

  it('shows a held removal with the answers it still needs, and a missing one under its connection name', () => {
    const { held, missing } = states();
    expect(tenantHealth(held, POLICY)).toMatchObject({ name: 'Gamma', suspicion: { reason: 'disconnected', answers: 1, answersLeft: 2 } });
    held.suspicion = { ...held.suspicion!, awaitsOperator: true };
    expect(tenantHealth(held, POLICY).suspicion).not.toHaveProperty('answersLeft');
    expect(tenantHealth(missing, POLICY)).toMatchObject({ name: 'Delta', state: 'missing', lastError: { code: 'XERO_FORBIDDEN' } });
    expect(tenantHealth(missing, POLICY)).not.toHaveProperty('userCount');
  });
});

describe('the sync report, from the states after a sync', () => {
  const calls = { token: 1, connections: 1, organisation: 0, users: 4 };

  it('is partial when any organisation is not current, with each one\'s result, error and age', () => {
    const { tenants } = states();
    const report = buildSyncReport({ startedMs: T0 - 2000, finishedMs: T0, changed: true, calls, rateLimited: 0, states: tenants.sorted(), counts: emptyCounts(), removed: [], raised: ['disconnected'], policy: POLICY });
    expect(report.outcome).toBe('partial');
    expect(report.durationMs).toBe(2000);
    expect(report.tenants.map((t) => [t.organisationId, t.result, t.error?.code, t.ageSeconds])).toEqual([
      ['a', 'current', undefined, 3600],
      ['b', 'stale', 'XERO_SERVER_ERROR', 7200],
      ['c', 'stale', undefined, undefined],
      ['d', 'missing', 'XERO_FORBIDDEN', undefined],
    ]);
    expect(report.suspicionsRaised).toEqual(['disconnected']);
  });

  it('is ok when every organisation is current, and lists removed ones in id order', () => {
    const { tenants } = states();
    const report = buildSyncReport({
      startedMs: T0,
      finishedMs: T0,
      changed: false,
      calls,
      rateLimited: 0,
      states: [tenants.get('a')],
      counts: emptyCounts(),
      removed: [{ organisationId: '0', name: 'Zero', result: 'removed', calls: 0 }],
      raised: [],
      policy: POLICY,
    });
    expect(report.outcome).toBe('ok');
    expect(report.tenants.map((t) => [t.organisationId, t.result])).toEqual([
      ['0', 'removed'],
      ['a', 'current'],
    ]);
  });

  it('is failed when the sync failed as a whole, whatever the organisations show', () => {
    const { tenants } = states();
    const report = buildSyncReport({ startedMs: T0, finishedMs: T0, failure: { code: 'XERO_INVALID_GRANT', message: 'consent again' }, changed: false, calls, rateLimited: 0, states: [tenants.get('a')], counts: emptyCounts(), removed: [], raised: [], policy: POLICY });
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'XERO_INVALID_GRANT', message: 'consent again' } });
  });
});

describe('readiness, from the snapshot and the last sync', () => {
  const base = { lastSync: { finishedAtMs: 0 }, terminal: undefined, credentials: { state: 'unknown' as const }, persistence: persistenceHealth(undefined, undefined, undefined), tenants: [], policy: POLICY };

  it('is not ready before a snapshot, naming the cause when there is one', () => {
    expect(directoryStatus({ ...base, snapshot: undefined })).toMatchObject({ ready: false, reason: 'no directory snapshot yet (first sync pending)' });
    const refused = directoryStatus({ ...base, snapshot: undefined, terminal: { code: 'XERO_INVALID_GRANT', message: 'consent again' } });
    expect(refused.reason).toBe('no directory snapshot yet: XERO_INVALID_GRANT: consent again');
  });

  it('is not ready with an empty snapshot (it would read as everyone\'s access revoked), and ready with an organisation', () => {
    expect(directoryStatus({ ...base, snapshot: buildSnapshot([], iso(T0)) }).ready).toBe(false);
    const { tenants } = states();
    const ready = directoryStatus({ ...base, snapshot: buildSnapshot([data('a', 'Alpha')], iso(T0)), tenants: tenants.sorted() });
    expect(ready.ready).toBe(true);
    expect(ready.tenants.map((t) => t.state)).toEqual(['current', 'stale', 'stale', 'missing']);
  });

  it('reports a refused directory-state write before a refused token write, and ok without either', () => {
    const stateError = { code: 'STATE_NOT_WRITABLE', message: 'EROFS', at: iso(T0) };
    const tokenError = { code: 'XERO_STATE_NOT_WRITABLE', message: 'EROFS', at: iso(T0) };
    expect(persistenceHealth(iso(T0), undefined, undefined)).toEqual({ ok: true, lastSavedAt: iso(T0) });
    expect(persistenceHealth(undefined, stateError, tokenError)).toEqual({ ok: false, error: stateError });
    expect(persistenceHealth(undefined, undefined, tokenError)).toEqual({ ok: false, error: tokenError });
  });
});

describe('the last sync, as the status reports it', () => {
  const report = (outcome: 'ok' | 'failed', finishedAt: string) =>
    buildSyncReport({
      startedMs: Date.parse(finishedAt),
      finishedMs: Date.parse(finishedAt),
      ...(outcome === 'failed' ? { failure: { code: 'XERO_SERVER_ERROR', message: 'Xero answered 503' } } : {}),
      changed: false,
      calls: { token: 0, connections: 1, organisation: 0, users: 0 },
      rateLimited: 0,
      states: [],
      counts: emptyCounts(),
      removed: [],
      raised: [],
      policy: POLICY,
    });

  it('keeps the last successful sync through a failed one, and forgets the failure at the next success', () => {
    const ok = afterSync({ finishedAtMs: 0 }, report('ok', iso(T0)), undefined);
    expect(ok).toMatchObject({ at: iso(T0), finishedAtMs: T0, outcome: 'ok', successfulAt: iso(T0) });
    const failed = afterSync(ok, report('failed', iso(T0 + 60_000)), { code: 'XERO_SERVER_ERROR', message: 'Xero answered 503' });
    expect(failed).toMatchObject({ outcome: 'failed', successfulAt: iso(T0), error: { code: 'XERO_SERVER_ERROR', at: iso(T0 + 60_000) } });
    const again = afterSync(failed, report('ok', iso(T0 + 120_000)), undefined);
    expect(again).toMatchObject({ outcome: 'ok', successfulAt: iso(T0 + 120_000) });
    expect(again).not.toHaveProperty('error');
  });
});
