/**
 * The HTTP application: security headers, request ids, the authenticated SCIM API at `/scim/v2`, and one error
 * handler. Built by a factory from its dependencies so tests call it in-process (supertest) with a fake
 * directory and clock. The pieces (`scimAuth`, `createScimRouter`, `errorHandler`) are exported separately so the
 * server can mount more routes (health, metrics, status page) before `finish`.
 */
import express, { type Express, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { type Logger, silentLogger } from '../log';
import type { Directory } from '../directory/model';
import type { ViewCache } from '../scim/views';
import { scimAuth } from './auth';
import { errorHandler, notFoundHandler } from './errors';
import { type RequestObserver, requestLog } from './request-log';
import { createScimRouter } from './scim-router';
import { securityHeaders } from './security-headers';
import { throttleFailedAuth } from './throttle';

export const SCIM_BASE_PATH = '/scim/v2';

export interface AppOptions {
  readonly directory: Directory;
  /** Accepted bearer tokens (at least one). */
  readonly tokens: readonly string[];
  /** Also accept HTTP Basic with a token as the password. */
  readonly basicAuth?: boolean;
  /** Largest page a list returns; default 1000. */
  readonly maxResults?: number;
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
  /** Counts each request by route and status (the server passes its Prometheus metrics). */
  readonly metrics?: RequestObserver;
  /** Largest accepted request body; default 64 KiB (a SearchRequest is small). */
  readonly bodyLimit?: string;
  /** The snapshots' rendered views; default: the SCIM router's own. Pass one to render ahead of requests. */
  readonly views?: ViewCache;
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

/** Builds the complete app: security headers, the SCIM API, the SCIM 404 and the error handler. */
export function createApp(options: AppOptions): Express {
  const app = createBaseApp(options);
  mountScim(app, options);
  finish(app, options.logger ?? silentLogger);
  return app;
}

/** The app with security headers and request ids, no routes yet. */
export function createBaseApp(options: Pick<AppOptions, 'trustProxy' | 'logger' | 'metrics'>): Express {
  const app = express();
  const logger = options.logger ?? silentLogger;
  app.set('trust proxy', options.trustProxy === true);
  app.set('etag', false); // ETags are computed from content by the SCIM layer (RFC 7644 §3.14).
  app.set('x-powered-by', false);
  app.use(inSequence(securityHeaders(), requestLog(logger, options.metrics)));
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

/** Mounts the authenticated SCIM API at `/scim/v2`. */
export function mountScim(app: Express, options: AppOptions): void {
  app.use(
    SCIM_BASE_PATH,
    inSequence(
      throttleFailedAuth(scimAuth({ tokens: options.tokens, basicAuth: options.basicAuth }), { clock: options.clock }),
      createScimRouter({
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
      }),
    ),
  );
}

/** The SCIM 404 for unknown routes and the one error handler; mount last. */
export function finish(app: Express, logger: Logger): void {
  app.use(notFoundHandler);
  app.use(errorHandler(logger));
}
