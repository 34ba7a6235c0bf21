/**
 * `xero-scim serve` (alias `service`): sync from Xero in the background and serve SCIM.
 * `--demo` runs the same server on the built-in sandbox's demo data, in one process, with a generated token.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Config, ConfigError, cursorSecretOf } from '../config';
import type { DirectorySnapshot } from '../directory/model';
import { createXeroDirectory } from '../directory/sync';
import { createApp } from '../http/app';
import { type ListeningServer, listen } from '../http/listen';
import { type Logger, createLogger } from '../log';
import type { Clock } from '../xero/clock';
import { Metrics } from '../ops/metrics';
import { SyncHistory } from '../ops/sync-history';
import { missingV8Flags } from '../runtime';
import { requireXeroCredentials } from './credentials';
import { directoryOptions } from './directory-options';
import { loadFetch } from '../xero/identity';

export interface ServeOptions {
  demo?: boolean;
  out?: (line: string) => void;
  logger?: Logger;
  /** Stops the server when aborted; default SIGTERM/SIGINT. */
  signal?: AbortSignal;
  /** Called once the server listens (tests read the URL and token from here). */
  onListening?: (info: { url: string; tokens: readonly string[] }) => void;
  /** The sync's clock (tests move it instead of waiting); default the system's. */
  clock?: Clock;
}

/** Kubernetes' default grace period is 30 s: finish in-flight requests well within it. */
const SHUTDOWN_GRACE_MS = 20_000;
/** How long a replica waits at start for Redis before it listens for it in the background. */
const REDIS_START_WAIT_MS = 5_000;

export async function runServe(config: Config, options: ServeOptions = {}): Promise<void> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  // The demo's banner is what a newcomer reads first: its own log lines wait for it (and then follow, in order).
  const held = options.demo && !options.logger ? holdLines() : undefined;
  const logger =
    options.logger ?? createLogger({ level: config.logLevel, logEmails: config.logEmails, ...(held ? { destination: held.destination } : {}) });
  try {
    await serve(config, options, out, logger, held);
  } finally {
    held?.release();
  }
}

