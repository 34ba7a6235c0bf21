/** `xero-scim sync --once [--json]`: one sync, persisted like the server's, then the directory and the report. */
import type { Config } from '../config';
import { renderSyncJson, runSyncOnce } from '../directory/sync-cli';
import { createLogger } from '../log';

export interface SyncCommandOptions {
  json?: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
}

/** Exit codes: 0 every organisation current, 3 partial (some stale or missing), 1 the sync failed. */
export async function runSync(config: Config, options: SyncCommandOptions): Promise<number> {
  // Logs go to stderr so stdout stays pure JSON for `| jq`.
  const logger = createLogger({ level: config.logLevel, logEmails: config.logEmails, destination: process.stderr });
  const result = await runSyncOnce(config, { logger });
  logger.flush();
  const { report, snapshot } = result;
  if (options.json) {
    options.out(JSON.stringify(renderSyncJson(result), null, 2));
  } else {
    options.out(`Sync ${report.outcome} in ${report.durationMs} ms: ${report.calls.connections} /connections, ${report.calls.users} Users and ${report.calls.organisation} Organisation calls, ${report.rateLimited} rate-limited.`);
    if (report.error) options.out(`Error: ${report.error.code}: ${report.error.message}`);
    if (snapshot) options.out(`Directory: ${snapshot.people.length} people, ${snapshot.organisations.length} organisations, ${snapshot.roles.length} roles.`);
    for (const t of report.tenants) {
      options.out(`  ${t.result.padEnd(8)} ${t.name ?? t.organisationId}${t.userCount !== undefined ? `  ${t.userCount} users` : ''}${t.error ? `  (${t.error.code}: ${t.error.message})` : ''}${t.suspicion ? `  (held back: ${t.suspicion.reason} since ${t.suspicion.since})` : ''}`);
    }
  }
  return report.outcome === 'ok' ? 0 : report.outcome === 'partial' ? 3 : 1;
}
