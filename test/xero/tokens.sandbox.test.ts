import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Sandbox, createSandbox } from '../../src/sandbox';
import { XeroError } from '../../src/xero/errors';
import { IdentityClient, createPkcePair } from '../../src/xero/identity';
import { FileTokenStore, MemoryTokenStore, type StoredTokens, type TokenStore, TokenProvider, fingerprint } from '../../src/xero/tokens';
import { SteppingClock } from './helpers/clocks';

let clock: SteppingClock;
let sandbox: Sandbox;
let server: { url: string; close(): Promise<void> };
let stateDir: string;

beforeEach(async () => {
  clock = new SteppingClock();
  sandbox = createSandbox({ clock, data: { seed: 3, organisations: 3, usersPerOrganisation: 4 }, autoApprove: true });
  server = await sandbox.listen(0, '127.0.0.1');
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-tok-'));
});

afterEach(async () => {
  await server.close();
  await fs.rm(stateDir, { recursive: true, force: true });
});

function identity(kind: 'web' | 'custom'): IdentityClient {
  const client = sandbox.clients[kind];
  return new IdentityClient(
    { identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId: client.clientId, clientSecret: client.clientSecret, timeoutMs: 2000 },
    { clock },
  );
}

function webProvider(store: TokenStore, initialRefreshToken?: string): TokenProvider {
  return new TokenProvider(
    { clientId: sandbox.clients.web.clientId, grant: { kind: 'refresh_token', ...(initialRefreshToken ? { initialRefreshToken } : {}) } },
    { identity: identity('web'), store, clock },
  );
}

function allTenants(): string[] {
  return sandbox.data.organisations().map((o) => o.organisationId);
}

const tokenCalls = () => sandbox.data.counters().token;

describe('Custom connection: client_credentials grant', () => {
  function provider(): TokenProvider {
    return new TokenProvider(
      { clientId: sandbox.clients.custom.clientId, grant: { kind: 'client_credentials', scope: 'accounting.settings.read' } },
      { identity: identity('custom'), store: new MemoryTokenStore(), clock },
    );
  }

  it('gets a token that reads /connections, and concurrent callers share one token call', async () => {
    const p = provider();
    const tokens = await Promise.all([p.getAccessToken(), p.getAccessToken(), p.getAccessToken()]);
    expect(new Set(tokens).size).toBe(1);
    expect(tokenCalls().client_credentials).toBe(1);
    const { connections } = await identity('custom').connections(tokens[0]!);
    expect(connections).toHaveLength(1);
    expect(connections[0]!.tenantId).toBe(sandbox.clients.custom.tenantIds![0]);
  });

  it('re-fetches before expiry, not after', async () => {
    const p = provider();
    const first = await p.getAccessToken();
    clock.advance(1800_000 - 120_000); // 28 minutes into a 30-minute token
    expect(await p.getAccessToken()).toBe(first);
    clock.advance(90_000); // inside the 60-second renewal margin
    const second = await p.getAccessToken();
    expect(second).not.toBe(first);
    expect(tokenCalls().client_credentials).toBe(2);
  });

  it('stops on invalid_client with no retry loop', async () => {
    const bad = new IdentityClient(
      { identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId: sandbox.clients.custom.clientId, clientSecret: 'wrong', timeoutMs: 2000 },
      { clock },
    );
    const p = new TokenProvider({ clientId: 'x', grant: { kind: 'client_credentials' } }, { identity: bad, store: new MemoryTokenStore(), clock });
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_INVALID_CLIENT' });
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_INVALID_CLIENT' });
    expect(tokenCalls().client_credentials).toBe(1);
    expect(p.status().ready).toBe(false);
  });
});

