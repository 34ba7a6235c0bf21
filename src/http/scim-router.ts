/**
 * The SCIM 2.0 endpoints (RFC 7644), read-only. Every route reads one snapshot, runs the query against the
 * snapshot's pre-rendered resources and sends the result; authentication is mounted in front by the app.
 *
 * The same routes serve the global view (`/scim/v2/…`) and each tenant's view (`/scim/v2/tenants/{id}/…`).
 */
import { Router, type Request, type Response } from 'express';
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
import { queryFromParameters, queryFromSearchRequest, type ListQuery } from '../scim/query/parameters';
import { listResources, listResponse, resourceWriter, searchAll } from '../scim/query/search';
import { viewOf, type View } from '../scim/render';
import { RESOURCE_TYPES, type ResourceTypeDefinition } from '../scim/schemas';
import { CrawlPins } from './crawl-pins';
import { notModified, sendScim, sendScimJson, weakETag } from './respond';

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
  readonly clock?: { now(): number };
}

const READ = 'GET, HEAD';

export function createScimRouter(options: ScimRouterOptions): Router {
  const router = Router({ caseSensitive: false, strict: false });
  const tenantRouter = Router({ caseSensitive: false, strict: false, mergeParams: true });
  const pinSeconds = options.crawlPinSeconds ?? 600;
  const pins = pinSeconds > 0 ? new CrawlPins(pinSeconds * 1000, options.clock ?? Date) : undefined;
  addRoutes(tenantRouter, options, pins);
  // Express tries routes in order: the global resources, what pollers read most, come first.
  addRoutes(router, options, pins);
  router.use('/tenants/:tenantId', tenantRouter);
  return router;
}

/** Reads the view a list page is answered from; `answered` is told how many results the list has. */
type ListViewResolver = (req: Request, query: ListQuery) => Promise<{ view: View; answered(totalResults: number): void }>;

function addRoutes(router: Router, options: ScimRouterOptions, pins: CrawlPins | undefined): void {
  const { directory, maxResults } = options;

  const tenantIdOf = (req: Request): string | undefined => (req.params as Record<string, string | undefined>).tenantId;

  /** The base URL of the view a request addresses (the tenant's when tenant-scoped). */
  const baseUrlOf = (req: Request): string => {
    const tenantId = tenantIdOf(req);
    return tenantId === undefined ? options.rootUrl(req) : `${options.rootUrl(req)}/tenants/${encodeURIComponent(tenantId)}`;
  };

  const currentSnapshot = async (): Promise<DirectorySnapshot> => {
    const snapshot = await directory.forRead();
    if (!snapshot) {
      // The real cause (refused credentials, Xero unreachable) rather than "retry": an operator reads it in the IGA tool.
      const cause = /^no directory snapshot yet: (.+)$/s.exec(directory.status().reason ?? '')?.[1];
      const detail = cause ? `The directory has not been loaded from Xero yet: ${cause.replace(/\.?$/, '.')}` : 'The directory has not been loaded from Xero yet; retry shortly.';
      throw unavailable(detail, options.retryAfterSeconds ?? 10);
    }
    return snapshot;
  };

  const viewIn = (req: Request, snapshot: DirectorySnapshot): View => {
    const tenantId = tenantIdOf(req);
    const view = viewOf(snapshot, options.rootUrl(req), tenantId);
    if (!view) throw notFound(`No connected organisation has the id "${String(tenantId).slice(0, 100)}".`);
    return view;
  };

  const viewFor = async (req: Request): Promise<View> => viewIn(req, await currentSnapshot());

  /**
   * The view a list page is answered from. Later pages of a list come from the snapshot that answered its first
   * page (see CrawlPins); `answered` pins it once a page is known to have a next one, so a lookup that fits in one
   * page (most filters) costs no pin.
   */
  const listViewFor: ListViewResolver = async (req, query) => {
    const { startIndex: _startIndex, count: _count, ...rest } = query;
    let key: string | undefined;
    const keyOf = () => (key ??= CrawlPins.key(req.headers.authorization ?? '', `${req.method} ${req.baseUrl}${req.path}`, rest));
    const pinned = pins && query.startIndex > 1 ? pins.get(keyOf()) : undefined;
    const snapshot = pinned ?? (await currentSnapshot());
    return {
      view: viewIn(req, snapshot),
      answered(totalResults) {
        const more = query.count > 0 && totalResults > query.startIndex - 1 + query.count;
        if (pins && more && !pinned) pins.set(keyOf(), snapshot);
      },
    };
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
  for (const type of RESOURCE_TYPES) addResourceRoutes(router, type, viewFor, listViewFor, maxResults);

  router
    .route('/ServiceProviderConfig')
    .get(async (req, res) => {
      sendScimJson(req, res, 200, serviceProviderConfig({ baseUrl: await discoveryBase(req), maxResults, basicAuth: options.basicAuth }));
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route('/ResourceTypes')
    .get(async (req, res) => {
      refuseFilter(req);
      const documents = resourceTypeDocuments(await discoveryBase(req));
      sendScim(req, res, 200, ...withETag(listResponse(documents.length, 1, documents.map((d) => JSON.stringify(d))).body));
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
      sendScim(req, res, 200, ...withETag(listResponse(documents.length, 1, documents.map((d) => JSON.stringify(d))).body));
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
    .post(async (req, res) => {
      const query = queryFromSearchRequest(req.body, maxResults);
      const { view, answered } = await listViewFor(req, query);
      const result = searchAll(
        RESOURCE_TYPES.map((t) => view.resources(t.id)),
        query,
      );
      answered(result.totalResults);
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
}

function withETag(body: Buffer): [Buffer, string] {
  return [body, weakETag(body)];
}

function addResourceRoutes(router: Router, type: ResourceTypeDefinition, viewFor: (req: Request) => Promise<View>, listViewFor: ListViewResolver, maxResults: number) {
  const list = async (req: Request, res: Response, query: ListQuery, conditional: boolean) => {
    const { view, answered } = await listViewFor(req, query);
    const set = view.resources(type.id);
    // A list's ETag depends only on the data and the query, so a 304 is decided before any work is done.
    const etag = conditional ? weakETag(set.version, view.baseUrl, JSON.stringify(query)) : undefined;
    if (etag !== undefined && notModified(req, res, etag)) return;
    const result = listResources(set, query);
    answered(result.totalResults);
    sendScim(req, res, 200, result.body, etag);
  };

  router
    .route(type.endpoint)
    .get((req, res) => list(req, res, queryFromParameters(req.query, maxResults), true))
    .post(() => {
      throw readOnly(READ);
    })
    .all(() => {
      throw methodNotAllowed(READ);
    });

  router
    .route(`${type.endpoint}/.search`)
    .post((req, res) => list(req, res, queryFromSearchRequest(req.body, maxResults), false))
    .all(() => {
      throw methodNotAllowed('POST');
    });

  router
    .route(`${type.endpoint}/:id`)
    .get(async (req, res) => {
      const query = queryFromParameters(req.query, maxResults);
      const view = await viewFor(req);
      const set = view.resources(type.id);
      const id = req.params.id as string;
      const position = set.positionById.get(id);
      if (position === undefined) throw notFound(`${type.name} "${id.slice(0, 100)}" not found.`);
      const item = set.items[position]!;
      sendScim(req, res, 200, resourceWriter(set, query)(item), item.etag);
    })
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
}
