/**
 * The configuration as the directory needs it. `directory/` declares its own options (`XeroDirectoryOptions`) and
 * never reads `config.ts`; this is the one place that maps the one to the other, for `serve` (and its demo) and
 * `sync --once`.
 */
import type { Config } from '../config';
import type { XeroDirectoryOptions } from '../directory/sync';

export function directoryOptions(config: Config): XeroDirectoryOptions {
  return {
    credentials: {
      clientId: config.xeroClientId,
      clientSecret: config.xeroClientSecret,
      refreshToken: config.xeroRefreshToken,
      accessToken: config.xeroAccessToken,
      scopes: config.xeroScopes,
    },
    xero: {
      apiUrl: config.xeroApiUrl,
      identityUrl: config.xeroIdentityUrl,
      loginUrl: config.xeroLoginUrl,
      timeoutMs: config.xeroTimeoutMs,
      dailyLimit: config.xeroDailyLimit,
      concurrency: config.xeroConcurrency,
    },
    tenantIds: config.xeroTenantIds,
    stateDir: config.stateDir,
    sync: {
      mode: config.syncMode,
      intervalSeconds: config.syncIntervalSeconds,
      organisationRefreshSeconds: config.organisationRefreshSeconds,
      liveMinFreshnessSeconds: config.liveMinFreshnessSeconds,
    },
    guard: { confirmations: config.xeroDisconnectConfirmations, maxShare: config.xeroMaxDisconnectShare },
  };
}
