/**
 * The status page as an operator's browser shows it: each organisation with its state, user count, last success
 * and last error, after a real sync against the sandbox in which one organisation failed; on a phone; and with the
 * last day of syncs drawn as charts.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directoryOptions } from '../../src/commands/directory-options';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { SyncHistory } from '../../src/ops/sync-history';
import { createSandbox } from '../../src/sandbox';
import { createApp } from '../../src/http/app';
import { listen } from '../../src/http/listen';
import { type Clock, systemClock } from '../../src/xero/clock';
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser';
import { webAppEnvironment } from '../support/sandbox';

const describeWithBrowser = chromiumAvailable() ? describe : describe.skip;

describeWithBrowser('status page in a browser', () => {
  jest.setTimeout(60_000);

  it('shows a stale organisation with its error, opened with the SCIM token as Basic password', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const organisations = sandbox.data.organisations();
    const config = loadConfig({
      ...webAppEnvironment(sandbox, xero.url),
      STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xero-scim-status-')),
    });
    const directory = createXeroDirectory(directoryOptions(config), { logger: silentLogger, policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    const app = createApp({ directory, tokens: ['status-token'], logger: silentLogger });
    const server = await listen(app, 0, '127.0.0.1');
    const browser = await launchChromium();
    try {
      expect((await directory.syncOnce()).outcome).toBe('ok');
      const failing = organisations[0]!;
      sandbox.data.scriptFault({ path: 'Users', tenantId: failing.organisationId, count: 10, kind: 503 });
      expect((await directory.syncOnce()).outcome).toBe('partial');

      // Without credentials a browser gets a Basic challenge (its login prompt).
      const challenge = await fetch(`${server.url}/`);
      expect(challenge.status).toBe(401);
      expect(challenge.headers.get('www-authenticate')).toMatch(/^Basic realm=/);

      const context = await browser.newContext({ httpCredentials: { username: 'operator', password: 'status-token' } });
      const page = await context.newPage();
      const response = await page.goto(`${server.url}/`);
      expect(response!.status()).toBe(200);
      expect(await page.textContent('.banner')).toBe('Serving, 1 of 3 organisations not current');
      const rows = await page.$$eval('tbody tr', (trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td.textContent ?? '').trim())),
      );
      expect(rows).toHaveLength(3);
      const stale = rows.find((cells) => cells[0]!.startsWith(failing.name))!;
      expect(stale[1]).toBe('stale');
      expect(stale[2]).toBe(String(sandbox.data.users(failing.organisationId).filter((u) => u.role !== 'REMOVED').length));
      expect(stale[5]).toMatch(/^XERO_SERVER_ERROR: /);
      for (const cells of rows.filter((c) => c !== stale)) expect(cells[1]).toBe('current');
      // Computed styles prove the CSP nonce let the stylesheet apply (a blocked style leaves the defaults).
      expect(await page.$eval('.banner', (el) => getComputedStyle(el).fontWeight)).toBe('600');
      await page.screenshot({ path: artifactPath('status-page.png'), fullPage: true });
    } finally {
      await browser.close();
      await server.close();
      await directory.stop();
      await xero.close();
    }
  });

  it('on a 390 px phone: links to the probes, no sideways scrolling, readable rows, and a chart of the last day per organisation', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const kowhai = sandbox.data.organisations().find((o) => o.name === 'Kōwhai Joinery');
    const harbour = sandbox.data.organisations().find((o) => o.name === 'Harbour & Hale Advisory');
    // The directory lives a day ahead of its syncs: each one below happens two hours after the last, in its eyes.
    let hoursAgo = 22;
    const clock: Clock = { now: () => Date.now() - hoursAgo * 3_600_000, sleep: systemClock.sleep };
    const history = new SyncHistory();
    const config = loadConfig({
      ...webAppEnvironment(sandbox, xero.url),
      STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xero-scim-status-')),
    });
    const directory = createXeroDirectory(directoryOptions(config), {
      logger: silentLogger,
      clock,
      onSync: (report) => history.record(report),
      policy: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 5 },
    });
    const app = createApp({ directory, tokens: ['status-token'], logger: silentLogger, history });
    const server = await listen(app, 0, '127.0.0.1');
    const browser = await launchChromium();
    try {
      sandbox.data.setLatency({ fixedMs: 2, jitterMs: 30 });
      for (let sync = 0; hoursAgo >= 0; sync++, hoursAgo -= 2) {
        // Kōwhai Joinery takes on two people during the day; Harbour & Hale fails one sync.
        if (sync === 4 || sync === 8) {
          sandbox.data.addUser(kowhai!.organisationId, { email: `new${sync}@kowhaijoinery.co.nz`, firstName: 'New', lastName: `Hire ${sync}`, role: 'STANDARD' });
        }
        if (sync === 6) sandbox.data.scriptFault({ path: 'Users', tenantId: harbour!.organisationId, count: 1, kind: 503 });
        await directory.syncOnce();
      }
      expect(history.size().syncs).toBe(12);

      const context = await browser.newContext({
        viewport: { width: 390, height: 844 },
        deviceScaleFactor: 2,
        isMobile: true,
        hasTouch: true,
        httpCredentials: { username: 'operator', password: 'status-token' },
      });
      const page = await context.newPage();
      const requested: string[] = [];
      const violations: string[] = [];
      page.on('request', (r) => requested.push(r.url()));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') violations.push(m.text());
      });
      const response = await page.goto(`${server.url}/`);
      expect(response!.status()).toBe(200);
      // The strict policy stays: no script, styles only from the nonce'd block, nothing loaded from anywhere.
      expect(response!.headers()['content-security-policy']).toMatch(/^default-src 'none'; style-src 'nonce-[^']+'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'$/);
      expect(await page.$$eval('script, link, img, iframe, [style]', (els) => els.length)).toBe(0);

      // Links to the probes, the metrics and the API description, each answering.
      const links = await page.$$eval('nav a', (as) => as.map((a) => a.getAttribute('href')));
      expect(links).toEqual(['/readyz', '/metrics', '/openapi.yaml']);
      for (const href of links) {
        expect(await page.isVisible(`nav a[href="${href}"]`)).toBe(true);
        expect(`${href} ${(await context.request.get(`${server.url}${href!}`)).status()}`).toBe(`${href} 200`);
      }

      // Nothing wider than the phone: no sideways scrolling, every cell inside the screen, wide enough to read.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const cells = await page.$$eval('tbody td', (tds) =>
        tds.map((td) => {
          const box = td.getBoundingClientRect();
          const label = getComputedStyle(td, '::before').content;
          return { left: box.left, right: box.right, width: box.width, fontSize: parseFloat(getComputedStyle(td).fontSize), label };
        }),
      );
      expect(cells).toHaveLength(18);
      for (const cell of cells) {
        expect(cell.left).toBeGreaterThanOrEqual(0);
        expect(cell.right).toBeLessThanOrEqual(390);
        expect(cell.width).toBeGreaterThan(300); // one field a line, not six squeezed columns
        expect(cell.fontSize).toBeGreaterThanOrEqual(14);
      }
      // Each field carries its column's name, as the hidden header would.
      expect(cells.slice(0, 6).map((c) => c.label)).toEqual(['"Organisation"', '"State"', '"Users"', '"Last success"', '"Rate budget left"', '"Last error"']);

      // One chart per organisation, as wide as the screen allows, drawn from the day's twelve syncs.
      const charts = await page.$$eval('.charts figure', (figures) =>
        figures.map((f) => ({
          id: f.getAttribute('data-organisation'),
          caption: (f.querySelector('figcaption')?.textContent ?? '').trim(),
          right: f.getBoundingClientRect().right,
          svgWidth: f.querySelector('svg')!.getBoundingClientRect().width,
          steps: (f.querySelector('path.users')?.getAttribute('d') ?? '').split('H').length - 1,
          bars: (f.querySelector('path.took')?.getAttribute('d') ?? '').split('M').length - 1,
          failed: (f.querySelector('path.failed')?.getAttribute('d') ?? '').split('M').length - 1,
        })),
      );
      expect(charts.map((c) => c.id).sort()).toEqual(sandbox.data.organisations().map((o) => o.organisationId).sort());
      for (const c of charts) {
        expect(c.right).toBeLessThanOrEqual(390);
        expect(c.svgWidth).toBeGreaterThan(300);
        expect(c.steps).toBe(11); // twelve syncs: the first point, then eleven steps
        expect(c.bars + c.failed).toBe(12);
      }
      const kowhaiChart = charts.find((c) => c.id === kowhai!.organisationId)!;
      const before = sandbox.data.users(kowhai!.organisationId).length - 2;
      expect(kowhaiChart.caption).toContain(`12 syncs · ${before + 2} users now (${before}–${before + 2})`);
      const harbourChart = charts.find((c) => c.id === harbour!.organisationId)!;
      expect(harbourChart.failed).toBe(1);
      expect(harbourChart.caption).toContain('1 not current');

      expect(requested.every((url) => url.startsWith(server.url))).toBe(true);
      expect(violations).toEqual([]);
      await page.screenshot({ path: artifactPath('status-page-phone.png'), fullPage: true });
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.screenshot({ path: artifactPath('status-page-desktop.png'), fullPage: true });
    } finally {
      await browser.close();
      await server.close();
      await directory.stop();
      await xero.close();
    }
  });
});
