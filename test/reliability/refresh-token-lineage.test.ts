/**
 * Guarantee 2, regression found by the crash soak (kill 38 of seed 463555767): after more rotations than the stored
 * lineage kept (50), the consent's refresh token still set in XERO_REFRESH_TOKEN was no longer recognised as an old
 * link of the stored chain, so a restart took it for a new consent, used it, and met invalid_grant. With Xero's
 * 30-minute access tokens that is any restart after about a day: an outage that needs a human.
 */
import { type Sandbox, createSandbox } from '../../src/sandbox';
import { IdentityClient } from '../../src/xero/identity';
import { MemoryTokenStore, type TokenStore, TokenProvider } from '../../src/xero/tokens';
import { SteppingClock } from '../xero/helpers/clocks';

let sandbox: Sandbox;
let server: { url: string; close(): Promise<void> };
const clock = new SteppingClock();

beforeAll(async () => {
  // A grace period shorter than the time the rotations take: only the newest token is valid at the end.
  sandbox = createSandbox({ clock, data: { seed: 1, organisations: 1, usersPerOrganisation: 1 }, accessTokenTtlSeconds: 120, refreshGraceSeconds: 60 });
  server = await sandbox.listen(0, '127.0.0.1');
});

afterAll(() => server.close());

function provider(store: TokenStore, initialRefreshToken: string): TokenProvider {
  const { clientId, clientSecret } = sandbox.clients.web;
  const identity = new IdentityClient({ identityUrl: server.url, apiUrl: server.url, loginUrl: server.url, clientId, clientSecret, timeoutMs: 2000 }, { clock });
  return new TokenProvider({ clientId, grant: { kind: 'refresh_token', initialRefreshToken } }, { identity, store, clock });
}

describe('Guarantee 2: the refresh token chain survives any number of rotations', () => {
  it('a restart with the original XERO_REFRESH_TOKEN still set uses the stored token after 120 rotations, not the stale one', async () => {
    const consent = sandbox.data.issueRefreshToken(sandbox.clients.web.clientId, [sandbox.data.organisations()[0]!.organisationId]);
    const store = new MemoryTokenStore();
    const running = provider(store, consent);
    for (let i = 0; i < 120; i++) {
      await running.getAccessToken();
      clock.advance(120_000); // the access token expires: the next call rotates
    }
    const restarted = provider(store, consent); // the operator's environment still holds the consent's token
    await expect(restarted.getAccessToken()).resolves.toEqual(expect.any(String));
    expect(sandbox.data.counters().token.errors).toBe(0);
  });
});