describe('Web app: authorization_code with PKCE (RFC 7636), then refresh', () => {
  it('exchanges a consent code for a refresh token that reaches every approved organisation', async () => {
    const pkce = createPkcePair();
    const client = identity('web');
    const consent = client.authorizationUrl({
      redirectUri: 'https://localhost:8080',
      scope: 'offline_access accounting.settings.read',
      state: 'state-1',
      codeChallenge: pkce.challenge,
    });
    expect(consent.startsWith(`${server.url}/identity/connect/authorize?`)).toBe(true);
    const answer = await fetch(consent, { redirect: 'manual' });
    expect(answer.status).toBe(302);
    const redirect = new URL(answer.headers.get('location')!);
    expect(redirect.searchParams.get('state')).toBe('state-1');
    const set = await client.token({
      type: 'authorization_code',
      code: redirect.searchParams.get('code')!,
      redirectUri: 'https://localhost:8080',
      codeVerifier: pkce.verifier,
    });
    expect(set.refreshToken).toBeDefined();
    const { connections } = await client.connections(set.accessToken);
    expect(connections.map((c) => c.tenantId).sort()).toEqual(allTenants().sort());
  });

  it('rejects a code with the wrong verifier as invalid_grant', async () => {
    const pkce = createPkcePair();
    const client = identity('web');
    const consent = client.authorizationUrl({ redirectUri: 'https://localhost:8080', scope: 'offline_access accounting.settings.read', state: 's', codeChallenge: pkce.challenge });
    const redirect = new URL((await fetch(consent, { redirect: 'manual' })).headers.get('location')!);
    await expect(
      client.token({ type: 'authorization_code', code: redirect.searchParams.get('code')!, redirectUri: 'https://localhost:8080', codeVerifier: createPkcePair().verifier }),
    ).rejects.toMatchObject({ code: 'XERO_INVALID_GRANT' });
  });

  it('revokes a refresh token (RFC 7009): it no longer refreshes', async () => {
    const refresh = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    await identity('web').revoke(refresh);
    await expect(identity('web').token({ type: 'refresh_token', refreshToken: refresh })).rejects.toMatchObject({ code: 'XERO_INVALID_GRANT' });
  });
});