async function serve(config: Config, options: ServeOptions, out: (line: string) => void, logger: Logger, held: HeldLines | undefined): Promise<void> {
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

  // With REDIS_URL this process is one of several replicas: the lease, the published directory, the token chain and
  // the confirmations live in Redis, and STATE_DIR is not used (the demo keeps to itself). The Redis client is
  // loaded only then: a single process does not pay for it at start.
  const replicas = options.demo || !effective.redisUrl ? undefined : (await import('./replicas')).replicasFor(effective, logger);
  if (replicas) {
    cleanups.push(() => replicas.close());
    logger.info({ replicaId: replicas.replicaId, redis: replicas.connection.endpoint }, 'running as one of several replicas over a shared Redis');
  }

  // Metrics read the directory at scrape time, and the directory reports syncs and Xero calls to them.
  const observers: { metrics?: Metrics } = {};
  const history = new SyncHistory();
  const directory = createXeroDirectory(directoryOptions(effective), {
    logger,
    ...(replicas ? replicas.deps : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    onSync: (report) => {
      observers.metrics?.observeSync(report.outcome, report.durationMs / 1000);
      observers.metrics?.observeSuspicions(report.suspicionsRaised);
      history.record(report);
    },
    onXeroCall: (operation, status) => observers.metrics?.observeXeroCall(operation, status),
  });
  const metrics = (observers.metrics = new Metrics({ directory, processMetrics: true, ...(options.clock ? { clock: options.clock } : {}) }));
  const app = createApp({
    directory,
    ...(options.clock ? { clock: options.clock } : {}),
    tokens,
    logger,
    metrics,
    history,
    basicAuth: effective.scimBasicAuth,
    maxResults: effective.scimMaxResults,
    ...(effective.scimRenderCacheMb !== undefined ? { renderCacheBytes: effective.scimRenderCacheMb * 1024 * 1024 } : {}),
    publicUrl: effective.publicUrl,
    trustProxy: effective.trustProxy,
    statusPagePublic: effective.statusPagePublic,
    cursorSecret: cursorSecretOf(effective),
    ...(replicas ? { sharedPins: replicas.sharedPins } : {}),
  });

  // Signals count from here: a SIGTERM or Ctrl+C while starting (the demo's first sync) stops the server cleanly once
  // it is up, rather than killing it half-started with the default action.
  const stop = waitForStop(options.signal);
  try {
    let server: ListeningServer;
    try {
      server = await listen(app, effective.port, effective.host);
    } catch (err) {
      for (const cleanup of cleanups) await cleanup();
      throw listenError(err as NodeJS.ErrnoException, effective.port, effective.host);
    }
    // A replica loads the newest published state before anything else, so a new one serves at once; a Redis out of
    // reach for longer is retried in the background (the replica is ready once a published state arrives).
    if (replicas) await replicas.connected(REDIS_START_WAIT_MS);
    // Now rather than on the first sync's first call, which comes as the first requests are answered.
    await loadFetch();
    await directory.start();
    // The demo waits for the first sync (shared with the loop's), so the printed curl commands answer at once.
    if (options.demo) await directory.syncOnce();
    // `url` is what to type on this machine; `address` is where the socket listens (0.0.0.0: every interface).
    const bound = server.server.address() as AddressInfo;
    logger.info({ url: server.url, address: `${bound.address}:${bound.port}`, mode: effective.syncMode, demo: options.demo === true }, 'xero-scim listening');
    const missing = missingV8Flags();
    if (missing.length > 0) {
      logger.info({ missing }, 'started without the V8 flags the image and `npm start` pass: it serves the same, with a higher memory peak under load');
    }
    options.onListening?.({ url: server.url, tokens });
    if (options.demo) {
      printDemoBanner(out, server.url, bound, tokens[0]!, demoExampleUser(directory.current()));
      held?.release();
    }

    await stop.stopped;
    logger.info('shutting down: no new connections, finishing requests in flight');
    await server.close(SHUTDOWN_GRACE_MS);
    await directory.stop(); // ends the sync loop (and gives the lease up); each sync already persisted its state
    for (const cleanup of cleanups) await cleanup();
    logger.info('stopped');
    logger.flush();
  } finally {
    stop.release();
  }
}

/** A port or address the server cannot have, as a configuration error naming PORT or HOST. */
function listenError(err: NodeJS.ErrnoException, port: number, host: string): Error {
  switch (err.code) {
    case 'EADDRINUSE':
      return new ConfigError('PORT', `${port} is already in use on ${host}: stop what listens there, or choose another port (PORT=0 picks a free one)`);
    case 'EACCES':
      return new ConfigError('PORT', `${port} needs privileges this process does not have: use a port above 1023 (PORT=0 picks a free one)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EADDRNOTAVAIL':
      return new ConfigError('HOST', `"${host}" is not an address of this machine (${err.code}): use 0.0.0.0 for every interface or 127.0.0.1 for this machine only`);
    default:
      return err;
  }
}

async function startDemoSandbox(config: Config): Promise<{ config: Config; close: () => Promise<void> }> {
  // The demo is the one place the server wires in the sandbox; imports flow one way otherwise
  // (docs/architecture.md, "Layout and imports").
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
  const people = snapshot?.people;
  if (!people || people.length === 0) return 'nobody@example.com';
  for (let p = 0; p < people.length; p++) if (people.recordCount(p) > 1) return people.userNameAt(p);
  return people.userNameAt(0);
}

/** Where the server really listens, and who can reach it: the URLs name 127.0.0.1 also when it listens on every interface. */
function describeBinding(address: AddressInfo): string {
  const everywhere = address.address === '0.0.0.0' || address.address === '::';
  const loopback = address.address === '127.0.0.1' || address.address === '::1';
  const shown = address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
  if (everywhere) return `Listening on ${shown}: every network interface, so other machines can reach it too.`;
  if (loopback) return `Listening on ${shown}: this machine only (HOST=0.0.0.0 opens it to the network).`;
  return `Listening on ${shown}.`;
}

function printDemoBanner(out: (line: string) => void, url: string, address: AddressInfo, token: string, userName: string): void {
  out('');
  out(`xero-scim demo: SCIM 2.0 on ${url}/scim/v2, serving the built-in Xero sandbox's demo organisations.`);
  out(describeBinding(address));
  out(`Bearer token: ${token}`);
  out('');
  out('Try:');
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Users?count=2'`);
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Groups?excludedAttributes=members'`);
  out(`  curl -s -H 'Authorization: Bearer ${token}' '${url}/scim/v2/Users?filter=userName%20eq%20%22${encodeURIComponent(userName)}%22'`);
  out('');
  out(`Status page: ${url}/ (any user name, the token as password). Stop with Ctrl+C.`);
  out('');
  out('Logs follow, as JSON lines (LOG_LEVEL=warn for fewer):');
}

interface HeldLines {
  readonly destination: { write(line: string): void };
  /** Writes what was held, in order, and from then on passes every line straight to stdout. */
  release(): void;
}

/** A log destination that keeps lines until released; pipes and terminals then get them synchronously, in order. */
function holdLines(): HeldLines {
  let held: string[] | undefined = [];
  return {
    destination: {
      write: (line) => {
        if (held) held.push(line);
        else process.stdout.write(line);
      },
    },
    release: () => {
      if (!held) return;
      const lines = held;
      held = undefined;
      if (lines.length > 0) process.stdout.write(lines.join(''));
    },
  };
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
