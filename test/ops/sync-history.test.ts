/**
 * The status page's memory of past syncs: what it keeps of each report, and the three bounds that keep it small
 * (a day, a number of syncs, a number of organisation points), fed by a real directory syncing the sandbox.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directoryOptions } from '../../src/commands/directory-options';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import type { SyncReport } from '../../src/directory/sync-report';
import { silentLogger } from '../../src/log';
import { DAY_MS, SyncHistory } from '../../src/ops/sync-history';
import { createSandbox } from '../../src/sandbox';
import { webAppEnvironment } from '../support/sandbox';

const T0 = Date.parse('2026-12-01T00:00:00.000Z');

function report(at: number, organisations: number, overrides: Partial<SyncReport> = {}): SyncReport {
  return {
    startedAt: new Date(at - 40).toISOString(),
    finishedAt: new Date(at).toISOString(),
    durationMs: 40,
    outcome: 'ok',
    changed: false,
    calls: { token: 0, connections: 1, organisation: 0, users: organisations },
    rateLimited: 0,
    suspicionsRaised: [],
    tenants: Array.from({ length: organisations }, (_, i) => ({ organisationId: `org-${i}`, name: `Org ${i}`, result: 'current' as const, calls: 1, userCount: 10 + i, durationMs: 20 + i })),
    ...overrides,
  };
}

describe('sync history', () => {
  it('keeps what the charts draw of each sync of a real directory: result, users and duration per organisation', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-history-'));
    const history = new SyncHistory();
    const directory = createXeroDirectory(directoryOptions(loadConfig({ ...webAppEnvironment(sandbox, xero.url), STATE_DIR: stateDir })), {
      logger: silentLogger,
      onSync: (r) => history.record(r),
      policy: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 },
    });
    try {
      const failing = sandbox.data.organisations()[0]!;
      await directory.syncOnce();
      sandbox.data.scriptFault({ path: 'Users', tenantId: failing.organisationId, count: 1, kind: 503 });
      const second = await directory.syncOnce();
      const points = history.recent(Date.parse(second.finishedAt));
      expect(points.map((p) => p.outcome)).toEqual(['ok', 'partial']);
      for (const point of points) {
        expect(point.tenants).toHaveLength(3);
        for (const t of point.tenants) {
          // Members: the users with access, as the status page's table counts them (REMOVED records left out).
          expect(t.userCount).toBe(sandbox.data.users(t.organisationId).filter((u) => u.role !== 'REMOVED').length);
          expect(t.durationMs).toBeGreaterThanOrEqual(0);
          expect(t.name).toBe(sandbox.data.organisations().find((o) => o.organisationId === t.organisationId)!.name);
        }
      }
      expect(points[1]!.tenants.find((t) => t.organisationId === failing.organisationId)!.result).toBe('stale');
    } finally {
      await directory.stop();
      await xero.close();
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it('forgets syncs older than a day', () => {
    const history = new SyncHistory();
    for (let hour = 0; hour <= 30; hour++) history.record(report(T0 + hour * 3_600_000, 2));
    const now = T0 + 30 * 3_600_000;
    expect(history.size().syncs).toBe(25); // hours 6 to 30
    expect(history.recent(now)[0]!.at).toBe(now - DAY_MS);
    // What the page asks for later shows only the window ending then.
    expect(history.recent(now + 12 * 3_600_000)).toHaveLength(13);
  });

  it('keeps at most maxSyncs syncs, the newest', () => {
    const history = new SyncHistory({ maxSyncs: 100 });
    for (let i = 0; i < 1000; i++) history.record(report(T0 + i * 5_000, 1));
    expect(history.size()).toEqual({ syncs: 100, points: 100 });
    expect(history.recent(T0 + 999 * 5_000)[0]!.at).toBe(T0 + 900 * 5_000);
  });

  it('keeps at most maxPoints organisation points across syncs, however many organisations there are', () => {
    const history = new SyncHistory({ maxPoints: 10_000 });
    for (let i = 0; i < 50; i++) history.record(report(T0 + i * 300_000, 1000));
    expect(history.size()).toEqual({ syncs: 10, points: 10_000 });
    // A single sync over the limit is still kept: the page always shows the latest.
    const tiny = new SyncHistory({ maxPoints: 10 });
    tiny.record(report(T0, 50));
    tiny.record(report(T0 + 1, 50));
    expect(tiny.size()).toEqual({ syncs: 1, points: 50 });
  });

  it('leaves out organisations removed in that sync: they are gone from the directory', () => {
    const history = new SyncHistory();
    history.record(report(T0, 0, { tenants: [{ organisationId: 'gone', result: 'removed', calls: 0 }, { organisationId: 'here', result: 'missing', calls: 2, durationMs: 5 }] }));
    expect(history.recent(T0)[0]!.tenants).toEqual([{ organisationId: 'here', result: 'missing', durationMs: 5 }]);
  });
});
