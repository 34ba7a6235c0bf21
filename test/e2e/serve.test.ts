/**
 * `xero-scim serve` against the sandbox, as an operator runs it: readiness, metrics, logs and shutdown.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runServe } from '../../src/commands/serve';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { DEFAULT_CLIENTS, type Sandbox, createSandbox } from '../../src/sandbox';
import { type Clock, systemClock } from '../../src/xero/clock';
import { webAppEnvironment } from '../support/sandbox';
import { ManualClock } from '../xero/helpers/clocks';

/** The default SYNC_INTERVAL_SECONDS, in milliseconds. */
const SYNC_INTERVAL_MS = 300_000;

interface Running {
  url: string;
  token: string;
  logs: string[];
  stop(): Promise<void>;
}

async function serve(sandbox: Sandbox, xeroUrl: string, env: Record<string, string> = {}, clock?: Clock): Promise<Running> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const config = loadConfig({
    ...webAppEnvironment(sandbox, xeroUrl),
    STATE_DIR: mkdtempSync(path.join(tmpdir(), 'xero-scim-serve-')),
    SCIM_BEARER_TOKEN: 'serve-test-token',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const stopper = new AbortController();
  let url = '';
  const done = runServe(config, {
    logger: createLogger({ level: 'debug', destination }),
    signal: stopper.signal,
    onListening: (info) => (url = info.url),
    ...(clock ? { clock } : {}),
  });
  await waitFor(() => url !== '');
  return {
    url,
    token: 'serve-test-token',
    logs,
    stop: async () => {
      stopper.abort();
      await done;
    },
  };
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const get = (running: Running, route: string) => fetch(`${running.url}${route}`, { headers: { authorization: `Bearer ${running.token}` } });

describe('xero-scim serve against the sandbox', () => {
  jest.setTimeout(60_000);

  it('is not ready until the first snapshot, then ready; metrics count syncs and Xero calls', async () => {
    const sandbox = createSandbox({ data: 'demo', latency: { fixedMs: 400 } });
    const xero = await sandbox.listen();
    const running = await serve(sandbox, xero.url);
    try {
      const early = await fetch(`${running.url}/readyz`);
      expect(early.status).toBe(503);
      expect((await early.json()).reason).toMatch(/no directory snapshot yet/);
      const scim = await get(running, '/scim/v2/Users');
      expect(scim.status).toBe(503);
      expect(scim.headers.get('retry-after')).toMatch(/^\d+$/);

      await waitFor(async () => (await fetch(`${running.url}/readyz`)).status === 200);
      // The first sync reads each organisation's details and its users: two calls each, reported per organisation.
      const ready = (await (await fetch(`${running.url}/readyz`)).json()) as { tenants: { callsLastSync: number; ageSeconds: number }[] };
      expect(ready.tenants.map((t) => t.callsLastSync)).toEqual([2, 2, 2]);
      for (const t of ready.tenants) expect(t.ageSeconds).toBeLessThan(30);
      const metrics = await (await fetch(`${running.url}/metrics`)).text();
      expect(metrics).toMatch(/^xero_scim_syncs_total\{outcome="ok"\} 1$/m);
      expect(metrics).toMatch(/^xero_scim_xero_calls_total\{endpoint="GET Users",status="200"\} 3$/m);
      expect(metrics).toMatch(/^xero_scim_users 13$/m);
      expect(metrics).toMatch(/^xero_scim_tenants\{state="current"\} 3$/m);
      expect(metrics).toMatch(/^xero_scim_http_requests_total\{method="GET",route="\/readyz",status="503"\} \d+$/m);
      expect(metrics).toMatch(/^process_cpu_user_seconds_total|^xero_scim_process_cpu_user_seconds_total/m);
    } finally {
      await running.stop();
      await xero.close();
    }
  });

  it('reports invalid_grant as not ready, with what to do, and stops calling the token endpoint', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen();
    const clock = new ManualClock();
    const running = await serve(sandbox, xero.url, { XERO_REFRESH_TOKEN: 'a-refresh-token-xero-never-issued' }, clock);
    try {
      await waitFor(async () => ((await (await fetch(`${running.url}/readyz`)).json()) as { reason?: string }).reason?.includes('auth') === true);
      const ready = await fetch(`${running.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await ready.json()).reason).toMatch(/invalid_grant|refused/i);
      // SCIM clients see the cause too, not "retry shortly".
      const scim = await get(running, '/scim/v2/Users');
      expect(scim.status).toBe(503);
      expect((await scim.json()).detail).toMatch(/^The directory has not been loaded from Xero yet: XERO_INVALID_GRANT: .*invalid_grant.*xero-scim auth/);
      const calls = sandbox.data.counters().token.refresh_token;
      const syncs = async (): Promise<number> =>
        [...(await (await fetch(`${running.url}/metrics`)).text()).matchAll(/^xero_scim_syncs_total\{[^}]*\} (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0);
      const syncsBefore = await syncs();
      // Three more sync intervals pass, and the loop runs each sync without calling Xero's token endpoint.
      for (let round = 0; round < 3; round++) {
        await waitFor(() => clock.pending > 0);
        clock.advance(SYNC_INTERVAL_MS * 1.1);
      }
      await waitFor(() => clock.pending > 0);
      expect(await syncs()).toBe(syncsBefore + 3);
      expect(sandbox.data.counters().token.refresh_token).toBe(calls);
    } finally {
      await running.stop();
      await xero.close();
    }
    expect(running.logs.join('')).not.toContain('a-refresh-token-xero-never-issued');
  });

  it('stays ready on a snapshot when Xero later refuses the credentials, and says so in /readyz, /metrics and the status page', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen();
    const env = webAppEnvironment(sandbox, xero.url);
    // Live mode: a read past the freshness window syncs, so the refusal arrives on the next request.
    const running = await serve(sandbox, xero.url, { ...env, SYNC_MODE: 'live', LIVE_MIN_FRESHNESS_SECONDS: '1' });
    try {
      await waitFor(async () => (await get(running, '/scim/v2/Groups')).status === 200);
      const before = (await (await fetch(`${running.url}/readyz`)).json()) as { credentials: { state: string } };
      expect(before.credentials.state).toBe('valid');
      // The consent is revoked in Xero (someone disconnected the app): its refresh token now meets invalid_grant.
      const { clientId, clientSecret } = DEFAULT_CLIENTS.web;
      const revoked = await fetch(`${xero.url}/connect/revocation`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: env.XERO_REFRESH_TOKEN }).toString(),
      });
      expect(revoked.status).toBe(200);
      await new Promise((r) => setTimeout(r, 1100));
      await waitFor(async () => {
        const users = await get(running, '/scim/v2/Users?count=1');
        expect(users.status).toBe(200); // the last good snapshot is still served
        return ((await (await fetch(`${running.url}/readyz`)).json()) as { credentials: { state: string } }).credentials.state === 'invalid_grant';
      });
      const ready = await fetch(`${running.url}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as Record<string, unknown> & { credentials: { error: { code: string; message: string } } };
      expect(body.status).toBe('ready');
      expect(body.credentials.error.code).toBe('XERO_INVALID_GRANT');
      expect(body.credentials.error.message).toMatch(/xero-scim auth/);
      expect(body.lastSuccessfulSyncAt).toEqual(expect.any(String));
      const metrics = await (await fetch(`${running.url}/metrics`)).text();
      expect(metrics).toMatch(/^xero_scim_ready 1$/m);
      expect(metrics).toMatch(/^xero_scim_credentials\{state="invalid_grant"\} 1$/m);
      expect(metrics).toMatch(/^xero_scim_credentials\{state="valid"\} 0$/m);
      expect(metrics).toMatch(/^xero_scim_last_successful_sync_age_seconds \d/m);
      const page = await (await get(running, '/')).text();
      expect(page).toContain('Xero refuses the credentials (invalid_grant)');
    } finally {
      await running.stop();
      await xero.close();
    }
  });

  it.each([
    ['invalid_client', (sandbox: Sandbox, url: string) => ({ XERO_CLIENT_SECRET: 'not-the-secret-of-this-app', XERO_API_URL: url }), /XERO_INVALID_CLIENT: .*invalid_client.*XERO_CLIENT_SECRET/],
    ['Xero unreachable', () => ({ XERO_API_URL: 'http://127.0.0.1:9', XERO_IDENTITY_URL: 'http://127.0.0.1:9', XERO_ACCESS_TOKEN: 'a-fixed-debug-token' }), /XERO_NETWORK: .*could not reach Xero/],
  ])('names the real cause (%s) in the SCIM 503 before any snapshot', async (_name, env, detail) => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen();
    const running = await serve(sandbox, xero.url, env(sandbox, xero.url));
    try {
      await waitFor(async () => ((await (await fetch(`${running.url}/readyz`)).json()) as { lastSyncOutcome: string | null }).lastSyncOutcome === 'failed' || ((await (await fetch(`${running.url}/readyz`)).json()) as { credentials?: { error?: unknown } }).credentials?.error !== undefined);
      const scim = await get(running, '/scim/v2/Users');
      expect(scim.status).toBe(503);
      expect(scim.headers.get('retry-after')).toMatch(/^\d+$/);
      const body = (await scim.json()) as { detail: string };
      expect(body.detail).toMatch(/^The directory has not been loaded from Xero yet: /);
      expect(body.detail).toMatch(detail);
      expect(body.detail).not.toContain('not-the-secret-of-this-app');
    } finally {
      await running.stop();
      await xero.close();
    }
  });

  it('finishes every request in flight when stopped (SIGTERM), then exits', async () => {
    // Live mode with Xero latency keeps reads in flight long enough to overlap the shutdown.
    const sandbox = createSandbox({ data: 'demo', latency: { fixedMs: 300 } });
    const xero = await sandbox.listen();
    let ahead = 0;
    const clock: Clock = { now: () => Date.now() + ahead, sleep: systemClock.sleep };
    const running = await serve(sandbox, xero.url, { SYNC_MODE: 'live', LIVE_MIN_FRESHNESS_SECONDS: '1' }, clock);
    try {
      await waitFor(async () => (await get(running, '/scim/v2/Groups')).status === 200);
      ahead += 1100; // the snapshot is stale now, so reads wait for Xero
      const inFlight = Array.from({ length: 40 }, () => get(running, '/scim/v2/Users?count=5'));
      await new Promise((r) => setTimeout(r, 250)); // all 40 received, each waiting on the live fetch from Xero
      const stopped = running.stop();
      const answers = await Promise.allSettled(inFlight);
      expect(answers.map((a) => (a.status === "fulfilled" ? a.value.status : String((a.reason as { cause?: { code?: string } }).cause?.code ?? a.reason)))).toEqual(Array(40).fill(200));
      await stopped;
      await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
    } finally {
      await running.stop();
      await xero.close();
    }
  });

  it('answers a request sent on a connection opened just before shutdown, and closes that connection', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen();
    const running = await serve(sandbox, xero.url);
    try {
      await waitFor(async () => (await fetch(`${running.url}/readyz`)).status === 200);
      const { port } = new URL(running.url);
      const socket = connect(Number(port), '127.0.0.1');
      await new Promise((resolve) => socket.once('connect', resolve));
      const stopped = running.stop();
      await new Promise((r) => setTimeout(r, 100)); // the request is still on its way when shutdown starts
      let reply = '';
      socket.on('data', (chunk) => (reply += String(chunk)));
      const closed = new Promise((resolve) => socket.once('close', resolve));
      socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await closed;
      expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(reply).toMatch(/\r\nConnection: close\r\n/i);
      await stopped;
    } finally {
      await running.stop();
      await xero.close();
    }
  });

  it('never writes a secret, token or e-mail address to its logs', async () => {
    const sandbox = createSandbox({ data: 'demo' });
    const xero = await sandbox.listen();
    const running = await serve(sandbox, xero.url);
    const refreshToken = sandbox.data.issueRefreshToken(DEFAULT_CLIENTS.web.clientId, [sandbox.data.organisations()[0]!.organisationId]);
    try {
      await waitFor(async () => (await fetch(`${running.url}/readyz`)).status === 200);
      await get(running, '/scim/v2/Users?filter=userName%20eq%20%22priya.shah@harbourhale.co.uk%22');
      await fetch(`${running.url}/scim/v2/Users`, { headers: { authorization: 'Bearer wrong-token-value' } });
    } finally {
      await running.stop();
      await xero.close();
    }
    const logs = running.logs.join('');
    expect(logs).toContain('"msg":"request"');
    for (const secret of [DEFAULT_CLIENTS.web.clientSecret, running.token, 'wrong-token-value', refreshToken, 'priya.shah@harbourhale.co.uk']) {
      expect(logs).not.toContain(secret);
    }
  });
});
