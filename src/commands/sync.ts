/** `xero-scim sync --once [--json]`: one sync, persisted like the server's, then the directory and the report. */
import type { Config } from '../config';
import type { XeroDirectoryDeps } from '../directory/sync';
import type { SyncProgress } from '../directory/sync-report';
import { renderSyncJson, runSyncOnce } from './sync-once';
import { createLogger } from '../log';
import { requireXeroCredentials } from './credentials';

export interface SyncCommandOptions {
  json?: boolean;
  out: (text: string) => void;
  err: (text: string) => void;
  /** Rewrites one progress line on a terminal; absent elsewhere (pipes, CI), and unused with --json. */
  progress?: (line: string) => void;
  /** Tests replace Xero's or STATE_DIR's pieces here. */
  deps?: XeroDirectoryDeps;
}

function progressLine(p: SyncProgress): string {
  return `Syncing: ${p.organisationsDone}/${p.organisationsTotal} organisations, ${p.calls} Xero calls, ${p.rateLimited} rate-limited (429)`;
}

/**
 * Exit codes: 0 every organisation current, 3 partial (some stale or missing), 1 the sync failed or STATE_DIR
 * refused its result, 2 (from the CLI) a configuration error such as missing credentials.
 */
export async function runSync(config: Config, options: SyncCommandOptions): Promise<number> {
  requireXeroCredentials(config);
  const progress = options.json ? undefined : options.progress;
  let shown: SyncProgress | undefined;
  // Logs go to stderr so stdout stays pure JSON for `| jq`; on a terminal each log line clears the progress line
  // and the progress line comes back under it.
  const destination = {
    write(line: string): void {
      if (progress && shown) process.stderr.write('\r\x1b[K');
      process.stderr.write(line);
      if (progress && shown) progress(progressLine(shown));
    },
  };
  const logger = createLogger({ level: config.logLevel, logEmails: config.logEmails, destination });
  const onProgress = progress
    ? (p: SyncProgress): void => {
        shown = p;
        progress(progressLine(p));
      }
    : undefined;
  const result = await runSyncOnce(config, { logger, ...options.deps, ...(onProgress ? { onProgress } : {}) });
  logger.flush();
  const { report, snapshot, status } = result;
  if (progress) {
    const organisations = shown ? `${shown.organisationsDone}/${shown.organisationsTotal} organisations` : 'no organisations';
    progress(`Synced ${organisations} in ${(report.durationMs / 1000).toFixed(1)} s: ${report.calls.token + report.calls.connections + report.calls.organisation + report.calls.users} Xero calls, ${report.rateLimited} rate-limited (429), ${report.outcome}.\n`);
  }
  const unsaved = status.persistence?.error;
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
  // A sync whose result STATE_DIR did not keep has not done its job: say so, and do not exit 0.
  if (unsaved) options.err(`xero-scim sync: ${unsaved.code}: ${unsaved.message}`);
  if (report.outcome === 'failed' || unsaved) return 1;
  return report.outcome === 'partial' ? 3 : 0;
}
