/**
 * The per-snapshot view cache: what a request reads is a view of one snapshot (global, or one tenant's) at one base
 * URL, and a view's resource sets are built the first time a request reads them, then kept for every later request
 * on that snapshot. The cache belongs to whoever serves the snapshots (the SCIM router, one per app), not to the
 * module: two apps in one process keep their renderings apart.
 *
 * A snapshot is immutable, so everything derived from it is kept in a WeakMap keyed by the snapshot object and
 * disappears with it. The mapping to SCIM is `mapping.ts`; the set with its indexes is `resource-set.ts`.
 */
import { createHash } from 'node:crypto';
import type { DirectorySnapshot, Organisation } from '../directory/model';
import { RENDER_VERSION, renderGlobal, renderTenant, type Rendering } from './mapping';
import { RenderCache } from './render-cache';
import { buildSet, type ResourceSet } from './resource-set';
import { GROUP_TYPE, ROLE_TYPE, USER_TYPE, type ResourceTypeDefinition, type ResourceTypeName } from './schemas';

export interface View {
  /** e.g. `https://scim.example.com/scim/v2/tenants/<id>`: what `location` and `$ref` values start with. */
  readonly baseUrl: string;
  /** The tenant this view is scoped to, or undefined for the global view. */
  readonly tenant?: Organisation;
  resources(type: ResourceTypeName): ResourceSet;
}

const TYPES: Readonly<Record<ResourceTypeName, ResourceTypeDefinition>> = { User: USER_TYPE, Group: GROUP_TYPE, Role: ROLE_TYPE };

/**
 * At most this many base URLs are cached per snapshot: the base comes from the Host header unless a public URL
 * is configured, and a client must not be able to make the server keep one rendering per invented host.
 */
const MAX_BASES_PER_SNAPSHOT = 4;

export class ViewCache {
  /** snapshot → root URL → tenant id (`''` for the global view) → view. */
  readonly #views = new WeakMap<DirectorySnapshot, Map<string, Map<string, View>>>();
  /** The serialised resources of every view, within one budget. */
  readonly renderCache: RenderCache;

  constructor(renderCacheBytes?: number) {
    this.renderCache = new RenderCache(renderCacheBytes);
  }

  /**
   * The global view (`tenantId` undefined) or one tenant's view of a snapshot; undefined for an unknown tenant.
   * `rootUrl` is the SCIM base, e.g. `https://host/scim/v2`.
   */
  viewOf(snapshot: DirectorySnapshot, rootUrl: string, tenantId?: string): View | undefined {
    let tenant: Organisation | undefined;
    if (tenantId !== undefined) {
      tenant = snapshot.organisationById.get(tenantId) ?? findTenantIgnoringCase(snapshot, tenantId);
      if (!tenant) return undefined;
    }
    let byBase = this.#views.get(snapshot);
    if (!byBase) this.#views.set(snapshot, (byBase = new Map()));
    let byTenant = byBase.get(rootUrl);
    if (!byTenant) {
      if (byBase.size >= MAX_BASES_PER_SNAPSHOT) byBase.delete(byBase.keys().next().value as string);
      byBase.set(rootUrl, (byTenant = new Map()));
    }
    const key = tenant?.id ?? '';
    let view = byTenant.get(key);
    if (!view) {
      view = tenant
        ? createView(snapshot, `${rootUrl}/tenants/${encodeURIComponent(tenant.id)}`, tenant, this.renderCache, (type, base) => renderTenant(snapshot, tenant, type, base))
        : createView(snapshot, rootUrl, undefined, this.renderCache, (type, base) => renderGlobal(snapshot, type, base));
      byTenant.set(key, view);
    }
    return view;
  }
}

function findTenantIgnoringCase(snapshot: DirectorySnapshot, tenantId: string): Organisation | undefined {
  const lower = tenantId.toLowerCase();
  return snapshot.organisations.find((o) => o.id.toLowerCase() === lower);
}

function createView(
  snapshot: DirectorySnapshot,
  baseUrl: string,
  tenant: Organisation | undefined,
  cache: RenderCache,
  render: (type: ResourceTypeName, baseUrl: string) => Rendering,
): View {
  const sets = new Map<ResourceTypeName, ResourceSet>();
  return {
    baseUrl,
    tenant,
    resources(type) {
      let set = sets.get(type);
      if (!set) {
        const version = createHash('sha1').update(`${RENDER_VERSION}\n${snapshot.version}\n${type}\n${baseUrl}`).digest('base64url');
        sets.set(type, (set = buildSet(TYPES[type], render(type, baseUrl), version, cache)));
      }
      return set;
    },
  };
}
