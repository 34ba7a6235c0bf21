/**
 * The no-false-removal rules applied to tenant states, without the sandbox: what the guard is told before a sync,
 * and what its verdict does to each organisation's data (`src/directory/apply-verdict.ts`, `guard.ts`), over several
 * syncs. The rules themselves: RELIABILITY.md, "1. No false removals".
 */
import { applyVerdict, knownOrganisations } from '../../src/directory/apply-verdict';
import { type GuardPolicy, judge } from '../../src/directory/guard';
import type { TenantData } from '../../src/directory/model';
import { selectTenants } from '../../src/directory/sync-pass';
import { Tenants, memberCount } from '../../src/directory/tenant-state';
import { silentLogger } from '../../src/log';
import { RateBudget } from '../../src/xero/budget';
import type { Connection } from '../../src/xero/identity';

const POLICY: GuardPolicy = { confirmations: 3, maxShare: 0.5 };
const data = (id: string, members: number, at = '2026-11-27T05:00:00.000Z'): TenantData => ({
  organisation: { id, name: `Org ${id}`, edition: 'BUSINESS', createdAt: at, connectionId: `conn-${id}`, tenantType: 'ORGANISATION' },
  users: Array.from({ length: members }, (_, i) => ({
    organisationId: id,
    xeroUserId: `${id}-${i}`,
    email: `p${i}@${id}.example`,
    firstName: 'P',
    lastName: `${i}`,
    role: 'STANDARD' as const,
    isSubscriber: false,
    updatedAt: at,
  })),
  syncedAt: at,
});

/** A directory that has read organisations a to d, each with 5 members. */
function directory(): Tenants {
  const tenants = new Tenants((id) => new RateBudget(id));
  for (const id of ['a', 'b', 'c', 'd']) tenants.get(id).data = data(id, 5);
  return tenants;
}

/** One sync's answers as `sync-pass.ts` feeds them: connected ids, and a Users answer (member count) for each read one. */
function sync(tenants: Tenants, answers: Record<string, number>, confirmed: string[] = [], at = '2026-11-27T06:00:00.000Z') {
  const known = knownOrganisations(tenants.all());
  for (const [id, members] of Object.entries(answers)) tenants.get(id).answer = data(id, members, at);
  const members = new Map(tenants.all().flatMap((s) => (s.answer ? [[s.id, memberCount(s.answer)] as const] : [])));
  const verdict = judge(known, { at, connected: new Set(Object.keys(answers)), allowList: new Set(), members, confirmed: new Set(confirmed) }, POLICY);
  const applied = applyVerdict(tenants, verdict, silentLogger);
  for (const s of tenants.all()) delete s.answer;
  return applied;
}

describe('an organisation that leaves /connections', () => {
  it('keeps its last good data under a suspicion until the answer has held XERO_DISCONNECT_CONFIRMATIONS times', () => {
    const tenants = directory();
    const before = tenants.get('d').data;
    for (const answers of [1, 2]) {
      const { removed, raised } = sync(tenants, { a: 5, b: 5, c: 5 });
      expect(removed).toEqual([]);
      expect(raised).toEqual(answers === 1 ? ['disconnected'] : []);
      expect(tenants.find('d')?.data).toBe(before);
      expect(tenants.find('d')?.suspicion).toMatchObject({ reason: 'disconnected', answers });
    }
    const { removed } = sync(tenants, { a: 5, b: 5, c: 5 });
    expect(removed).toEqual([{ organisationId: 'd', name: 'Org d', result: 'removed', calls: 0 }]);
    expect(tenants.has('d')).toBe(false);
  });

  it('loses its suspicion, and takes the new answer, when it comes back', () => {
    const tenants = directory();
    sync(tenants, { a: 5, b: 5, c: 5 });
    sync(tenants, { a: 5, b: 5, c: 5, d: 6 }, [], '2026-11-27T07:00:00.000Z');
    const d = tenants.find('d')!;
    expect(d.suspicion).toBeUndefined();
    expect(d.data?.users).toHaveLength(6);
    expect(d.lastSuccessAt).toBe('2026-11-27T07:00:00.000Z');
  });
});

