/**
 * `xero-scim serve` (alias `service`): sync from Xero in the background and serve SCIM.
 * `--demo` runs the same server on the built-in sandbox's demo data, in one process, with a generated token.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Config, ConfigError } from '../config';
import type { DirectorySnapshot } from '../directory/model';
import { createXeroDirectory } from '../directory/sync';
import { type Logger, createLogger } from '../log';
import { Metrics } from '../ops/metrics';
import { composeApp, listen } from '../server';

export interface ServeOptions {
  demo?: boolean;
  out?: (line: string) => void;
  logger?: Logger;
  /** Stops the server when aborted; default SIGTERM/SIGINT. */
  signal?: AbortSignal;
  /** Called once the server listens (tests read the URL and token from here). */
  onListening?: (info: { url: string; tokens: readonly string[] }) => void;
}

/** Kubernetes' default grace period is 30 s: finish in-flight requests well within it. */
const SHUTDOWN_GRACE_MS = 20_000;

export async function runServe(config: Config, options: ServeOptions = {}): Promise<void> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = options.logger ?? createLogger({ level: config.logLevel, logEmails: config.logEmails });
  const cleanups: (() => Promise<void>)[] = [];
  let effective = config;
  let tokens = config.scimBearerToken;

  if (options.demo) {
    const demo = await startDemoSandbox(config);
    cleanups.push(demo.close);
    effective = demo.config;
    if (tokens.length === 0) tokens = [randomBytes(24).toString('base64url')];
  } else {
    requireXeroCredentials(config);
    if (tokens.length === 0) {
      throw new ConfigError(
        'SCIM_BEARER_TOKEN',
        'is required: the token IGA tools send as "Authorization: Bearer <token>" (e.g. `openssl rand -base64 32`), or set SCIM_BEARER_TOKEN_FILE',
      );
    }
  }

  // Metrics read the directory at scrape time, and the directory reports syncs and Xero calls to them.
  const observers: { metrics?: Metrics } = {};
  const directory = createXeroDirectory(effective, {
    logger,
    onSync: (report) => observers.metrics?.observeSync(report.outcome, report.durationMs / 1000),
    onXeroCall: (operation, status) => observers.metrics?.observeXeroCall(operation, status),
  });
  const metrics = (observers.metrics = new Metrics({ directory, processMetrics: true }));
  const { app } = composeApp({
    directory,
    tokens,
    logger,
    metrics,
    basicAuth: effective.scimBasicAuth,
    maxResults: effective.scimMaxResults,
    publicUrl: effective.publicUrl,
    trustProxy: effective.trustProxy,
    statusPagePublic: effective.statusPagePublic,
  });

  const server = await listen(app, effective.port, effective.host);
  await directory.start();
  // The demo waits for the first sync (shared with the loop's), so the printed curl commands answer at once.
  if (options.demo) await directory.syncOnce();
  logger.info({ url: server.url, mode: effective.syncMode, demo: options.demo === true }, 'xero-scim listening');
  options.onListening?.({ url: server.url, tokens });
  if (options.demo) printDemoBanner(out, server.url, tokens[0]!, demoExampleUser(directory.current()));

  const stop = waitForStop(options.signal);
  await stop.stopped;
  logger.info('shutting down: no new connections, finishing requests in flight');
  await server.close(SHUTDOWN_GRACE_MS);
  await directory.stop(); // ends the sync loop; each sync already persisted its state
  for (const cleanup of cleanups) await cleanup();
  logger.info('stopped');
  logger.flush();
  stop.release();
}

/** Without credentials the server would serve nothing: say what to set, and never fall back to demo data. */
function requireXeroCredentials(config: Config): void {
  if (config.xeroAccessToken) return;
  if (!config.xeroClientId) {
    throw new ConfigError(
      'XERO_CLIENT_ID',
      'is required (or BATON_XERO_CLIENT_ID): the client ID of your Xero app; to try xero-scim without Xero, run `xero-scim serve --demo`',
    );
  }
  if (!config.xeroClientSecret) {
    throw new ConfigError('XERO_CLIENT_SECRET', 'is required (or BATON_XERO_CLIENT_SECRET): the client secret of your Xero app');
  }
}

async function startDemoSandbox(config: Config): Promise<{ config: Config; close: () => Promise<void> }> {
  // The demo is the one place the server wires in the sandbox (STYLE.md: imports flow one way otherwise).
  const { createSandbox } = await import('../sandbox');
  const sandbox = createSandbox({ data: 'demo' });
  const listening = await sandbox.listen(0, '127.0.0.1');
  const { web } = sandbox.clients;
  const organisationIds = sandbox.data.organisations().map((o) => o.organisationId);
  const stateDir = await mkdtemp(path.join(tmpdir(), 'xero-scim-demo-'));
  return {
    config: {
      ...config,
      xeroApiUrl: listening.url,
      xeroIdentityUrl: listening.url,
      xeroLoginUrl: listening.url,
      xeroClientId: web.clientId,
      xeroClientSecret: web.clientSecret,
      xeroRefreshToken: sandbox.data.issueRefreshToken(web.clientId, organisationIds),
      xeroAccessToken: undefined,
      xeroTenantIds: [],
      stateDir,
      host: config.host,
    },
    close: async () => {
      await listening.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Someone in several organisations makes the best example: one SCIM user, merged across tenants. */
function demoExampleUser(snapshot: DirectorySnapshot | undefined): string {
  const people = snapshot?.people ?? [];
  const person = people.find((p) => p.records.length > 1) ?? people[0];
  return person?.userName ?? 'nobody@example.com';
}

function printDemoBanner(out: (line: string) => void, url: string, token: string, userName: string): void {
  out('');
  out(`xero-scim demo: SCIM 2.0 on ${url}/scim/v2, serving the built-in Xero sandbox's demo organisations.`);
  out(`Bearer token: ${token}`);
  out('');
  out('Try:');
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Users?count=2'`);
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Groups?excludedAttributes=members'`);
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Users?filter=userName%20eq%20%22${encodeURIComponent(userName)}%22'`);
  out('');
  out(`Status page: ${url}/ (any user name, the token as password). Stop with Ctrl+C.`);
  out('');
}

/**
 * Resolves on the first SIGTERM/SIGINT (or abort). Later SIGTERMs are ignored while draining (npm, tini or a
 * supervisor may forward the same signal again, and the default action would kill the drain); a second SIGINT is
 * a person pressing Ctrl+C again, and exits at once.
 */
function waitForStop(signal: AbortSignal | undefined): { stopped: Promise<void>; release: () => void } {
  let stopping = false;
  let resolveStop!: () => void;
  const stopped = new Promise<void>((resolve) => (resolveStop = resolve));
  const onTerm = (): void => {
    stopping = true;
    resolveStop();
  };
  const onInt = (): void => {
    if (stopping) process.exit(130);
    onTerm();
  };
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  if (signal) {
    if (signal.aborted) onTerm();
    else signal.addEventListener('abort', onTerm, { once: true });
  }
  return {
    stopped,
    release: () => {
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
    },
  };
}
