/** What tests that run xero-scim against the sandbox share. */
import { DEFAULT_CLIENTS, type Sandbox } from '../../src/sandbox';

/**
 * The environment of the sandbox's web app, consented to every organisation of `sandbox`, with both Xero URLs
 * pointing at `url` (where the sandbox listens): what `loadConfig` or the CLI needs to sync from it.
 */
export function webAppEnvironment(sandbox: Pick<Sandbox, 'data'>, url: string) {
  const { clientId, clientSecret } = DEFAULT_CLIENTS.web;
  return {
    XERO_CLIENT_ID: clientId,
    XERO_CLIENT_SECRET: clientSecret,
    XERO_REFRESH_TOKEN: sandbox.data.issueRefreshToken(
      clientId,
      sandbox.data.organisations().map((o) => o.organisationId),
    ),
    XERO_API_URL: url,
    XERO_IDENTITY_URL: url,
  };
}
