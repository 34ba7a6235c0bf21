/**
 * The fast path of the hottest requests: `GET`/`HEAD` of `/scim/v2/{Users|Groups|Roles}` (lists, pages, `userName eq`
 * lookups) and `/scim/v2/{Users|Groups|Roles}/{id}` in the global view. They are answered as the app receives them,
 * before Express dispatches them, instead of passing Express's final handler, its router loop, the operator routes,
 * the OpenAPI route, the `/scim/v2` mount and the SCIM router's route matching (BENCHMARKS.md, "The hot reads' fast
 * path").
 *
 * It runs the same parts as the routes it stands for: the same failed-auth throttle and bearer check (one instance,
 * so both paths count failures in the same buckets), the same read handlers (`ScimApi.reads`), and errors go to the
 * app's one error handler. Its requests get what Express would give them first (the app's request and response
 * prototypes, `res.locals`, the router's `params`, `baseUrl` and `originalUrl`). What it adds is only a match on the
 * request line; anything it does not recognise exactly (another method, case or trailing slash, a tenant's view,
 * `.search`, a path Express would refuse to decode or would read with Node's legacy URL parser, as it does one with
 * a `#`) is dispatched by Express untouched, which answers it as before.
 */
import type { ErrorRequestHandler, Express, NextFunction, Request, RequestHandler, Response } from 'express';
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

/** What the fast path runs: where the SCIM router is mounted, and the parts of the routes it stands for. */
export interface HotReadParts {
  /** Where the SCIM router is mounted (`/scim/v2`). */
  readonly basePath: string;
  /** The middleware mounted in front of the SCIM router: the throttle and bearer check. */
  readonly auth: RequestHandler;
  /** The SCIM router's global resource reads, by endpoint name. */
  readonly reads: ReadonlyMap<string, ResourceReads>;
  /** The request log's starter: a request the fast path takes is started in it, and its id sent with the head. */
  readonly start: RequestStarter;
  /** The app's error handler: refusals (401, or 429 from the throttle) and errors are answered by it. */
  readonly errors: ErrorRequestHandler;
}

/** The parts of an Express app the fast path uses that its type declarations leave out. */
interface Dispatching {
  handle(req: Request, res: Response, callback?: NextFunction): void;
}

/**
 * Answers the hot reads `app` receives before Express dispatches them; every other request is dispatched as before.
 * Call it once the app is complete. An app mounted in another (called with a callback) dispatches everything.
 */
export function answerHotReadsFirst(app: Express, parts: HotReadParts): void {
  const match = matcher(parts.basePath, parts.reads);
  const { auth, start, errors } = parts;
  const dispatching = app as unknown as Dispatching;
  const dispatch = dispatching.handle;
  dispatching.handle = function handle(this: Dispatching, req: Request, res: Response, callback?: NextFunction): void {
    const hot = callback === undefined ? match(req) : undefined;
    if (!hot) return dispatch.call(this, req, res, callback);
    // What `app.handle` and the router's loop would have given the request before its first layer.
    req.res = res;
    res.req = req;
    // On the product's listener they have them already (`express-server.ts`): a swap costs microseconds.
    if (Object.getPrototypeOf(req) !== app.request) Object.setPrototypeOf(req, app.request);
    if (Object.getPrototypeOf(res) !== app.response) Object.setPrototypeOf(res, app.response);
    res.locals = Object.create(null) as Response['locals'];
    req.originalUrl = req.url;
    req.baseUrl = '';
    req.params = {};
    // An error thrown by a handler, as Express's layers catch it; an error once the answer has begun closes the
    // connection, as Express's final handler does.
    const fail = (err: unknown): void => {
      void errors(err, req, res, () => req.socket.destroy());
    };
    try {
      deferHead(res, start(req, res));
      auth(req, res, (err?: unknown) => {
        // A refusal is answered before any route is matched, as behind the mount.
        if (err !== undefined && err !== null) return fail(err);
        // What the route's match would have set: the template the request log counts it under, and the id.
        res.locals.route = hot.route;
        if (hot.id !== undefined) req.params = { id: hot.id };
        hot.read(req, res).catch(fail);
      });
    } catch (err) {
      fail(err);
    }
  };
}

/** The hot read a request is, from its method and URL, or undefined. */
function matcher(basePath: string, reads: ReadonlyMap<string, ResourceReads>): (req: Request) => HotRead | undefined {
  const prefix = `${basePath}/`;
  const endpoints = new Map<string, Endpoint>();
  for (const [name, endpointReads] of reads) {
    endpoints.set(name, { reads: endpointReads, listRoute: `${basePath}/${name}`, byIdRoute: `${basePath}/${name}/:id` });
  }
  return (req) => {
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
