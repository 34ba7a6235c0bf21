/**
 * The status page's charts as HTML: one inline SVG per organisation, drawn from the history the page is given,
 * with nothing the page's CSP would block (no script, no style attribute, no external reference).
 */
import express from 'express';
import request from 'supertest';
import type { Directory } from '../../src/directory/model';
import type { SyncReport } from '../../src/directory/sync-report';
import { Metrics } from '../../src/ops/metrics';
import { createOpsRouter } from '../../src/http/ops-routes';
import { niceCeiling } from '../../src/ops/sync-chart';
import { SyncHistory } from '../../src/ops/sync-history';

const NOW = Date.parse('2026-12-01T12:00:00.000Z');
const clock = { now: () => NOW };
const directory: Directory = { current: () => undefined, forRead: async () => undefined, status: () => ({ ready: true, tenants: [] }) };

function page(history?: SyncHistory) {
  const app = express();
  app.use(createOpsRouter({ directory, metrics: new Metrics({ directory, clock }), clock, version: 'test', statusPagePublic: true, isAuthorized: () => true, ...(history ? { history } : {}) }));
  return request(app).get('/').expect(200);
}

function sync(hoursAgo: number, tenants: SyncReport['tenants']): SyncReport {
  const at = new Date(NOW - hoursAgo * 3_600_000).toISOString();
  return { startedAt: at, finishedAt: at, durationMs: 50, outcome: 'ok', changed: true, calls: { token: 0, connections: 1, organisation: 0, users: 1 }, rateLimited: 0, tenants, suspicionsRaised: [] };
}

describe('status page charts', () => {
  it('draws each organisation of the last day: users as steps, each sync’s duration as a bar, failures in red', async () => {
    const history = new SyncHistory();
    const acme = (users: number, durationMs: number, result: 'current' | 'stale' = 'current') => ({ organisationId: 'o-acme', name: 'Acme <Ltd>', result, calls: 1, userCount: users, durationMs });
    history.record(sync(30, [acme(1, 10)])); // older than the window: not drawn
    history.record(sync(20, [acme(4, 120)]));
    history.record(sync(10, [acme(6, 80, 'stale'), { organisationId: 'o-new', result: 'missing', calls: 1, durationMs: 3 }]));
    history.record(sync(0, [acme(6, 200)]));
    const html = (await page(history)).text;

    expect(html).toContain('<h2>Last 24 hours</h2>');
    const figures = html.match(/<figure[\s\S]*?<\/figure>/g)!;
    expect(figures).toHaveLength(2);
    const [chart, missing] = figures as [string, string];
    expect(chart).toContain('<strong>Acme &lt;Ltd&gt;</strong>');
    expect(chart).toContain('3 syncs · 6 users now (4–6) · sync 120 ms typical, 200 ms slowest · 1 not current');
    // x: 40 + (24 - hoursAgo) / 24 * 254; users on a 0–10 axis (y 62 … 18), durations on 0–200 ms (y 126 … 86).
    expect(chart).toContain('<path class="users" d="M82.3 44.4 H188.2 V35.6 H294 V35.6"/>');
    expect(chart).toContain('<path class="took" d="M82.3 126 V102 M294 126 V86"/>');
    expect(chart).toContain('<path class="failed" d="M188.2 126 V110"/>');
    expect(chart).toContain('<path class="incident" d="M188.2 18 V126"/>');
    expect(chart).toMatch(/<text [^>]*text-anchor="end">200 ms<\/text>/);
    // An organisation never read has no user line, and says so.
    expect(missing).toContain('1 sync · no users read yet · sync 3 ms typical, 3 ms slowest · 1 not current');
    expect(missing).not.toContain('class="users"');

    for (const forbidden of [/<script/i, /\sstyle=/i, /\shref=/i, /url\(/i, /xlink/i]) expect(html.replace(/<nav>.*<\/nav>/, '')).not.toMatch(forbidden);
  });

  it('says so before the first sync, and draws no more than 24 charts', async () => {
    const history = new SyncHistory();
    expect((await page(history)).text).toContain('No sync since the server started.');
    history.record(sync(1, Array.from({ length: 30 }, (_, i) => ({ organisationId: `o-${String(i).padStart(2, '0')}`, result: 'current' as const, calls: 1, userCount: i }))));
    const html = (await page(history)).text;
    expect(html.match(/<figure/g)).toHaveLength(24);
    expect(html).toContain('Charts for 24 of 30 organisations; the table lists them all.');
  });

  it('links to readiness, metrics and the API description', async () => {
    const html = (await page()).text;
    expect([...html.matchAll(/<nav>.*?<\/nav>/g)][0]![0].match(/href="[^"]+"/g)).toEqual(['href="/readyz"', 'href="/metrics"', 'href="/openapi.yaml"']);
  });

  it('rounds axes to 1, 2 or 5 times a power of ten', () => {
    expect([0, 1, 3, 7, 10, 11, 49, 51, 120, 4_999].map(niceCeiling)).toEqual([1, 1, 5, 10, 10, 20, 50, 100, 200, 5_000]);
  });
});
