/**
 * The SCIM 2.0 endpoints (RFC 7644), read-only. Every route reads one snapshot, runs the query against the
 * snapshot's pre-rendered resources and sends the result; authentication is mounted in front by the app.
 *
 * The same routes serve the global view (`/scim/v2/…`) and each tenant's view (`/scim/v2/tenants/{id}/…`).
 * The global view's resource reads are also handed out as plain handlers (`ScimApi.reads`), so the app's fast path
 * for the hottest requests (src/http/fast-reads.ts) runs exactly the code these routes run.
 */
import { randomBytes } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Directory, DirectorySnapshot } from '../directory/model';
import {
  findResourceType,
  findSchemaDefinition,
  resourceTypeDocument,
  resourceTypeDocuments,
  schemaDocument,
  schemaDocuments,
  serviceProviderConfig,
} from '../scim/discovery';
import { forbidden, methodNotAllowed, notFound, readOnly, unavailable, unsupported } from '../scim/errors';
import { CompleteLists } from '../scim/query/complete-lists';
import { queryFromParameters, queryFromSearchRequest, type ListQuery } from '../scim/query/parameters';
import { listResources, listResponse, oneResourceList, resourceWriter, searchAll, type PageLocation } from '../scim/query/search';
import { ViewCache, type View } from '../scim/views';
import { RESOURCE_TYPES, type ResourceTypeDefinition } from '../scim/schemas';
import type { Logger } from '../log';
import { lookupEq } from '../scim/query/plan';
import { CrawlPins, type SharedCrawlPins } from './crawl-pins';
import { ListPages } from './list-pages';
import { userNameLookup } from './lookups';
import { lookupETag, notModified, sendScim, sendScimJson, weakETag } from './respond';

export interface ScimRouterOptions {
  readonly directory: Directory;
  /** Largest page (RFC 7644 §3.4.2.4 `count` is clamped to it); advertised as `filter.maxResults`. */
  readonly maxResults: number;
  /** Whether HTTP Basic is accepted (advertised in ServiceProviderConfig). */
  readonly basicAuth: boolean;
  /** The SCIM base URL for a request, e.g. `https://host/scim/v2` (for `meta.location` and `$ref`). */
  readonly rootUrl: (req: Request) => string;
  /** `Retry-After` seconds when no snapshot is loaded yet. */
  readonly retryAfterSeconds?: number;
  /** How long a crawl keeps its first page's snapshot between pages (see `CrawlPins`); default 600 s, 0 = never. */
  readonly crawlPinSeconds?: number;
  /** RFC 9865 `cursorTimeout`: how long a cursor stays valid after the page that issued it; default 600 s. */
  readonly cursorTimeoutSeconds?: number;
  /**
   * What cursors are signed with (see `CursorCodec`): replicas given the same secret verify each other's cursors.
   * Default: a random secret of this router's own (its cursors then verify only here).
   */
  readonly cursorSecret?: string | Buffer;
  /** Largest request body; a SearchRequest is small. */
  readonly bodyLimit?: string;
  readonly clock?: { now(): number };
  /** The snapshots' rendered views; default: a cache of this router's own. Pass one to render ahead of requests. */
  readonly views?: ViewCache;
  /** Bytes of serialised resources its own view cache keeps (ignored when `views` is given). */
  readonly renderCacheBytes?: number;
  /** Index crawls' pins shared with the other replicas (see `ListPages`); default: this router's own only. */
  readonly sharedPins?: SharedCrawlPins;
  /** Where failures of the shared pin store are reported. */
  readonly logger?: Logger;
}

/** What a router keeps between requests: the views of the snapshots it serves, and the complete lists it sent. */
interface Caches {
  readonly views: ViewCache;
  readonly completeLists: CompleteLists;
}

const READ = 'GET, HEAD';

const DEFAULT_CURSOR_TIMEOUT_SECONDS = 600;

/** The two reads of one resource type in the global view, as its routes run them. */
export interface ResourceReads {
  /** `GET /{endpoint}`: a list, page or filter, from `req.query`. */
  readonly list: (req: Request, res: Response) => Promise<void>;
  /** `GET /{endpoint}/{id}`, the id in `req.params.id`. */
  readonly byId: (req: Request, res: Response) => Promise<void>;
}

/**
 * A request's view: at once when the snapshot is at hand (most reads, which then answer within the call), else
 * awaited. Their errors are the same: a tenant that does not exist, a directory with nothing to serve (503).
 */