describe('a mass drop', () => {
  it('removes nothing on its own: every organisation keeps its data, awaiting an operator', () => {
    const tenants = directory();
    for (let i = 0; i < 5; i++) expect(sync(tenants, {}).removed).toEqual([]);
    expect(tenants.all().map((s) => [s.id, s.data?.users.length, s.suspicion?.reason, s.suspicion?.awaitsOperator])).toEqual([
      ['a', 5, 'suspect-disconnect', true],
      ['b', 5, 'suspect-disconnect', true],
      ['c', 5, 'suspect-disconnect', true],
      ['d', 5, 'suspect-disconnect', true],
    ]);
  });

  it('removes an organisation an operator confirmed, at the next answer that still asks for it, and only that one', () => {
    const tenants = directory();
    sync(tenants, { a: 5 });
    expect(sync(tenants, { a: 5 }, ['c']).removed.map((r) => r.organisationId)).toEqual(['c']);
    for (const id of ['b', 'd']) {
      expect(tenants.find(id)?.suspicion).toMatchObject({ reason: 'suspect-disconnect', awaitsOperator: true });
      expect(tenants.find(id)?.data?.users).toHaveLength(5);
    }
  });
});

describe('a Users answer with no member left', () => {
  it('is held (suspect-empty) with the last good data, while a partial drop is taken at once', () => {
    const tenants = directory();
    const { raised } = sync(tenants, { a: 0, b: 5, c: 5, d: 2 });
    expect(raised).toEqual(['suspect-empty']);
    expect(tenants.find('a')?.data?.users).toHaveLength(5);
    expect(tenants.find('d')?.data?.users).toHaveLength(2);
    expect(tenants.find('d')?.suspicion).toBeUndefined();
  });
});

describe('which connections a sync reads', () => {
  const c = (tenantId: string, tenantType = 'ORGANISATION', id = `conn-${tenantId}`): Connection => ({ id, tenantId, tenantType, tenantName: tenantId });

  it('reads organisations and practices once each, and tells the guard of every one connected, allowed or not', () => {
    const { wanted, connectedIds } = selectTenants([c('A'), c('b', 'PRACTICE'), c('A', 'ORGANISATION', 'conn-2'), c('x', 'PAYROLL'), c('d')], new Set(['a', 'b']));
    expect(wanted.map((w) => w.id)).toEqual(['conn-A', 'conn-b']);
    expect([...connectedIds]).toEqual(['a', 'b', 'd']);
  });
});

describe('an accepted answer', () => {
  it("shares the last data's users when Xero answered the same ones, and takes every change", () => {
    const tenants = directory();
    // The same five members, read again at the same instant of their last update: the users are shared.
    const before = tenants.get('a').data!;
    tenants.get('a').answer = data('a', 5);
    const members = new Map([['a', 5]]);
    const verdict = judge(knownOrganisations(tenants.all()), { at: '2026-11-27T06:00:00.000Z', connected: new Set(['a', 'b', 'c', 'd']), allowList: new Set(), members, confirmed: new Set() }, POLICY);
    applyVerdict(tenants, verdict, silentLogger);
    const after = tenants.get('a').data!;
    expect(after.users).toBe(before.users);
    expect(after.syncedAt).toBe(before.syncedAt);

    // Any field of any record changed: the answer is taken as it is.
    for (const change of [{ role: 'READONLY' as const }, { firstName: 'Q' }, { updatedAt: '2026-11-27T06:00:00.000Z' }, { isSubscriber: true }]) {
      const answer = data('a', 5);
      tenants.get('a').answer = { ...answer, users: answer.users.map((u, i) => (i === 3 ? { ...u, ...change } : u)) };
      applyVerdict(tenants, judge(knownOrganisations(tenants.all()), { at: '2026-11-27T06:00:00.000Z', connected: new Set(['a', 'b', 'c', 'd']), allowList: new Set(), members, confirmed: new Set() }, POLICY), silentLogger);
      expect(tenants.get('a').data!.users[3]).toMatchObject(change);
    }
    sync(tenants, { a: 4, b: 5, c: 5, d: 5 });
    expect(tenants.get('a').data!.users).toHaveLength(4);
  });
});
