import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, cursorSecretOf, formatOptionsHelp, loadConfig, OPTIONS } from '../src/config';

describe('configuration', () => {
  it('has documented defaults', () => {
    const config = loadConfig({});
    expect(config.xeroApiUrl).toBe('https://api.xero.com');
    expect(config.xeroIdentityUrl).toBe('https://identity.xero.com');
    expect(config.xeroLoginUrl).toBe('https://login.xero.com');
    expect(config.syncMode).toBe('cached');
    expect(config.port).toBe(8080);
    expect(config.xeroTenantIds).toEqual([]);
    expect(config.scimBearerToken).toEqual([]);
    expect(config.xeroDisconnectConfirmations).toBe(3);
    expect(config.xeroMaxDisconnectShare).toBe(0.5);
  });

  it('reads the removal guard policy (XERO_DISCONNECT_CONFIRMATIONS, XERO_MAX_DISCONNECT_SHARE)', () => {
    const config = loadConfig({ XERO_DISCONNECT_CONFIRMATIONS: '1', XERO_MAX_DISCONNECT_SHARE: ' .25 ' });
    expect([config.xeroDisconnectConfirmations, config.xeroMaxDisconnectShare]).toEqual([1, 0.25]);
    expect(loadConfig({ XERO_MAX_DISCONNECT_SHARE: '1' }).xeroMaxDisconnectShare).toBe(1);
    expect(loadConfig({ XERO_MAX_DISCONNECT_SHARE: '0' }).xeroMaxDisconnectShare).toBe(0);
  });

  it('reads SCIM_RENDER_CACHE_MB as a whole number of MiB, unset (the heap-sized default) when empty', () => {
    expect(loadConfig({ SCIM_RENDER_CACHE_MB: ' 64 ' }).scimRenderCacheMb).toBe(64);
    expect(loadConfig({ SCIM_RENDER_CACHE_MB: '0' }).scimRenderCacheMb).toBe(0);
    expect(loadConfig({ SCIM_RENDER_CACHE_MB: '' }).scimRenderCacheMb).toBeUndefined();
    expect(loadConfig({}).scimRenderCacheMb).toBeUndefined();
    expect(() => loadConfig({ SCIM_RENDER_CACHE_MB: '64MB' })).toThrow(new ConfigError('SCIM_RENDER_CACHE_MB', 'must be a whole number from 0 to 65536'));
    expect(() => loadConfig({ SCIM_RENDER_CACHE_MB: '-1' })).toThrow(new ConfigError('SCIM_RENDER_CACHE_MB', 'must be at least 0'));
  });

  it("accepts ConductorOne's variable names, so its Kubernetes Secret works unchanged", () => {
    const config = loadConfig({ BATON_XERO_CLIENT_ID: 'id1', BATON_XERO_CLIENT_SECRET: 's1', BATON_REFRESH_TOKEN: 'r1', BATON_TOKEN: 'a1' });
    expect([config.xeroClientId, config.xeroClientSecret, config.xeroRefreshToken, config.xeroAccessToken]).toEqual(['id1', 's1', 'r1', 'a1']);
  });

  it('prefers the XERO_ name over the alias, and a flag over both', () => {
    expect(loadConfig({ XERO_CLIENT_ID: 'a', BATON_XERO_CLIENT_ID: 'b' }).xeroClientId).toBe('a');
    expect(loadConfig({ PORT: '9000' }, { port: '9001' }).port).toBe(9001);
  });

  it('checks PUBLIC_URL like every other URL: an http(s) URL without its trailing slash, or unset', () => {
    expect(() => loadConfig({ PUBLIC_URL: 'scim.example.com' })).toThrow(new ConfigError('PUBLIC_URL', 'must be an http(s) URL'));
    expect(() => loadConfig({ PUBLIC_URL: 'ftp://scim.example.com' })).toThrow(new ConfigError('PUBLIC_URL', 'must be an http(s) URL'));
    expect(() => loadConfig({}, { 'public-url': 'https//scim.example.com' })).toThrow(new ConfigError('--public-url', 'must be an http(s) URL'));
    expect(loadConfig({ PUBLIC_URL: 'https://scim.example.com/' }).publicUrl).toBe('https://scim.example.com');
    expect(loadConfig({ PUBLIC_URL: '  ' }).publicUrl).toBeUndefined();
    expect(loadConfig({}).publicUrl).toBeUndefined();
  });

  it('splits comma-separated lists and strips trailing slashes from URLs', () => {
    const config = loadConfig({ XERO_TENANT_IDS: 'a, b,,c', SCIM_BEARER_TOKEN: 'token-one-0123456789,token-two-0123456789', XERO_API_URL: 'http://127.0.0.1:4010/' });
    expect(config.xeroTenantIds).toEqual(['a', 'b', 'c']);
    expect(config.scimBearerToken).toEqual(['token-one-0123456789', 'token-two-0123456789']);
    expect(config.xeroApiUrl).toBe('http://127.0.0.1:4010');
  });

  it('reads bearer tokens from a file as well', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'xero-scim-config-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, 'from-file-0123456789\nsecond-token-0123456789\n');
    expect(loadConfig({ SCIM_BEARER_TOKEN: 'from-env-0123456789', SCIM_BEARER_TOKEN_FILE: file }).scimBearerToken).toEqual([
      'from-env-0123456789',
      'from-file-0123456789',
      'second-token-0123456789',
    ]);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ SYNC_MODE: 'sometimes' }, 'SYNC_MODE'],
    [{ XERO_API_URL: 'ftp://example.com' }, 'XERO_API_URL'],
    [{ SCIM_BASIC_AUTH: 'maybe' }, 'SCIM_BASIC_AUTH'],
    [{ SCIM_BEARER_TOKEN_FILE: '/nonexistent/token' }, 'SCIM_BEARER_TOKEN_FILE'],
    [{ SCIM_BEARER_TOKEN: 'long-enough-token-123,rand' }, 'SCIM_BEARER_TOKEN'],
    [{ XERO_DISCONNECT_CONFIRMATIONS: '0' }, 'XERO_DISCONNECT_CONFIRMATIONS'],
    [{ XERO_MAX_DISCONNECT_SHARE: '1.5' }, 'XERO_MAX_DISCONNECT_SHARE'],
    [{ XERO_MAX_DISCONNECT_SHARE: 'half' }, 'XERO_MAX_DISCONNECT_SHARE'],
    [{ XERO_MAX_DISCONNECT_SHARE: '50%' }, 'XERO_MAX_DISCONNECT_SHARE'],
    [{ SCIM_CURSOR_SECRET: 'too-short' }, 'SCIM_CURSOR_SECRET'],
  ])('stops with an error naming the variable for %j', (env, variable) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message.startsWith(`${variable}: `)).toBe(true);
    }
  });

  it('signs cursors with SCIM_CURSOR_SECRET, else the Xero client secret every replica shares', () => {
    expect(cursorSecretOf(loadConfig({ SCIM_CURSOR_SECRET: 'cursor-secret-0123456789', XERO_CLIENT_SECRET: 'client-secret' }))).toBe('cursor-secret-0123456789');
    expect(cursorSecretOf(loadConfig({ BATON_XERO_CLIENT_SECRET: 'client-secret' }))).toBe('client-secret');
    expect(cursorSecretOf(loadConfig({ XERO_ACCESS_TOKEN: 'debugging' }))).toBeUndefined(); // a random secret per process
  });

  it('never echoes a value in its error message', () => {
    expect(() => loadConfig({ XERO_API_URL: 'not a url s3cr3t' })).toThrow(/^XERO_API_URL: (?!.*s3cr3t)/);
  });

  it('lists every option of a command in help, with its variables and default', () => {
    const help = formatOptionsHelp('serve');
    for (const spec of Object.values(OPTIONS)) {
      if (!(spec.commands as readonly string[]).includes('serve')) continue;
      expect(help).toContain(spec.flag);
      expect(help).toContain(spec.env);
      for (const alias of (spec as { aliases?: readonly string[] }).aliases ?? []) expect(help).toContain(alias);
    }
    expect(help).toContain('BATON_XERO_CLIENT_ID');
    expect(help).toContain('(default: cached)');
  });
});