interface ViewOf {
  now(req: Request): View | undefined;
  wait(req: Request): Promise<View>;
}

export interface ScimApi {
  readonly router: Router;
  /** The global view's reads by endpoint name, exactly as spelt in the routes (`Users`, `Groups`, `Roles`). */
  readonly reads: ReadonlyMap<string, ResourceReads>;
}

export function createScimRouter(options: ScimRouterOptions): Router {
  return createScimApi(options).router;
}

/** The SCIM router, and the global view's resource reads it routes to. */
export function createScimApi(options: ScimRouterOptions): ScimApi {
  const router = Router({ caseSensitive: false, strict: false });
  const tenantRouter = Router({ caseSensitive: false, strict: false, mergeParams: true });
  const pages = new ListPages({
    current: () => currentSnapshot(options),
    crawlPinMs: (options.crawlPinSeconds ?? 600) * 1000,
    cursorTimeoutMs: (options.cursorTimeoutSeconds ?? DEFAULT_CURSOR_TIMEOUT_SECONDS) * 1000,
    cursorSecret: options.cursorSecret ?? randomBytes(32),
    clock: options.clock ?? Date,
    held: (version) => servable(options.directory.snapshot?.(version)),
    ...(options.sharedPins ? { sharedPins: options.sharedPins } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const caches: Caches = { views: options.views ?? new ViewCache(options.renderCacheBytes), completeLists: new CompleteLists() };
  addRoutes(tenantRouter, options, pages, caches);
  // Express tries routes in order: the global resources, what pollers read most, come first.
  const reads = addRoutes(router, options, pages, caches);
  router.use('/tenants/:tenantId', tenantRouter);
  return { router, reads };
}

/** A held snapshot a later page may be read from: one with an organisation, as every page ever served was. */
function servable(snapshot: DirectorySnapshot | undefined): DirectorySnapshot | undefined {
  return snapshot && snapshot.organisations.length > 0 ? snapshot : undefined;
}

async function currentSnapshot(options: ScimRouterOptions): Promise<DirectorySnapshot> {
  const snapshot = await options.directory.forRead();
  // No snapshot, or one with no organisation (which an IGA tool would read as everyone's access revoked): 503 with
  // the real cause (refused credentials, Xero unreachable, nothing connected), which an operator reads in the tool.
  if (!snapshot || snapshot.organisations.length === 0) {
    const cause = options.directory.status().cause;
    const what = snapshot ? 'The directory holds no organisation' : 'The directory has not been loaded from Xero yet';
    const detail = cause ? `${what}: ${cause.code}: ${cause.message.replace(/\.?$/, '.')}` : `${what}; retry shortly.`;
    throw unavailable(detail, options.retryAfterSeconds ?? 10);
  }
  return snapshot;
}

/**
 * The view and position a list page is answered from; `list` names the resource type listed (`*` for all).
 * `stored` is awaited before the page is sent (see `ListPage.stored`).
 */
type ListPageResolver = (req: Request, query: ListQuery, list: string) => Promise<{ view: View; page: PageLocation; stored: () => Promise<void> }>;

/**
 * The JSON body parser, run only where a body is read (`.search`): elsewhere the method and the route decide the
 * answer, whatever the body (Okta's spec test POSTs `test` to discovery endpoints and expects 405).
 */
function searchBody(limit: string | undefined) {
  return express.json({ limit: limit ?? '64kb', type: ['application/json', 'application/scim+json', 'application/*+json'] });
}

/** Adds every SCIM route to `router`; returns the resource reads, by endpoint name. */
function addRoutes(router: Router, options: ScimRouterOptions, pages: ListPages, { views, completeLists }: Caches): Map<string, ResourceReads> {
  const { maxResults } = options;
  const jsonBody = searchBody(options.bodyLimit);

  const tenantIdOf = (req: Request): string | undefined => (req.params as Record<string, string | undefined>).tenantId;

  /** The base URL of the view a request addresses (the tenant's when tenant-scoped). */
  const baseUrlOf = (req: Request): string => {
    const tenantId = tenantIdOf(req);
    return tenantId === undefined ? options.rootUrl(req) : `${options.rootUrl(req)}/tenants/${encodeURIComponent(tenantId)}`;
  };

  const viewIn = (req: Request, snapshot: DirectorySnapshot): View => {
    const tenantId = tenantIdOf(req);
    const view = views.viewOf(snapshot, options.rootUrl(req), tenantId);
    if (!view) throw notFound(`No connected organisation has the id "${String(tenantId).slice(0, 100)}".`);
    return view;
  };

  const viewFor = async (req: Request): Promise<View> => viewIn(req, await currentSnapshot(options));

  /**
   * The same view at once, when the directory has the snapshot without waiting (`Directory.readNow`); else undefined,
   * and the read awaits `viewFor`, which answers the 503 of a directory with nothing to serve.
   */
  const viewNow = (req: Request): View | undefined => {
    const snapshot = servable(options.directory.readNow?.());
    return snapshot && viewIn(req, snapshot);
  };

  /** The view and position of a list page, by index (the default) or by cursor (RFC 9865). */
  const listPageFor: ListPageResolver = async (req, query, list) => {
    const { snapshot, page, stored } =
      query.cursor === undefined
        ? await pages.byIndex(query, () => {
            const { startIndex: _startIndex, ...crawl } = query;
            return CrawlPins.key(req.headers.authorization ?? '', `${req.method} ${req.baseUrl}${req.path}`, crawl);
          })
        : await pages.byCursor(query, query.cursor, `${tenantIdOf(req) ?? ''}/${list}`);
    return { view: viewIn(req, snapshot), page, stored };
  };

  /** Discovery is the same everywhere, but a tenant-scoped URL must name a tenant that exists. */
  const discoveryBase = async (req: Request): Promise<string> => {
    if (tenantIdOf(req) !== undefined) return (await viewFor(req)).baseUrl;
    return baseUrlOf(req);
  };

  /** RFC 7644 §4: discovery endpoints do not filter; a filter gets 403 so no one assumes it was applied. */
  const refuseFilter = (req: Request) => {
    if (Object.keys(req.query).some((k) => k.toLowerCase() === 'filter')) {
      throw forbidden('Discovery endpoints do not support filtering (RFC 7644 §4).');
    }
  };

  // Resources first: they are what pollers read most, and no other route's path overlaps theirs.
  const reads = new Map<string, ResourceReads>();
  for (const type of RESOURCE_TYPES) {
    reads.set(type.endpoint.slice(1), addResourceRoutes(router, type, { now: viewNow, wait: viewFor }, listPageFor, jsonBody, maxResults, completeLists));
  }

  router
    .route('/ServiceProviderConfig')
    .get(async (req, res) => {
      sendScimJson(
        req,
        res,
        200,
        serviceProviderConfig({ baseUrl: await discoveryBase(req), maxResults, basicAuth: options.basicAuth, cursorTimeoutSeconds: pages.cursorTimeoutSeconds }),
      );
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route('/ResourceTypes')
    .get(async (req, res) => {
      refuseFilter(req);
      const documents = resourceTypeDocuments(await discoveryBase(req));
      sendScim(req, res, 200, ...withETag(listResponse(documents.length, { startIndex: 1 }, documents.map((d) => JSON.stringify(d))).body));
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route('/ResourceTypes/:id')
    .get(async (req, res) => {
      const type = findResourceType(req.params.id as string);
      if (!type) throw notFound(`No resource type "${String(req.params.id).slice(0, 100)}"; this server has User, Group and Role.`);
      sendScimJson(req, res, 200, resourceTypeDocument(type, await discoveryBase(req)));
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route('/Schemas')
    .get(async (req, res) => {
      refuseFilter(req);
      const documents = schemaDocuments(await discoveryBase(req));
      sendScim(req, res, 200, ...withETag(listResponse(documents.length, { startIndex: 1 }, documents.map((d) => JSON.stringify(d))).body));
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route('/Schemas/:id')
    .get(async (req, res) => {
      const schema = findSchemaDefinition(req.params.id as string);
      if (!schema) throw notFound(`No schema "${String(req.params.id).slice(0, 200)}".`);
      sendScimJson(req, res, 200, schemaDocument(schema, await discoveryBase(req)));
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  // RFC 7644 §3.4.3: a search at the root covers every resource type.
  router
    .route('/.search')
    .post(jsonBody, async (req, res) => {
      const query = queryFromSearchRequest(req.body, maxResults);
      const { view, page, stored } = await listPageFor(req, query, '*');
      const result = searchAll(
        RESOURCE_TYPES.map((t) => view.resources(t.id)),
        query,
        page,
      );
      await stored();
      sendScim(req, res, 200, result.body);
    })
    .all(() => {
      throw methodNotAllowed('POST');
    });

  // RFC 7644 §3.7 (bulk) and §3.11 (/Me): unsupported operations are 501.
  router.all('/Bulk', () => {
    throw unsupported('Bulk operations are not supported: this SCIM server is read-only (RFC 7644 §3.7).');
  });
  router.all('/Me', () => {
    throw unsupported('/Me is not supported: clients authenticate with a shared token, not as a user (RFC 7644 §3.11).');
  });
  return reads;
}

function withETag(body: Buffer): [Buffer, string] {
  return [body, weakETag(body)];
}

const FIRST_PAGE = { startIndex: 1 } as const;

/** The answer of a lookup that finds no one, which is the same in every view and snapshot. */
const NO_MATCH = (() => {
  const { body } = listResponse(0, FIRST_PAGE, []);
  return { body, etag: weakETag(body) };
})();

function addResourceRoutes(
  router: Router,
  type: ResourceTypeDefinition,
  viewOf: ViewOf,
  listPageFor: ListPageResolver,
  jsonBody: RequestHandler,
  maxResults: number,
  completeLists: CompleteLists,
): ResourceReads {
  const list = async (req: Request, res: Response, query: ListQuery, conditional: boolean) => {
    const { view, page, stored } = await listPageFor(req, query, type.id);
    const set = view.resources(type.id);
    // A list's ETag depends only on the data and the query (a cursor included), so a 304 is decided before any work.
    const queryText = JSON.stringify(query);
    const etag = conditional ? weakETag(set.version, view.baseUrl, queryText) : undefined;
    if (etag !== undefined && notModified(req, res, etag)) return;
    const { body } = listResources(set, query, page, completeLists, queryText);
    await stored();
    sendScim(req, res, 200, body, etag);
  };

  /** `GET /Users?filter=userName eq "…"` (`lookups.ts`): the same answer as `list`'s, from the userName index alone. */
  const lookUp = async (req: Request, res: Response, userName: string) => {
    const view = viewOf.now(req) ?? (await viewOf.wait(req));
    const set = view.resources(type.id);
    const positions = lookupEq(set, 'userName', userName);
    // Several people under one userName (which merging by e-mail rules out), or pages of none, make a list like any other.
    if (positions === undefined || positions.length > 1 || maxResults < 1) return list(req, res, queryFromParameters(req.query, maxResults), true);
    const item = positions.length === 1 ? set.item(positions[0]!) : undefined;
    const etag = item ? lookupETag(item.etag) : NO_MATCH.etag;
    if (notModified(req, res, etag)) return;
    sendScim(req, res, 200, item ? oneResourceList(item.bytes) : NO_MATCH.body, etag);
  };

  const reads: ResourceReads = {
    list: (req, res) => {
      const userName = type.id === 'User' ? userNameLookup(req.url) : undefined;
      return userName === undefined ? list(req, res, queryFromParameters(req.query, maxResults), true) : lookUp(req, res, userName);
    },
    byId: async (req, res) => {
      // Most reads by id have no query string: then there is nothing to parse, and the resource goes as serialised.
      const query = req.url.includes('?') ? queryFromParameters(req.query, maxResults) : undefined;
      const view = viewOf.now(req) ?? (await viewOf.wait(req));
      const set = view.resources(type.id);
      const id = req.params.id as string;
      const position = set.positionById.get(id);
      if (position === undefined) throw notFound(`${type.name} "${id.slice(0, 100)}" not found.`);
      const item = set.item(position);
      sendScim(req, res, 200, query ? resourceWriter(set, query)(item) : item.bytes, item.etag);
    },
  };

  router
    .route(type.endpoint)
    .get(reads.list)
    .post(() => {
      throw readOnly(READ);
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route(`${type.endpoint}/.search`)
    .post(jsonBody, (req, res) => list(req, res, queryFromSearchRequest(req.body, maxResults), false))
    .all(() => {
      throw methodNotAllowed('POST');
    });

  router
    .route(`${type.endpoint}/:id`)
    .get(reads.byId)
    .put(() => {
      throw readOnly(READ);
    })
    .patch(() => {
      throw readOnly(READ);
    })
    .delete(() => {
      throw readOnly(READ);
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });
  return reads;
}
