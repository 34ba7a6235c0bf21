import express from 'express';
import request from 'supertest';
import type { Directory, DirectorySnapshot, DirectoryStatus } from '../../src/directory/model';
import { buildSnapshot } from '../../src/directory/snapshot';
import { Metrics } from '../../src/ops/metrics';
import { errorHandler } from '../../src/http/errors';
import { silentLogger } from '../../src/log';
import { createOpsRouter } from '../../src/http/ops-routes';

const ORG = '11111111-1111-4111-8111-111111111111';
const snapshot = buildSnapshot(
  [
    {
      organisation: { id: ORG, name: 'Acme <Ltd>', edition: 'BUSINESS', createdAt: '2020-01-01T00:00:00.000Z', connectionId: 'c1', tenantType: 'ORGANISATION' },
      syncedAt: '2026-11-27T00:00:00.000Z',
      users: [
        { organisationId: ORG, xeroUserId: 'u1', email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', role: 'STANDARD', isSubscriber: true, updatedAt: '2026-01-01T00:00:00.000Z' },
      ],
    },
  ],
  '2026-11-27T00:00:00.000Z',
);

function directoryWith(status: DirectoryStatus, current: DirectorySnapshot | undefined): Directory {
  return { current: () => current, forRead: async () => current, status: () => status };
}

const NOW = Date.parse('2026-11-27T00:10:00.000Z');
const clock = { now: () => NOW };
const readyStatus: DirectoryStatus = {
  ready: true,
  lastSyncAt: '2026-11-27T00:05:00.000Z',
  lastSyncOutcome: 'partial',
  tenants: [
    {
      organisationId: ORG,
      name: 'Acme <Ltd>',
      state: 'stale',
      lastSuccessAt: '2026-11-27T00:00:00.000Z',
      lastError: { code: 'XERO_RATE_LIMITED', message: 'Xero answered 429 (minute limit)', at: '2026-11-27T00:05:00.000Z' },
      rateBudget: { minuteRemaining: 12, dayRemaining: 4321 },
      callsLastSync: 3,
    },
  ],
};

function appFor(directory: Directory, statusPagePublic = false) {
  const metrics = new Metrics({ directory, clock });
  const app = express();
  app.use(createOpsRouter({ directory, metrics, clock, version: 'test', statusPagePublic, isAuthorized: (req) => req.get('authorization') === 'Bearer good' }));
  app.use(errorHandler(silentLogger));
  return { app, metrics };
}

describe('operator routes', () => {
  it('GET /metrics reads the directory status once per scrape, however many gauges describe it', async () => {
    let calls = 0;
    const directory: Directory = { current: () => snapshot, forRead: async () => snapshot, status: () => (calls++, readyStatus) };
    const { app } = appFor(directory);
    await request(app).get('/metrics').expect(200);
    expect(calls).toBe(1);
  });

  it('GET /healthz answers 200 whatever the directory state', async () => {
    const { app } = appFor(directoryWith({ ready: false, reason: 'no snapshot yet', tenants: [] }, undefined));
    await request(app).get('/healthz').expect(200, { status: 'ok' });
  });

  it('GET /readyz answers 503 with the reason before the first snapshot', async () => {
    const { app } = appFor(directoryWith({ ready: false, reason: 'no snapshot loaded yet (first sync running)', tenants: [] }, undefined));
    const res = await request(app).get('/readyz').expect(503);
    expect(res.body).toEqual({ status: 'not ready', reason: 'no snapshot loaded yet (first sync running)', lastSyncAt: null, lastSyncOutcome: null, tenants: [] });
  });

  it('GET /readyz answers 200 and names stale organisations with their last error', async () => {
    const { app } = appFor(directoryWith(readyStatus, snapshot));
    const res = await request(app).get('/readyz').expect(200);
    expect(res.body.tenants).toEqual([
      {
        id: ORG,
        name: 'Acme <Ltd>',
        state: 'stale',
        lastSuccessAt: '2026-11-27T00:00:00.000Z',
        ageSeconds: 600,
        callsLastSync: 3,
        rateBudget: { minuteRemaining: 12, dayRemaining: 4321 },
        lastError: readyStatus.tenants[0]!.lastError,
      },
    ]);
  });

  describe('readiness is "can serve a snapshot"; Xero and STATE_DIR health sit beside it', () => {
    const refused: DirectoryStatus = {
      ...readyStatus,
      lastSyncOutcome: 'failed',
      lastSyncError: { code: 'XERO_INVALID_GRANT', message: 'Xero refused the refresh token (invalid_grant): run `xero-scim auth`', at: '2026-11-27T00:05:00.000Z' },
      lastSuccessfulSyncAt: '2026-11-27T00:00:00.000Z',
      credentials: {
        state: 'invalid_grant',
        validAt: '2026-11-27T00:00:00.000Z',
        error: { code: 'XERO_INVALID_GRANT', message: 'Xero refused the refresh token (invalid_grant): run `xero-scim auth`', at: '2026-11-27T00:05:00.000Z' },
      },
      persistence: { ok: false, lastSavedAt: '2026-11-27T00:00:00.000Z', error: { code: 'STATE_NOT_WRITABLE', message: 'cannot save the directory state in STATE_DIR (EROFS)', at: '2026-11-27T00:05:00.000Z' } },
    };

    it('GET /readyz answers 200 while a snapshot is held although Xero refuses the credentials, with the credential and STATE_DIR state', async () => {
      const { app } = appFor(directoryWith(refused, snapshot));
      const res = await request(app).get('/readyz').expect(200);
      expect(res.body).toMatchObject({
        status: 'ready',
        lastSyncOutcome: 'failed',
        lastSyncError: refused.lastSyncError,
        lastSuccessfulSyncAt: '2026-11-27T00:00:00.000Z',
        credentials: refused.credentials,
        persistence: refused.persistence,
      });
    });

    it('GET /metrics has alertable gauges: credential state, last successful sync age, per-organisation health, STATE_DIR writes', async () => {
      const { app } = appFor(directoryWith(refused, snapshot));
      const res = await request(app).get('/metrics').expect(200);
      expect(res.text).toMatch(/^xero_scim_ready 1$/m);
      expect(res.text).toMatch(/^xero_scim_credentials\{state="invalid_grant"\} 1$/m);
      expect(res.text).toMatch(/^xero_scim_credentials\{state="valid"\} 0$/m);
      expect(res.text).toMatch(/^xero_scim_last_successful_sync_age_seconds 600$/m);
      expect(res.text).toMatch(new RegExp(`^xero_scim_tenant_current\\{tenant="${ORG}"\\} 0$`, 'm'));
      expect(res.text).toMatch(/^xero_scim_state_persisted 0$/m);
    });

    it('the status page says the snapshot is served while the credentials are refused and STATE_DIR fails', async () => {
      const { app } = appFor(directoryWith(refused, snapshot));
      const res = await request(app).get('/').set('Authorization', 'Bearer good').expect(200);
      expect(res.text).toContain('class="banner degraded"');
      expect(res.text).toContain('Serving the last snapshot; Xero refuses the credentials (invalid_grant)');
      expect(res.text).toMatch(/<dt>Xero credentials<\/dt><dd class="credentials"><strong>invalid_grant<\/strong>: XERO_INVALID_GRANT: Xero refused the refresh token/);
      expect(res.text).toMatch(/<dt>STATE_DIR<\/dt><dd class="persistence"><strong>failing<\/strong>: STATE_NOT_WRITABLE: cannot save the directory state in STATE_DIR \(EROFS\)/);
    });
  });

  it('GET /metrics exposes directory gauges computed at scrape time, and recorded observations', async () => {
    const { app, metrics } = appFor(directoryWith(readyStatus, snapshot));
    metrics.observeSync('partial', 1.5);
    metrics.observeXeroCall('Users', 429);
    const res = await request(app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toMatch(/^xero_scim_users 1$/m);
    expect(res.text).toMatch(/^xero_scim_groups 1$/m);
    expect(res.text).toMatch(/^xero_scim_roles 4$/m);
    expect(res.text).toMatch(/^xero_scim_snapshot_age_seconds 600$/m);
    expect(res.text).toMatch(/^xero_scim_tenants\{state="stale"\} 1$/m);
    expect(res.text).toMatch(new RegExp(`^xero_scim_rate_budget_remaining\\{tenant="${ORG}",window="day"\\} 4321$`, 'm'));
    expect(res.text).toMatch(/^xero_scim_syncs_total\{outcome="partial"\} 1$/m);
    expect(res.text).toMatch(/^xero_scim_xero_calls_total\{endpoint="Users",status="429"\} 1$/m);
  });

  it('GET /metrics counts the suspicions syncs raise, by reason, from zero', async () => {
    const { app, metrics } = appFor(directoryWith(readyStatus, snapshot));
    metrics.observeSuspicions(['disconnected', 'disconnected', 'suspect-empty']);
    const res = await request(app).get('/metrics').expect(200);
    expect(res.text).toMatch(/^xero_scim_suspicions_total\{reason="disconnected"\} 2$/m);
    expect(res.text).toMatch(/^xero_scim_suspicions_total\{reason="suspect-disconnect"\} 0$/m);
    expect(res.text).toMatch(/^xero_scim_suspicions_total\{reason="suspect-empty"\} 1$/m);
    expect(res.text).toMatch(/^xero_scim_suspect_organisations\{reason="disconnected"\} 0$/m);
  });

  describe('status page', () => {
    it('asks a browser for credentials without a token', async () => {
      const { app } = appFor(directoryWith(readyStatus, snapshot));
      const res = await request(app).get('/').expect(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm=/);
    });

    it('throttles failed logins like SCIM does, then refuses even the right token until the bucket refills', async () => {
      const { app } = appFor(directoryWith(readyStatus, snapshot));
      for (let i = 0; i < 20; i++) await request(app).get('/').set('Authorization', 'Basic Zm9vOmJhcg==').expect(401);
      const refused = await request(app).get('/').set('Authorization', 'Bearer good').expect(429);
      expect(refused.headers['retry-after']).toMatch(/^\d+$/);
    });

    it('shows organisations, counts, staleness and errors, escaped, under a strict CSP', async () => {
      const { app } = appFor(directoryWith(readyStatus, snapshot));
      const res = await request(app).get('/').set('Authorization', 'Bearer good').expect(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).toMatch(/^default-src 'none'; style-src 'nonce-[A-Za-z0-9+/=]+'/);
      // An HTML page: helmet's document headers too, which JSON answers leave out.
      expect(res.headers).toMatchObject({
        'cross-origin-opener-policy': 'same-origin',
        'origin-agent-cluster': '?1',
        'x-dns-prefetch-control': 'off',
        'x-download-options': 'noopen',
        'x-permitted-cross-domain-policies': 'none',
        'x-xss-protection': '0',
      });
      expect(res.text).toContain('Acme &lt;Ltd&gt;');
      expect(res.text).not.toContain('Acme <Ltd>');
      expect(res.text).toContain('Serving, 1 of 1 organisations not current');
      expect(res.text).toContain('XERO_RATE_LIMITED');
      expect(res.text).toContain('12/min, 4321/day');
      expect(res.text).not.toContain('ann@example.com');
      expect(res.text).not.toMatch(/<script/i);
    });

    it('lists the removals held back with their age and what ends them, and says how to confirm one', async () => {
      const suspect: DirectoryStatus = {
        ...readyStatus,
        tenants: [
          {
            organisationId: ORG,
            name: 'Acme <Ltd>',
            state: 'stale',
            lastSuccessAt: '2026-11-27T00:00:00.000Z',
            suspicion: { reason: 'suspect-disconnect', since: '2026-11-27T00:05:00.000Z', answers: 2, awaitsOperator: true },
          },
        ],
      };
      const { app } = appFor(directoryWith(suspect, snapshot));
      const page = await request(app).get('/').set('Authorization', 'Bearer good').expect(200);
      expect(page.text).toContain('Removals held back (1)');
      expect(page.text).toContain(`<b>Acme &lt;Ltd&gt;</b> <small>${ORG}</small>: <span class="reason">suspect-disconnect</span> since`);
      expect(page.text).toContain('5 min ago</time>, 2 answers; awaits an operator');
      expect(page.text).toContain('<code>node dist/cli.js confirm-disconnect &lt;tenantId&gt;</code> (or <code>--all</code>)');
      expect(page.text).toContain('<code>npx xero-scim confirm-disconnect …</code>');
      expect(page.text).toContain('held back: <span class="reason">suspect-disconnect</span> (5 min ago)');
      const ready = await request(app).get('/readyz').expect(200);
      expect(ready.body.tenants[0].suspicion).toEqual({ reason: 'suspect-disconnect', since: '2026-11-27T00:05:00.000Z', ageSeconds: 300, answers: 2, awaitsOperator: true });
      const metrics = await request(app).get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^xero_scim_suspect_organisations\{reason="suspect-disconnect"\} 1$/m);
      expect(metrics.text).toMatch(new RegExp(`^xero_scim_suspicion_age_seconds\\{tenant="${ORG}",reason="suspect-disconnect"\\} 300$`, 'm'));
    });

    it('shows no held-back section when nothing is held back', async () => {
      const { app } = appFor(directoryWith(readyStatus, snapshot));
      expect((await request(app).get('/').set('Authorization', 'Bearer good').expect(200)).text).not.toContain('Removals held back');
    });

    it('can be made public', async () => {
      const { app } = appFor(directoryWith({ ready: false, reason: 'Xero refused the refresh token (invalid_grant)', tenants: [] }, undefined), true);
      const res = await request(app).get('/').expect(200);
      expect(res.text).toContain('Not ready: Xero refused the refresh token (invalid_grant)');
    });
  });
});
