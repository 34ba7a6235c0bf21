/**
 * The fast path of the hottest requests: `GET`/`HEAD` of `/scim/v2/{Users|Groups|Roles}` (lists, pages, `userName eq`
 * lookups) and `/scim/v2/{Users|Groups|Roles}/{id}` in the global view. They are answered from the app's first
 * router layer, right after the security headers and the request log, instead of passing the operator routes, the
 * OpenAPI route, the `/scim/v2` mount and the SCIM router's route matching (BENCHMARKS.md, "The hot reads' fast
 * path").
 *
 * It runs the same parts as the routes it stands for: the same failed-auth throttle and bearer check (one instance,
 * so both paths count failures in the same buckets), the same read handlers (`ScimApi.reads`), and errors go to the
 * app's one error handler. What it adds is only a match on the request line; anything it does not recognise exactly
 * (another method, case or trailing slash, a tenant's view, `.search`, a path Express would refuse to decode or would
 * read with Node's legacy URL parser, as it does one with a `#`) passes on to Express untouched, which answers it as
 * before.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { RequestStarter } from './request-log';
import { expressReparses } from './lookups';
import { deferHead } from './respond';
import type { ResourceReads } from './scim-router';

/** A request this path answers: which read, the route template it is counted under, and the decoded id. */
interface HotRead {
  readonly read: (req: Request, res: Response) => Promise<void>;
  readonly route: string;
  readonly id?: string;
}

/** A route's reads and templates, precomputed per endpoint. */
interface Endpoint {
  readonly reads: ResourceReads;
  readonly listRoute: string;
  readonly byIdRoute: string;
}

/**
 * The fast path as middleware for the app's first layer, in front of the security headers and the request log.
 * `basePath` is where the SCIM router is mounted; `auth` is the middleware mounted in front of it (throttle and
 * bearer check); `reads` are its global resource reads by endpoint name; `start` is the request log's starter. A
 * request it takes is started in the log and its security headers and id are sent with its answer's head
 * (`deferHead`); a request it does not take goes to `next()` with nothing of it changed.
 */
export function hotReads(basePath: string, auth: RequestHandler, reads: ReadonlyMap<string, ResourceReads>, start: RequestStarter): RequestHandler {
  const prefix = `${basePath}/`;
  const endpoints = new Map<string, Endpoint>();
  for (const [name, endpointReads] of reads) {
    endpoints.set(name, { reads: endpointReads, listRoute: `${basePath}/${name}`, byIdRoute: `${basePath}/${name}/:id` });
  }

  const match = (req: Request): HotRead | undefined => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
    const url = req.url;
    if (!url.startsWith(prefix) || expressReparses(url)) return undefined;
    const question = url.indexOf('?');
    const path = url.slice(prefix.length, question < 0 ? url.length : question);
    const slash = path.indexOf('/');
    const endpoint = endpoints.get(slash < 0 ? path : path.slice(0, slash));
    if (!endpoint) return undefined;
    if (slash < 0) return { read: endpoint.reads.list, route: endpoint.listRoute };
    const id = idOf(path.slice(slash + 1));
    return id === undefined ? undefined : { read: endpoint.reads.byId, route: endpoint.byIdRoute, id };
  };

  return (req: Request, res: Response, next: NextFunction): void => {
    const hot = match(req);
    if (!hot) return next();
    deferHead(res, start(req, res));
    auth(req, res, (err?: unknown) => {
      // A refusal (401, or 429 from the throttle) is answered by the error handler, as behind the mount.
      if (err !== undefined && err !== null) return next(err);
      // What Express's routing would have set: the route the request log counts it under, and the id parameter.
      res.locals.route = hot.route;
      if (hot.id !== undefined) req.params = { id: hot.id };
      hot.read(req, res).catch(next);
    });
  };
}

/**
 * The id of `/{endpoint}/{segment}` as Express's `:id` gives it (percent-decoded), or undefined where the fast path
 * must leave the request to Express: an empty or nested segment, the `.search` route (matched whatever its case),
 * or a segment Express would answer 400 for (bad percent-encoding).
 */
function idOf(segment: string): string | undefined {
  if (segment === '' || segment.includes('/') || segment.toLowerCase() === '.search') return undefined;
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}
