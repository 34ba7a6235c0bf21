/**
 * The directory's credentials without Xero (`src/directory/credentials.ts`): which token grant a configuration
 * chooses, the credential state `/readyz` shows, and the one renew-once-on-401 every call goes through.
 */
import { type CredentialOptions, Credentials, chooseGrant, credentialHealth } from '../../src/directory/credentials';
import { silentLogger } from '../../src/log';
import { XeroError } from '../../src/xero/errors';
import { IdentityClient } from '../../src/xero/identity';
import { MemoryTokenStore, type StoredTokens } from '../../src/xero/tokens';
import { SteppingClock } from '../xero/helpers/clocks';

const NONE: CredentialOptions = { clientId: 'client', clientSecret: 'secret', refreshToken: undefined, accessToken: undefined, scopes: undefined };
const stored = (clientId: string): StoredTokens => ({ clientId, refreshToken: 'r', receivedAt: '2026-11-27T05:00:00.000Z', lineage: [] });

describe('the token grant', () => {
  it('is a fixed token first, then a configured refresh token, then one stored for this client ID', () => {
    expect(chooseGrant({ ...NONE, accessToken: 'a', refreshToken: 'r' }, undefined)).toEqual({ kind: 'fixed', accessToken: 'a' });
    expect(chooseGrant({ ...NONE, refreshToken: 'r' }, undefined)).toEqual({ kind: 'refresh_token', initialRefreshToken: 'r' });
    expect(chooseGrant(NONE, stored('client'))).toEqual({ kind: 'refresh_token' });
  });

  it('is the custom connection\'s client credentials without any token, or with tokens stored for another client ID', () => {
    expect(chooseGrant(NONE, undefined)).toEqual({ kind: 'client_credentials', scope: 'accounting.settings.read' });
    expect(chooseGrant({ ...NONE, scopes: 'offline_access accounting.settings.read' }, stored('another-client'))).toEqual({
      kind: 'client_credentials',
      scope: 'accounting.settings.read',
    });
  });
});

describe('the credential state', () => {
  const at = '2026-11-27T05:00:00.000Z';

  it('is unknown until Xero accepts them, then valid', () => {
    expect(credentialHealth(undefined, undefined, at)).toEqual({ state: 'unknown' });
    expect(credentialHealth(undefined, at, at)).toEqual({ state: 'valid', validAt: at });
  });

  it('names the terminal error an operator must act on', () => {
    const refused = new XeroError('XERO_INVALID_GRANT', 'consent again');
    expect(credentialHealth(refused, undefined, at)).toEqual({ state: 'invalid_grant', error: { code: 'XERO_INVALID_GRANT', message: 'consent again', at } });
  });
});

describe('withRenewal', () => {
  const clock = new SteppingClock();
  const credentials = (options: CredentialOptions) =>
    new Credentials(options, { identity: new IdentityClient({ identityUrl: 'http://127.0.0.1:9', apiUrl: 'http://127.0.0.1:9', loginUrl: 'http://127.0.0.1:9', clientId: 'client', timeoutMs: 1000 }), store: new MemoryTokenStore(), clock, random: () => 0.5, logger: silentLogger });

  it('passes other failures through untouched, without renewing', async () => {
    const c = credentials({ ...NONE, accessToken: 'fixed' });
    await c.begin();
    let calls = 0;
    const failing = c.withRenewal('GET Users', async () => {
      calls++;
      throw new XeroError('XERO_SERVER_ERROR', 'Xero answered 500', { status: 500 });
    });
    await expect(failing).rejects.toMatchObject({ code: 'XERO_SERVER_ERROR' });
    expect(calls).toBe(1);
  });

  it('cannot renew a fixed XERO_ACCESS_TOKEN Xero refused: one call, then a terminal unauthorized state', async () => {
    const c = credentials({ ...NONE, accessToken: 'fixed' });
    await c.begin();
    const tokens: string[] = [];
    const refused = c.withRenewal('GET connections', async (accessToken) => {
      tokens.push(accessToken());
      throw new XeroError('XERO_UNAUTHORIZED', 'unauthorised', { status: 401 });
    });
    await expect(refused).rejects.toMatchObject({ code: 'XERO_UNAUTHORIZED' });
    expect(tokens).toEqual(['fixed']);
    expect(c.health(undefined).state).toBe('unauthorized');
  });

  it('is not configured without a client ID and secret (or a fixed token), and says which variables', async () => {
    const c = credentials({ ...NONE, clientSecret: undefined });
    await expect(c.begin()).rejects.toMatchObject({ code: 'XERO_NOT_CONFIGURED', message: expect.stringContaining('XERO_CLIENT_SECRET') });
    expect(c.health('2026-11-27T05:00:00.000Z')).toMatchObject({ state: 'not_configured' });
  });
});
