/**
 * `xero-scim auth` end to end, as a person does it: the consent page in a real browser, the callback on the
 * registered https redirect URI (self-signed certificate made on the spot), the refresh token stored in STATE_DIR,
 * and a following `serve` that uses it with no token in its environment.
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { runAuth } from '../../src/commands/auth';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/log';
import { DEFAULT_CLIENTS, createSandbox } from '../../src/sandbox';
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const describeWithBrowser = chromiumAvailable() ? describe : describe.skip;

describeWithBrowser('xero-scim auth: the consent flow in a browser', () => {
  jest.setTimeout(60_000);

  it('connects the organisations a person picks, stores the refresh token, and serve uses it', async () => {
    const callbackPort = await freePort();
    const redirectUri = `https://localhost:${callbackPort}`;
    const sandbox = createSandbox({ data: 'demo', clients: [{ ...DEFAULT_CLIENTS.web, redirectUris: [redirectUri] }, DEFAULT_CLIENTS.custom] });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-auth-'));
    const env = {
      XERO_CLIENT_ID: DEFAULT_CLIENTS.web.clientId,
      XERO_CLIENT_SECRET: DEFAULT_CLIENTS.web.clientSecret,
      XERO_API_URL: xero.url,
      XERO_IDENTITY_URL: xero.url,
      XERO_LOGIN_URL: xero.url,
      XERO_REDIRECT_URI: redirectUri,
      STATE_DIR: stateDir,
    };
    const organisations = sandbox.data.organisations();
    const chosen = organisations.slice(0, 2);
    const browser = await launchChromium();
    const printed: string[] = [];
    try {
      const page = await browser.newPage();
      const result = await runAuth(loadConfig(env), {
        out: (line) => printed.push(line),
        timeoutSeconds: 30,
        onConsentUrl: (url) => {
          void (async () => {
            await page.goto(url);
            for (const org of chosen) await page.check(`input[name="tenant"][value="${org.organisationId}"]`);
            await page.click('button[value="allow"]');
          })();
        },
      });

      // The callback page, as the person sees it.
      await page.waitForSelector('h1');
      expect(await page.textContent('h1')).toBe('xero-scim is connected to Xero');
      const listed = await page.$$eval('li', (items) => items.map((li) => li.textContent ?? ''));
      for (const org of chosen) expect(listed.some((text) => text.includes(org.name))).toBe(true);
      await page.screenshot({ path: artifactPath('auth-callback.png') });

      expect(result.connections.map((c) => c.tenantId).sort()).toEqual(chosen.map((o) => o.organisationId).sort());
      expect(printed.join('\n')).toContain(`${xero.url}/identity/connect/authorize?`);
      expect(printed.join('\n')).not.toContain(result.refreshToken); // only printed with --print-refresh-token

      const file = path.join(stateDir, 'xero-tokens.json');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(file, 'utf8')).refreshToken).toBe(result.refreshToken);
    } finally {
      await browser.close();
    }

    // serve with only the client credentials: the stored refresh token is the one it uses.
    const stop = new AbortController();
    let url = '';
    const serving = runServe(loadConfig({ ...env, PORT: '0', HOST: '127.0.0.1', SCIM_BEARER_TOKEN: 'scim-token-0123456789' }), {
      logger: silentLogger,
      signal: stop.signal,
      onListening: (info) => (url = info.url),
    });
    try {
      await waitFor(async () => url !== '' && (await request(url).get('/readyz')).status === 200);
      const groups = await request(url).get('/scim/v2/Groups').set('Authorization', 'Bearer scim-token-0123456789').expect(200);
      expect(groups.body.Resources.map((g: { displayName: string }) => g.displayName).sort()).toEqual(chosen.map((o) => o.name).sort());
    } finally {
      stop.abort();
      await serving;
      await xero.close();
    }
  });

  it('refuses a callback whose state is not the one it sent', async () => {
    const callbackPort = await freePort();
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const redirectUri = `http://127.0.0.1:${callbackPort}/callback`;
    const auth = runAuth(
      loadConfig({
        XERO_CLIENT_ID: DEFAULT_CLIENTS.web.clientId,
        XERO_CLIENT_SECRET: DEFAULT_CLIENTS.web.clientSecret,
        XERO_API_URL: xero.url,
        XERO_IDENTITY_URL: xero.url,
        XERO_LOGIN_URL: xero.url,
        XERO_REDIRECT_URI: redirectUri,
        STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xero-scim-auth-')),
      }),
      { out: () => undefined, timeoutSeconds: 2 },
    );
    try {
      await waitFor(async () => (await fetch(`${redirectUri}?code=stolen&state=forged`).catch(() => undefined)) !== undefined);
      const forged = await fetch(`${redirectUri}?code=stolen&state=forged`);
      expect(forged.status).toBe(400);
      expect(await forged.text()).toContain('The state does not match this consent');
      await expect(auth).rejects.toThrow(/no consent within 2 s/);
    } finally {
      await auth.catch(() => undefined);
      await xero.close();
    }
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