describe('Refresh-token rotation (docs/xero.md, "Grants and tokens")', () => {
  it('rotates once for concurrent callers and stores the new refresh token (0600) before using it', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    const store = new FileTokenStore(stateDir);
    const p = webProvider(store, initial);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => p.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(tokenCalls().refresh_token).toBe(1);
    const stored = (await store.load())!;
    expect(stored.refreshToken).not.toBe(initial);
    expect(stored.lineage).toEqual([fingerprint(initial), fingerprint(stored.refreshToken)]);
    expect(stored.accessToken).toBe(tokens[0]);
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
    expect(await fs.readFile(store.file, 'utf8')).not.toContain(initial);
  });

  it('survives a crash between receiving and storing: the next start refreshes with the old token inside the grace period', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    const disk = new FileTokenStore(stateDir);
    const crashing: TokenStore = { load: () => disk.load(), save: () => Promise.reject(new Error('killed before the write')) };
    await expect(webProvider(crashing, initial).getAccessToken()).rejects.toThrow(/cannot store the rotated refresh token/);
    expect(await disk.load()).toBeUndefined(); // Xero rotated, we never stored

    clock.advance(10 * 60_000); // restart ten minutes later: still inside the 30-minute grace
    const restarted = webProvider(disk, initial);
    const token = await restarted.getAccessToken();
    const { connections } = await identity('web').connections(token);
    expect(connections).toHaveLength(3);
    expect((await disk.load())!.refreshToken).not.toBe(initial);
  });

  it('a failed write is not terminal: the rotated token is stored first at the next renewal, before any use, without rotating again', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    const disk = new FileTokenStore(stateDir);
    let refuse = true;
    const flaky: TokenStore = { load: () => disk.load(), save: (t) => (refuse ? Promise.reject(new Error('EROFS')) : disk.save(t)) };
    const p = webProvider(flaky, initial);
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_STATE_NOT_WRITABLE' });
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_STATE_NOT_WRITABLE' });
    expect(tokenCalls().refresh_token).toBe(1);
    expect(p.status().ready).toBe(true);
    refuse = false;
    const token = await p.getAccessToken();
    expect(tokenCalls().refresh_token).toBe(1);
    expect((await disk.load())!.accessToken).toBe(token);
    await expect(identity('web').connections(token)).resolves.toMatchObject({ connections: expect.any(Array) });
  });

  it('after the grace period the lost rotation ends in invalid_grant: terminal, actionable, no retry loop', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    await identity('web').token({ type: 'refresh_token', refreshToken: initial }); // rotated elsewhere, answer lost
    clock.advance(31 * 60_000);
    const p = webProvider(new MemoryTokenStore(), initial);
    const first = await p.getAccessToken().catch((e: unknown) => e);
    expect(first).toBeInstanceOf(XeroError);
    expect(first).toMatchObject({ code: 'XERO_INVALID_GRANT' });
    expect((first as XeroError).message).toMatch(/xero-scim auth/);
    expect((first as XeroError).message).not.toContain(initial);
    const callsBefore = tokenCalls().refresh_token;
    await expect(p.getAccessToken()).rejects.toBe(first);
    expect(tokenCalls().refresh_token).toBe(callsBefore);
    expect(p.status()).toMatchObject({ ready: false, terminal: first });
  });

  it('retries a lost refresh response with the same token (grace) and ends with one stored token', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    sandbox.data.scriptFault({ path: 'token', count: 1, kind: 'lose-token-response' });
    const store = new MemoryTokenStore();
    const p = webProvider(store, initial);
    const token = await p.getAccessToken();
    expect(tokenCalls().refresh_token).toBe(2);
    await expect(identity('web').connections(token)).resolves.toMatchObject({ connections: expect.any(Array) });
    // The stored token is the live one: it refreshes long after the grace of the lost one ended.
    clock.advance(2 * 3600_000);
    const later = webProvider(store, initial);
    await expect(later.getAccessToken()).resolves.toEqual(expect.any(String));
  });

  it('a token call that never answers times out and is retried with the same refresh token', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    sandbox.data.scriptFault({ path: 'token', count: 1, kind: 'timeout' });
    const client = sandbox.clients.web;
    const impatient = new IdentityClient(
      { identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId: client.clientId, clientSecret: client.clientSecret, timeoutMs: 1000 },
      { clock },
    );
    const store = new MemoryTokenStore();
    const p = new TokenProvider({ clientId: client.clientId, grant: { kind: 'refresh_token', initialRefreshToken: initial } }, { identity: impatient, store, clock });
    await expect(p.getAccessToken()).resolves.toEqual(expect.any(String));
    expect(p.status().tokenCalls).toBe(2);
    expect((await store.load())!.refreshToken).not.toBe(initial);
  });

  it('at start, a stored token newer than the environment one wins', async () => {
    const initial = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants());
    const store = new FileTokenStore(stateDir);
    await webProvider(store, initial).getAccessToken();
    const rotated = (await store.load())!.refreshToken;
    clock.advance(3 * 3600_000); // the environment's token is long past its grace, and the access token expired
    const restarted = webProvider(store, initial);
    await expect(restarted.getAccessToken()).resolves.toEqual(expect.any(String));
    const now: StoredTokens = (await store.load())!;
    expect(now.lineage).toContain(fingerprint(rotated));
    expect(now.refreshToken).not.toBe(rotated);
  });

  it('a refresh token the stored chain has never seen (a new consent) replaces the stored one', async () => {
    const store = new FileTokenStore(stateDir);
    await webProvider(store, sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants())).getAccessToken();
    const fresh = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants().slice(0, 1));
    clock.advance(3600_000);
    const token = await webProvider(store, fresh).getAccessToken();
    await expect(identity('web').connections(token)).resolves.toMatchObject({ connections: expect.any(Array) });
    const stored = (await store.load())!;
    expect(stored.lineage).toEqual([fingerprint(fresh), fingerprint(stored.refreshToken)]);
  });

  it('reuses a stored, unexpired access token after a restart without calling Xero', async () => {
    const store = new FileTokenStore(stateDir);
    const first = await webProvider(store, sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants())).getAccessToken();
    const calls = tokenCalls().refresh_token;
    expect(await webProvider(store).getAccessToken()).toBe(first);
    expect(tokenCalls().refresh_token).toBe(calls);
  });

  it('a corrupt token file without XERO_REFRESH_TOKEN stops renewal with its actionable message, once', async () => {
    const store = new FileTokenStore(stateDir);
    await fs.writeFile(store.file, 'not json');
    const p = webProvider(store);
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_NOT_CONFIGURED', message: expect.stringContaining('re-run `xero-scim auth`') });
    expect(p.status().ready).toBe(false);
    expect(tokenCalls().refresh_token).toBe(0);
  });

  it('a corrupt token file with XERO_REFRESH_TOKEN set tries the configured token first, and its rotation replaces the file', async () => {
    const store = new FileTokenStore(stateDir);
    await fs.writeFile(store.file, '{"clientId": "trunc');
    const warnings: string[] = [];
    const p = new TokenProvider(
      { clientId: sandbox.clients.web.clientId, grant: { kind: 'refresh_token', initialRefreshToken: sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, allTenants()) } },
      { identity: identity('web'), store, clock, onWarning: (m) => warnings.push(m) },
    );
    expect(await p.getAccessToken()).toEqual(expect.any(String));
    expect(p.status().ready).toBe(true);
    expect(tokenCalls().refresh_token).toBe(1);
    expect(await store.load()).toMatchObject({ clientId: sandbox.clients.web.clientId });
    expect(warnings).toEqual([`${store.file} is not valid JSON; trying XERO_REFRESH_TOKEN instead`]);
  });

  it('a corrupt token file with a refused XERO_REFRESH_TOKEN asks for `auth`', async () => {
    const store = new FileTokenStore(stateDir);
    await fs.writeFile(store.file, 'not json');
    const p = webProvider(store, 'a-refresh-token-xero-never-issued');
    await expect(p.getAccessToken()).rejects.toMatchObject({ code: 'XERO_INVALID_GRANT', message: expect.stringContaining('xero-scim auth') });
  });

  it('without any refresh token, says how to get one', async () => {
    await expect(webProvider(new MemoryTokenStore()).getAccessToken()).rejects.toThrow(/xero-scim auth/);
  });
});
