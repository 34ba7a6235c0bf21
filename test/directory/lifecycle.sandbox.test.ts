import { directoryOptions } from '../../src/commands/directory-options';
import { loadConfig } from '../../src/config';
import { renderSyncJson, runSyncOnce } from '../../src/commands/sync-once';
import { createXeroDirectory } from '../../src/directory/sync';
import { staticDirectory } from '../../src/directory/static';
import { FileTokenStore } from '../../src/xero/tokens';
import { ManualClock, SteppingClock, settle, until } from '../xero/helpers/clocks';
import { type World, world } from './helpers';

let w: World;
afterEach(async () => {
  await w.close();
});

describe('Grants as the directory chooses them', () => {
  it('uses the custom connection (client_credentials) when no refresh token is configured or stored', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 5, organisations: 3, usersPerOrganisation: 4 } });
    const custom = w.sandbox.clients.custom;
    const config = { ...w.config, xeroClientId: custom.clientId, xeroClientSecret: custom.clientSecret, xeroRefreshToken: undefined };
    const d = createXeroDirectory(directoryOptions(config), { clock });
    const report = await d.syncOnce();
    expect(report.outcome).toBe('ok');
    expect(w.sandbox.data.counters().token.client_credentials).toBe(1);
    expect(d.current()!.organisations.map((o) => o.id)).toEqual([custom.tenantIds![0]!.toLowerCase()]);
  });

  it('uses a refresh token stored by `xero-scim auth` when the environment has none', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 5, organisations: 2, usersPerOrganisation: 2 } });
    const first = createXeroDirectory(directoryOptions(w.config), { clock });
    await first.syncOnce(); // stores the rotated token
    const d = createXeroDirectory(directoryOptions({ ...w.config, xeroRefreshToken: undefined }), { clock });
    expect((await d.syncOnce()).outcome).toBe('ok');
    expect(w.sandbox.data.counters().token.client_credentials).toBe(0);
  });

  it('uses a fixed XERO_ACCESS_TOKEN as is, and says so when Xero refuses it after expiry', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 5, organisations: 2, usersPerOrganisation: 2 } });
    const web = w.sandbox.clients.web;
    const basic = Buffer.from(`${web.clientId}:${web.clientSecret}`).toString('base64');
    const answer = await fetch(`${w.url}/connect/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: w.config.xeroRefreshToken! }),
    });
    const { access_token: accessToken } = (await answer.json()) as { access_token: string };
    const before = w.sandbox.data.counters().token.refresh_token;
    const d = createXeroDirectory(directoryOptions({ ...w.config, xeroAccessToken: accessToken, xeroRefreshToken: undefined }), { clock });
    expect((await d.syncOnce()).outcome).toBe('ok');
    expect(w.sandbox.data.counters().token.refresh_token).toBe(before);
    clock.advance(31 * 60_000);
    const report = await d.syncOnce();
    expect(report.outcome).toBe('failed');
    // Still ready (the last good snapshot is served); the credential state says what to do.
    expect(d.status()).toMatchObject({
      ready: true,
      credentials: { state: 'unauthorized', error: { code: 'XERO_UNAUTHORIZED', message: expect.stringContaining('XERO_ACCESS_TOKEN') } },
    });
    expect(d.current()!.organisations).toHaveLength(2); // the last good directory stays
  });

  it('invalid_grant stops syncing with an unready status that says how to re-consent', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 5, organisations: 2, usersPerOrganisation: 2 } });
    const d = createXeroDirectory(directoryOptions({ ...w.config, xeroRefreshToken: 'not-a-token-xero-issued' }), { clock, tokenStore: new FileTokenStore(w.stateDir, 'other.json') });
    const report = await d.syncOnce();
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'XERO_INVALID_GRANT' } });
    expect(d.status()).toMatchObject({ ready: false, reason: expect.stringContaining('xero-scim auth') });
    const calls = w.sandbox.data.counters().token.refresh_token;
    await d.syncOnce();
    expect(w.sandbox.data.counters().token.refresh_token).toBe(calls);
  });
});

describe('/connections quirks', () => {
  it('syncs an organisation listed under two connections once', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 9, organisations: 2, usersPerOrganisation: 3 } });
    // Two consents can list the same organisation twice; the sandbox does not, so double its answer.
    const doubling: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).endsWith('/connections') || !response.ok) return response;
      const list = (await response.json()) as { id: string }[];
      const doubled = [...list, ...list.map((c) => ({ ...c, id: `${c.id.slice(0, -1)}0` }))];
      return new Response(JSON.stringify(doubled), { status: 200, headers: response.headers });
    };
    const d = createXeroDirectory(directoryOptions(w.config), { clock, fetch: doubling });
    const report = await d.syncOnce();
    expect(report.calls.users).toBe(2);
    expect(d.current()!.organisations).toHaveLength(2);
  });
});

describe('XERO_TENANT_IDS allow-list', () => {
  it('syncs only listed organisations, and reports a listed one that is not connected as missing', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 9, organisations: 4, usersPerOrganisation: 3 } });
    const [a, b] = w.sandbox.data.organisations().map((o) => o.organisationId);
    const absent = '00000000-0000-4000-8000-000000000000';
    const config = { ...w.config, xeroTenantIds: [a!.toUpperCase(), b!, absent] };
    const d = createXeroDirectory(directoryOptions(config), { clock });
    const report = await d.syncOnce();
    expect(d.current()!.organisations.map((o) => o.id).sort()).toEqual([a!, b!].map((x) => x.toLowerCase()).sort());
    expect(report.tenants.find((t) => t.organisationId === absent)).toMatchObject({ result: 'missing', error: { code: 'XERO_NOT_CONNECTED' } });
    expect(report.outcome).toBe('partial');
  });
});

describe('Cached mode: background sync every interval', () => {
  it('syncs at start, again after the interval (±10% jitter), and stops cleanly', async () => {
    const clock = new ManualClock();
    w = await world({ clock, data: { seed: 2, organisations: 2, usersPerOrganisation: 2 } });
    const d = createXeroDirectory(directoryOptions({ ...w.config, syncIntervalSeconds: 60 }), { clock, random: () => 1 });
    await d.start();
    const connections = () => w.sandbox.data.counters().byEndpoint['GET /connections'] ?? 0;
    await until(() => clock.pending > 0); // the first sync is done and the loop sleeps
    expect(connections()).toBe(1);
    clock.advance(60_000); // random() = 1 → the interval is 66 s
    await settle(20);
    expect(connections()).toBe(1);
    clock.advance(6_000);
    await until(() => connections() === 2 && clock.pending > 0);
    await d.stop();
    expect(d.status().ready).toBe(true);
  });
});

describe('Shutdown', () => {
  it('stop() ends a sync waiting out a Retry-After at once, keeping the last good data', async () => {
    const clock = new ManualClock();
    w = await world({ clock, data: { seed: 2, organisations: 2, usersPerOrganisation: 2 } });
    const d = createXeroDirectory(directoryOptions({ ...w.config, syncIntervalSeconds: 60 }), { clock, random: () => 0.5 });
    await d.start();
    await until(() => clock.pending > 0);
    const before = d.current()!;
    const [id] = w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: id!, count: 1, kind: '429-minute', retryAfterSeconds: 100 });
    clock.advance(60_000); // the next sync starts, and one organisation must wait 100 s
    await until(() => (w.sandbox.data.counters().byTenant[id!]?.status429 ?? 0) === 1 && clock.pending > 0);
    // The manual clock never reaches the Retry-After: a stop() that waited it out would never return.
    await d.stop();
    expect(d.current()!.organisationById.has(id!)).toBe(true);
    expect(d.current()!.version).toBe(before.version);
    expect(d.lastReport()!.tenants.find((t) => t.organisationId === id)).toMatchObject({ result: 'stale', error: { code: 'XERO_CANCELLED' } });
  });
});

describe('`xero-scim sync --once --json`', () => {
  it('prints people, organisations and roles with the report, from a real sync', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 4, organisations: 2, usersPerOrganisation: 5 } });
    const result = await runSyncOnce(w.config, { clock });
    const json = JSON.parse(JSON.stringify(renderSyncJson(result))) as ReturnType<typeof renderSyncJson>;
    expect(json.report.outcome).toBe('ok');
    expect(json.organisations).toHaveLength(2);
    const people = w.sandbox.data.organisations().flatMap((o) => w.sandbox.data.users(o.organisationId));
    expect(json.people.flatMap((p) => p.memberships)).toHaveLength(people.length);
    expect(json.roles.length).toBeGreaterThanOrEqual(2 * 4);
    const anyone = json.people[0]!;
    expect(anyone).toEqual({
      id: expect.any(String),
      userName: anyone.email.toLowerCase(),
      email: expect.any(String),
      givenName: expect.any(String),
      familyName: expect.any(String),
      active: expect.any(Boolean),
      memberships: expect.arrayContaining([expect.objectContaining({ role: expect.any(String), xeroUserId: expect.any(String) })]),
    });
    expect(JSON.stringify(json)).not.toContain(w.config.xeroRefreshToken!);
  });

  it('renders a failed sync without a snapshot as an empty result with the reason', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 4, organisations: 1, usersPerOrganisation: 1 } });
    const config = loadConfig({ XERO_API_URL: 'http://127.0.0.1:9', XERO_IDENTITY_URL: 'http://127.0.0.1:9', STATE_DIR: w.stateDir });
    const json = renderSyncJson(await runSyncOnce(config, { clock }));
    expect(json).toMatchObject({ version: null, people: [], report: { outcome: 'failed', error: { code: 'XERO_NOT_CONFIGURED' } }, status: { ready: false } });
  });
});

describe('staticDirectory', () => {
  it('serves one snapshot, ready', async () => {
    const clock = new SteppingClock();
    w = await world({ clock, data: { seed: 4, organisations: 1, usersPerOrganisation: 2 } });
    const { snapshot } = await runSyncOnce(w.config, { clock });
    const d = staticDirectory(snapshot!);
    expect(await d.forRead()).toBe(snapshot);
    expect(d.readNow!()).toBe(snapshot);
    const members = snapshot!.tenants[0]!.users.filter((u) => u.role !== 'REMOVED').length;
    expect(d.status()).toMatchObject({ ready: true, tenants: [{ state: 'current', userCount: members }] });
  });
});
