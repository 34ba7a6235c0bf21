/**
 * The status page as an operator's browser shows it: each organisation with its state, user count, last success
 * and last error, after a real sync against the sandbox in which one organisation failed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { createSandbox } from '../../src/sandbox';
import { composeApp, listen } from '../../src/server';
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
    const directory = createXeroDirectory(config, { logger: silentLogger, policy: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 } });
    const { app } = composeApp({ directory, tokens: ['status-token'], logger: silentLogger });
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
});
