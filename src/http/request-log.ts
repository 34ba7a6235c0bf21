/**
 * One log line and one metrics observation per request, with a request id (an incoming `X-Request-Id` is
 * honoured when it looks like an id, so a trace crosses the ingress; otherwise one is made).
 */
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from '../log';

/** Where each request is counted (the server passes its Prometheus metrics). */
export interface RequestObserver {
  observeRequest(method: string, route: string, status: number, seconds: number): void;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

declare module 'express-serve-static-core' {
  interface Request {
    id?: string;
  }
}

/**
 * The route template (`/scim/v2/Users/:id`), never the raw URL: ids and filters would explode label cardinality.
 * A request answered outside Express's routing (the hot reads' fast path) names its template in `res.locals.route`.
 */
function routeOf(req: Request, res: Response): string {
  const fixed: unknown = res.locals.route;
  if (typeof fixed === 'string') return fixed;
  const route = (req as Request & { route?: { path?: unknown } }).route;
  if (route && typeof route.path === 'string') return `${req.baseUrl}${route.path}`;
  return 'unmatched';
}

/** Starts a request's log line and observation and returns its id, which the caller sends (`X-Request-Id`). */
export type RequestStarter = (req: Request, res: Response) => string;

/** The request log as middleware: the request is started and its id set as a header. */
export function requestLog(logger: Logger, metrics?: RequestObserver) {
  return requestLogWith(requestStarter(logger, metrics));
}

/** The same around a starter the app shares with the hot reads, which send the id with their answer's head. */
export function requestLogWith(start: RequestStarter) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Request-Id', start(req, res));
    next();
  };
}

/** Gives each request its id, and logs and counts it when its answer is finished. */
export function requestStarter(logger: Logger, metrics?: RequestObserver): RequestStarter {
  return (req, res) => {
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.locals.requestId = id;
    // Nothing to observe when the level is off and no metrics are kept (a benchmark, or LOG_LEVEL=warn without /metrics).
    if (!metrics && !logger.isLevelEnabled('info')) return id;
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routeOf(req, res);
      metrics?.observeRequest(req.method, route, res.statusCode, seconds);
      // The path without its query string: filters carry e-mail addresses.
      if (logger.isLevelEnabled('info')) {
        logger.info(
          { reqId: id, method: req.method, path: req.path, route, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
          'request',
        );
      }
    });
    return id;
  };
}
