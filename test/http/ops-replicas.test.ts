/**
 * What the operator routes say of replicas (REDIS_URL): `/readyz` names this replica's role, the leader, the shared
 * store's state and each replica's version (and stays ready with Redis down while a snapshot is held); `/metrics`
 * has `xero_scim_redis_up`, `xero_scim_leader` and `xero_scim_published_sequence`; the status page shows the same.
 * Without replicas none of it appears.
 */
import express from 'express';
import request from 'supertest';
import type { Directory, DirectoryStatus } from '../../src/directory/model';
import type { ReplicationStatus } from '../../src/directory/replication';
import { buildSnapshot } from '../../src/directory/snapshot';
import { errorHandler } from '../../src/http/errors';
import { createOpsRouter } from '../../src/http/ops-routes';
import { silentLogger } from '../../src/log';
import { Metrics } from '../../src/ops/metrics';
import { contract, exchangeOf } from '../support/openapi';

/** The body as the OpenAPI description says (the request-id header is the full app's, not the router's). */
function expectContract<T extends Parameters<typeof exchangeOf>[0]>(res: T): T {
  expect(contract().problems(exchangeOf(res)).filter((p) => !p.includes('X-Request-Id'))).toEqual([]);
  return res;
}

const ORG = '11111111-1111-4111-8111-111111111111';
const snapshot = buildSnapshot(
  [
    {
      organisation: { id: ORG, name: 'Acme', edition: 'BUSINESS', createdAt: '2020-01-01T00:00:00.000Z', connectionId: 'c1', tenantType: 'ORGANISATION' },
      syncedAt: '2026-11-27T00:00:00.000Z',
      users: [
        { organisationId: ORG, xeroUserId: 'u1', email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', role: 'STANDARD', isSubscriber: true, updatedAt: '2026-01-01T00:00:00.000Z' },
      ],
    },
  ],
  '2026-11-27T00:00:00.000Z',
);
const NOW = Date.parse('2026-11-27T00:10:00.000Z');
const clock = { now: () => NOW };

function replication(overrides: Partial<ReplicationStatus> = {}): ReplicationStatus {
  return {
    replicaId: 'xero-scim-7f9c-b2k4p#a1b2',
    role: 'follower',
    leader: 'xero-scim-7f9c-x8q2z#c3d4',
    store: { state: 'up', endpoint: 'redis://redis:6379/0', since: '2026-11-27T00:00:00.000Z' },
    sequence: 42,
    replicas: [
      { replicaId: 'xero-scim-7f9c-x8q2z#c3d4', role: 'leader', version: snapshot.version, seenAt: '2026-11-27T00:09:58.000Z' },
      { replicaId: 'xero-scim-7f9c-b2k4p#a1b2', role: 'follower', version: snapshot.version, seenAt: '2026-11-27T00:09:59.000Z' },
    ],
    ...overrides,
  };
}

function status(r: ReplicationStatus | undefined): DirectoryStatus {
  return {
    ready: true,
    lastSyncAt: '2026-11-27T00:05:00.000Z',
    lastSuccessfulSyncAt: '2026-11-27T00:05:00.000Z',
    credentials: { state: 'unknown' },
    persistence: { ok: true, lastSavedAt: '2026-11-27T00:05:00.000Z' },
    tenants: [{ organisationId: ORG, name: 'Acme', state: 'current', lastSuccessAt: '2026-11-27T00:05:00.000Z', userCount: 1 }],
    ...(r ? { replication: r } : {}),
  };
}

function appFor(s: DirectoryStatus) {
  const directory: Directory = { current: () => snapshot, forRead: async () => snapshot, status: () => s };
  const app = express();
  app.use(createOpsRouter({ directory, metrics: new Metrics({ directory, clock }), clock, version: 'test', statusPagePublic: true, isAuthorized: () => true }));
  app.use(errorHandler(silentLogger));
  return app;
}

const gauge = (text: string, name: string): string | undefined => text.split('\n').find((l) => l.startsWith(`${name}{`))?.split(' ')[1];

describe('/readyz, /metrics and the status page of a replica', () => {
  it('/readyz shows the role, the leader, the store and each replica, as the OpenAPI description says', async () => {
    const res = expectContract(await request(appFor(status(replication()))).get('/readyz').expect(200));
    expect(res.body.replication).toEqual(replication()); // every field known, so every field as the directory said
  });

  it('with Redis down a replica holding a snapshot stays ready; the body and the page say why it is degraded', async () => {
    const down = replication({ store: { state: 'down', endpoint: 'redis://redis:6379/0', since: '2026-11-27T00:08:00.000Z', lastError: 'connect ECONNREFUSED' } });
    const { leader: _unknown, ...noLeader } = down;
    const app = appFor(status(noLeader));
    const res = expectContract(await request(app).get('/readyz').expect(200));
    expect(res.body).toMatchObject({ status: 'ready', replication: { leader: null, store: { state: 'down', lastError: 'connect ECONNREFUSED' } } });

    const page = (await request(app).get('/').expect(200)).text;
    expect(page).toContain('class="banner degraded"');
    expect(page).toContain('the shared Redis is down');
    expect(page).toMatch(/<dd class="store"><strong>down<\/strong> \(redis:\/\/redis:6379\/0\)/);
    expect(page).toContain('<dd class="leader"><strong>none</strong>');
  });

  it('/metrics: xero_scim_redis_up, xero_scim_leader and xero_scim_published_sequence', async () => {
    const follower = (await request(appFor(status(replication()))).get('/metrics').expect(200)).text;
    expect([gauge(follower, 'xero_scim_redis_up'), gauge(follower, 'xero_scim_leader'), gauge(follower, 'xero_scim_published_sequence')]).toEqual(['1', '0', '42']);
    expect(follower).toContain('xero_scim_leader{replica="xero-scim-7f9c-b2k4p#a1b2"} 0');
    const leader = (await request(appFor(status(replication({ role: 'leader', store: { state: 'down', endpoint: 'x', since: '2026-11-27T00:00:00.000Z' } })))).get('/metrics')).text;
    expect([gauge(leader, 'xero_scim_redis_up'), gauge(leader, 'xero_scim_leader')]).toEqual(['0', '1']);
    const single = (await request(appFor(status(undefined))).get('/metrics')).text;
    expect([gauge(single, 'xero_scim_redis_up'), gauge(single, 'xero_scim_leader'), gauge(single, 'xero_scim_published_sequence')]).toEqual([undefined, undefined, undefined]);
  });

  it('the status page names the leader, this replica and its role, the store, and the version each replica serves', async () => {
    const page = (await request(appFor(status(replication()))).get('/').expect(200)).text;
    expect(page).toContain('<dd class="replica">xero-scim-7f9c-b2k4p#a1b2: <b>follower</b>, holding published state #42</dd>');
    expect(page).toContain('<dd class="leader">xero-scim-7f9c-x8q2z#c3d4</dd>');
    expect(page).toContain('<dd class="store">up (redis://redis:6379/0)</dd>');
    expect(page).toContain(`<li>xero-scim-7f9c-x8q2z#c3d4: <b>leader</b>, serving <code>${snapshot.version}</code>`);
    expect(page).toContain(`<li>xero-scim-7f9c-b2k4p#a1b2 (this one): <b>follower</b>, serving <code>${snapshot.version}</code>`);
    expect(page).toContain('class="banner ok"');
    expect(page).toContain('used by the leader only'); // a follower never uses the Xero credentials

    // A removal held back is confirmed through Redis, from any replica.
    const held = status(replication());
    const suspect = { ...held, tenants: [{ ...held.tenants[0]!, state: 'stale' as const, suspicion: { reason: 'disconnected' as const, since: '2026-11-27T00:00:00.000Z', answers: 1, awaitsOperator: false, answersLeft: 2 } }] };
    const confirmPage = (await request(appFor(suspect)).get('/').expect(200)).text;
    expect(confirmPage).toContain("with the replicas' REDIS_URL and REDIS_KEY_PREFIX (in any replica)");
    expect(confirmPage).not.toContain('STATE_DIR is');

    const single = (await request(appFor(status(undefined))).get('/').expect(200)).text;
    expect(single).not.toContain('class="leader"');
    expect(single).toContain('<dt>STATE_DIR</dt>');
  });
});
