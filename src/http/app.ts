/**
 * The HTTP application, composed in one place: security headers and the request log, the hot SCIM reads' fast path
 * (src/http/fast-reads.ts), the operator routes (probes, metrics, status page), the OpenAPI document, the
 * authenticated SCIM API at `/scim/v2`, the SCIM 404 and one error handler. Built by a factory from its dependencies, so `serve` and the tests (supertest, with a fake directory and
 * clock) run the same app. `mountScim` and `finish` are exported for the benchmark's variants that leave layers out.
 */
import express, { type ErrorRequestHandler, type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Directory } from '../directory/model';
import { type Logger, silentLogger } from '../log';
import { Metrics } from '../ops/metrics';
import type { SyncHistory } from '../ops/sync-history';
import type { ViewCache } from '../scim/views';
import type { SharedCrawlPins } from './crawl-pins';
import { VERSION } from '../version';
import { scimAuth, tokenMatcher } from './auth';
import { errorHandler, notFoundHandler } from './errors';
import { createOpenApiRouter } from './openapi';
import { createOpsRouter } from './ops-routes';
import { requestLogWith, requestStarter } from './request-log';
import { answerHotReadsFirst } from './fast-reads';
import { createScimApi, type ScimApi } from './scim-router';
import { securityHeaders } from './security-headers';
import { throttleFailedAuth } from './throttle';

const SCIM_BASE_PATH = '/scim/v2';

export interface AppOptions {
  readonly directory: Directory;
  /** Accepted bearer tokens (at least one). */
  readonly tokens: readonly string[];
  /** Also accept HTTP Basic with a token as the password. */
  readonly basicAuth?: boolean;
  /** Largest page a list returns; default 1000. */
  readonly maxResults?: number;
  /** Bytes of serialised resources the SCIM router keeps (SCIM_RENDER_CACHE_MB); default `defaultRenderCacheBytes()`. */
  readonly renderCacheBytes?: number;
  /** External base URL (e.g. `https://scim.example.com`); default: from the request. */
  readonly publicUrl?: string;
  /** Honour X-Forwarded-Proto/-Host/-For (only behind a proxy that sets them). */
  readonly trustProxy?: boolean;
  readonly logger?: Logger;
  readonly clock?: { now(): number };
  /** How long a paging crawl keeps the snapshot of its first page; default 600 s, 0 = never (see CrawlPins). */
  readonly crawlPinSeconds?: number;
  /**
   * What RFC 9865 cursors are signed with: replicas given the same secret verify each other's cursors. Default: a
   * random secret of this app's own (its cursors then verify only here).
   */
  readonly cursorSecret?: string | Buffer;
  /** RFC 9865 `cursorTimeout`: how long a cursor stays valid after the page that issued it; default 600 s. */
  readonly cursorTimeoutSeconds?: number;
  /** Prometheus metrics, fed by the request log and the sync (`serve` passes the one its directory reports to);
   *  default: a registry of the app's own, with process metrics. */
  readonly metrics?: Metrics;
  /** Serve the status page at / without authentication (STATUS_PAGE_PUBLIC). */
  readonly statusPagePublic?: boolean;
  /** The last day of syncs, drawn as charts on the status page (fed by the directory's onSync). */
  readonly history?: SyncHistory;
  /** Largest accepted request body; default 64 KiB (a SearchRequest is small). */
  readonly bodyLimit?: string;
  /** The snapshots' rendered views; default: the SCIM router's own. Pass one to render ahead of requests. */
  readonly views?: ViewCache;
  /**
   * Index crawls' pins shared by every replica behind one load balancer (`RedisCrawlPins` with REDIS_URL), so a
   * crawl's later pages read its first page's snapshot whichever replica answers; default: this app's own only.
   */
  readonly sharedPins?: SharedCrawlPins;
}

