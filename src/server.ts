/**
 * The running server: the app assembled from its parts; the listener it runs on is src/http/listen.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Express, Request } from 'express';
import type { Directory } from './directory/model';
import { createBaseApp, finish, mountScim } from './http/app';
import { tokenMatcher } from './http/auth';
import { createOpenApiRouter } from './http/openapi';
import type { Logger } from './log';
import { Metrics } from './ops/metrics';
import { createOpsRouter } from './ops/routes';
import type { SyncHistory } from './ops/sync-history';

/** From package.json, one folder up from both src/ and dist/. */
export const VERSION: string = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;

export interface ServerOptions {
  directory: Directory;
  tokens: readonly string[];
  logger: Logger;
  basicAuth?: boolean;
  maxResults?: number;
  publicUrl?: string;
  trustProxy?: boolean;
  statusPagePublic?: boolean;
  clock?: { now(): number };
  metrics?: Metrics;
  /** Syncs the status page charts (fed by the directory's onSync). */
  history?: SyncHistory;
  /** What RFC 9865 cursors are signed with (`cursorSecretOf`); default: a random secret of this process's own. */
  cursorSecret?: string;
}

/** The whole HTTP application: security headers, request log, operator routes, SCIM, errors. */
export function composeApp(options: ServerOptions): { app: Express; metrics: Metrics } {
  const metrics = options.metrics ?? new Metrics({ directory: options.directory, clock: options.clock, processMetrics: true });
  const app = createBaseApp({ trustProxy: options.trustProxy, logger: options.logger, metrics });
  const matches = tokenMatcher({ tokens: options.tokens, basicAuth: true });
  app.use(
    createOpsRouter({
      directory: options.directory,
      metrics,
      // The status page accepts Basic with the token as password even when SCIM does not, so a browser can open it.
      isAuthorized: (req: Request) => matches(req.headers.authorization),
      statusPagePublic: options.statusPagePublic,
      clock: options.clock,
      version: VERSION,
      history: options.history,
    }),
  );
  app.use(createOpenApiRouter());
  mountScim(app, {
    directory: options.directory,
    tokens: options.tokens,
    basicAuth: options.basicAuth,
    maxResults: options.maxResults,
    publicUrl: options.publicUrl,
    trustProxy: options.trustProxy,
    logger: options.logger,
    clock: options.clock,
    cursorSecret: options.cursorSecret,
  });
  finish(app, options.logger);
  return { app, metrics };
}

export { listen, TIMEOUTS, type ListenLimits, type ListeningServer } from './http/listen';
