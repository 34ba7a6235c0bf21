/** The Xero credentials `serve` and `sync` need: without them there is nothing to sync, so say what to set. */
import { type Config, ConfigError } from '../config';

/** Throws a `ConfigError` naming the first missing variable; never falls back to demo data. */
export function requireXeroCredentials(config: Config): void {
  if (config.xeroAccessToken) return;
  if (!config.xeroClientId) {
    throw new ConfigError(
      'XERO_CLIENT_ID',
      'is required (or BATON_XERO_CLIENT_ID): the client ID of your Xero app; to try xero-scim without Xero, run `npx xero-scim serve --demo`',
    );
  }
  if (!config.xeroClientSecret) {
    throw new ConfigError('XERO_CLIENT_SECRET', 'is required (or BATON_XERO_CLIENT_SECRET): the client secret of your Xero app');
  }
}