/** A Host we would put in `meta.location`: a name or address and an optional port, nothing else. */
const SAFE_HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** The SCIM base URL for a request: the configured public URL, else the request's own scheme and host. */
export function rootUrlResolver(options: Pick<AppOptions, 'publicUrl'>): (req: Request) => string {
  const publicUrl = options.publicUrl?.replace(/\/+$/, '');
  return (req) => {
    if (publicUrl) return `${publicUrl}${SCIM_BASE_PATH}`;
    // With `trust proxy` set, Express reads these from X-Forwarded-Proto/-Host; otherwise from the socket and Host.
    const host = req.host && SAFE_HOST.test(req.host) ? req.host : 'localhost';
    return `${req.protocol}://${host}${SCIM_BASE_PATH}`;
  };
}

/** The whole application: security headers, request log, operator routes, OpenAPI, SCIM, the 404 and errors. */
export function createApp(options: AppOptions): Express {
  const logger = options.logger ?? silentLogger;
  const metrics = options.metrics ?? new Metrics({ directory: options.directory, clock: options.clock, processMetrics: true });
  const app = express();
  app.set('trust proxy', options.trustProxy === true);
  app.set('etag', false); // ETags are computed from content by the SCIM layer (RFC 7644 §3.14).
  app.set('x-powered-by', false);
  const scim = scimParts(options);
  const startRequest = requestStarter(logger, metrics);
  app.use(inSequence(securityHeaders(), requestLogWith(startRequest)));
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
  app.use(SCIM_BASE_PATH, inSequence(scim.auth, scim.api.router));
  const errors = finish(app, logger);
  // The hot reads are answered before Express dispatches them, with the security headers and request id in their
  // answer's head (src/http/fast-reads.ts).
  answerHotReadsFirst(app, { basePath: SCIM_BASE_PATH, auth: scim.auth, reads: scim.api.reads, start: startRequest, errors });
  return app;
}

/**
 * Middleware run one after another as one router layer. Express matches every layer's path and re-enters its
 * router loop for each; the few layers every request passes through are cheaper as one (BENCHMARKS.md, "The layers
 * every request passes").
 */
function inSequence(...handlers: readonly RequestHandler[]): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    let i = 0;
    const step = (err?: unknown): void => {
      if (err !== undefined && err !== null) return next(err);
      const handler = handlers[i++];
      if (!handler) return next();
      const result: unknown = handler(req, res, step);
      if (result instanceof Promise) result.catch(step);
    };
    step();
  };
}

/** The SCIM API's parts: the failed-auth throttle around the bearer check, and the router with its reads. */
function scimParts(options: AppOptions): { auth: RequestHandler; api: ScimApi } {
  return {
    auth: throttleFailedAuth(scimAuth({ tokens: options.tokens, basicAuth: options.basicAuth }), { clock: options.clock }),
    api: createScimApi({
      directory: options.directory,
      maxResults: options.maxResults ?? 1000,
      basicAuth: options.basicAuth === true,
      rootUrl: rootUrlResolver(options),
      crawlPinSeconds: options.crawlPinSeconds,
      cursorTimeoutSeconds: options.cursorTimeoutSeconds,
      cursorSecret: options.cursorSecret,
      bodyLimit: options.bodyLimit,
      clock: options.clock,
      views: options.views,
      renderCacheBytes: options.renderCacheBytes,
      sharedPins: options.sharedPins,
      logger: options.logger,
    }),
  };
}

/** Mounts the authenticated SCIM API at `/scim/v2` (without the hot reads' fast path). */
export function mountScim(app: Express, options: AppOptions): void {
  const { auth, api } = scimParts(options);
  app.use(SCIM_BASE_PATH, inSequence(auth, api.router));
}

/** The SCIM 404 for unknown routes and the one error handler, which it returns; mount last. */
export function finish(app: Express, logger: Logger): ErrorRequestHandler {
  const errors = errorHandler(logger);
  app.use(notFoundHandler);
  app.use(errors);
  return errors;
}
