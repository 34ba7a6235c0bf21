/**
 * `xero-scim auth` end to end, as a person does it: the consent page in a real browser, the callback on the
 * registered https redirect URI (self-signed certificate made on the spot), the refresh token stored in STATE_DIR,
 * and a following `serve` that uses it with no token in its environment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { runAuth } from '../../src/commands/auth';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/log';
import { DEFAULT_CLIENTS, createSandbox } from '../../src/sandbox';
import { ensureBuilt } from '../reliability/support';
import { DOCUMENT_HEADERS, SECURITY_HEADERS } from '../../src/http/security-headers';
import { artifactPath, chromiumAvailable, launchChromium } from '../support/browser';
import { freePort } from '../support/free-port';

const ROOT = path.join(__dirname, '..', '..');

/** The README's sandbox rehearsal of the consent: its `export` lines as variables, and the command after them. */
function readmeRehearsal(): { env: Record<string, string>; command: string[]; loginUrl: string } {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const block = blocks.find((b) => b.includes('XERO_REDIRECT_URI=http://localhost:') && b.includes('npx xero-scim auth'));
  if (!block) throw new Error('README.md has no sh block rehearsing `npx xero-scim auth` against the sandbox');
  const env: Record<string, string> = {};
  let command: string[] = [];
  for (const line of block.trim().split('\n')) {
    if (line.startsWith('export ')) {
      for (const pair of line.slice('export '.length).trim().split(/\s+/)) {
        const [name, ...value] = pair.split('=');
        env[name!] = value.join('=');
      }
    } else command = line.trim().split(/\s+/);
  }
  const loginUrl = /`(http:\/\/127\.0\.0\.1:\d+\/identity\/connect\/authorize\?[^`]*?)&…`/.exec(readme)?.[1];
  if (!loginUrl) throw new Error('README.md does not show the sandbox login URL');
  return { env, command, loginUrl };
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

  it("runs the README's sandbox rehearsal as written: `npx xero-scim auth` with an http://localhost redirect, no certificate warning", async () => {
    ensureBuilt();
    const { env, command, loginUrl } = readmeRehearsal();
    expect(command).toEqual(['npx', 'xero-scim', 'auth']);
    expect(env.XERO_REDIRECT_URI).toMatch(/^http:\/\/localhost:(\d+)\//);
    expect(env.XERO_REDIRECT_URI).not.toMatch(/:8080\b/); // the port the demo and the server take
    // The README's ports, moved to free ones so the test runs beside anything else.
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen(0, '127.0.0.1');
    const readmeXero = env.XERO_API_URL!;
    const callbackPort = await freePort();
    const readmeRedirect = new URL(env.XERO_REDIRECT_URI!);
    const redirectUri = `http://localhost:${callbackPort}${readmeRedirect.pathname}`;
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-auth-readme-'));
    const moved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(readmeXero, xero.url).replace(env.XERO_REDIRECT_URI!, redirectUri)]));
    const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...moved, STATE_DIR: stateDir };
    const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const browser = await launchChromium();
    try {
      await waitFor(async () => /^ {2}http\S+$/m.test(stdout), 30_000);
      const consentUrl = /^ {2}(http\S+)$/m.exec(stdout)![1]!;
      const expectedPrefix = loginUrl.replace(readmeXero.replace(/^http:\/\//, ''), xero.url.replace(/^http:\/\//, '')).replace(encodeURIComponent(env.XERO_REDIRECT_URI!), encodeURIComponent(redirectUri));
      expect(consentUrl.startsWith(`${expectedPrefix}&`)).toBe(true);
      expect(stdout).toContain(`Listening for Xero's callback on ${redirectUri}.`);
      expect(stdout).not.toContain('self-signed');

      const page = await browser.newPage();
      await page.goto(consentUrl);
      const chosen = sandbox.data.organisations().slice(0, 2);
      for (const org of chosen) await page.check(`input[name="tenant"][value="${org.organisationId}"]`);
      await page.click('button[value="allow"]');
      await page.waitForSelector('h1');
      expect(page.url().startsWith(`${redirectUri}?`)).toBe(true);
      expect(await page.textContent('h1')).toBe('xero-scim is connected to Xero');
      expect(await exited).toBe(0);
      expect(stdout).toContain('Connected 2 organisation(s):');
      expect(JSON.parse(readFileSync(path.join(stateDir, 'xero-tokens.json'), 'utf8')).clientId).toBe(env.XERO_CLIENT_ID);
      expect(stderr).toBe('');
    } finally {
      child.kill();
      await browser.close();
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
      // An HTML page: it loads and frames nothing, and carries the security headers a document needs.
      expect(forged.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
      for (const [name, value] of [...SECURITY_HEADERS, ...DOCUMENT_HEADERS].filter(([n]) => n !== 'Content-Security-Policy')) {
        expect(forged.headers.get(name)).toBe(value);
      }
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
