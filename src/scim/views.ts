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
import { type Steps, runInSlices } from '../directory/slices';
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

/** Which indexes requests made a global view build, by resource type: what a new snapshot's view builds ahead. */
type IndexesUsed = Map<ResourceTypeName, Set<string>>;

export class ViewCache {
  /** snapshot → root URL → tenant id (`''` for the global view) → view. */
  readonly #views = new WeakMap<DirectorySnapshot, Map<string, Map<string, View>>>();
  /** root URL → the indexes lookups have needed in its global views, at most `MAX_BASES_PER_SNAPSHOT` roots. */
  readonly #indexesUsed = new Map<string, IndexesUsed>();
  /** When the newest snapshot a global view was made for was built: an older snapshot's view builds nothing ahead. */
  #newestBuiltAt = '';
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
    const byTenant = boundedEntry(byBase, rootUrl, () => new Map<string, View>());
    const key = tenant?.id ?? '';
    let view = byTenant.get(key);
    if (!view) {
      if (tenant) {
        view = createView(snapshot, `${rootUrl}/tenants/${encodeURIComponent(tenant.id)}`, tenant, this.renderCache, (type, base) => renderTenant(snapshot, tenant, type, base));
      } else {
        const used = boundedEntry(this.#indexesUsed, rootUrl, (): IndexesUsed => new Map());
        view = createView(snapshot, rootUrl, undefined, this.renderCache, (type, base) => renderGlobal(snapshot, type, base), (type, name) => {
          let names = used.get(type);
          if (!names) used.set(type, (names = new Set()));
          names.add(name);
        });
        // Only the newest snapshot's view is read by every poller: an older one's (a crawl's later page on a snapshot
        // another replica pinned, say) builds what its own lookups need, as they come.
        if (snapshot.builtAt >= this.#newestBuiltAt) {
          this.#newestBuiltAt = snapshot.builtAt;
          this.#warm(view, used);
        }
      }
      byTenant.set(key, view);
    }
    return view;
  }

  /**
   * Builds in a new global view, in slices from the next turn of the event loop on, the indexes lookups needed in the
   * views of earlier snapshots at the same root. At a million people an index takes seconds: built by the first
   * `userName eq` after each publish, it would hold every request for that long. A failure is left for the lookup
   * that needs the index to meet (and answer as an error).
   */
  #warm(view: View, used: IndexesUsed): void {
    if (used.size === 0) return;
    const wanted = [...used].map(([type, names]) => [type, [...names]] as const);
    setImmediate(() => {
      runInSlices(warmSteps(view, wanted)).catch(() => undefined);
    });
  }
}

/**
 * The entry of a root URL in `map`, made and added when missing. `map` keeps at most `MAX_BASES_PER_SNAPSHOT` roots:
 * the first added goes when another must be.
 */
function boundedEntry<V>(map: Map<string, V>, rootUrl: string, make: () => V): V {
  let entry = map.get(rootUrl);
  if (entry === undefined) {
    if (map.size >= MAX_BASES_PER_SNAPSHOT) map.delete(map.keys().next().value as string);
    map.set(rootUrl, (entry = make()));
  }
  return entry;
}

function* warmSteps(view: View, wanted: readonly (readonly [ResourceTypeName, readonly string[]])[]): Steps<void> {
  for (const [type, names] of wanted) {
    const set = view.resources(type);
    for (const name of names) yield* set.indexes.warm(name);
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
  onIndexBuilt?: (type: ResourceTypeName, name: string) => void,
): View {
  const sets = new Map<ResourceTypeName, ResourceSet>();
  return {
    baseUrl,
    tenant,
    resources(type) {
      let set = sets.get(type);
      if (!set) {
        const version = createHash('sha1').update(`${RENDER_VERSION}\n${snapshot.version}\n${type}\n${baseUrl}`).digest('base64url');
        const built = onIndexBuilt && ((name: string) => onIndexBuilt(type, name));
        sets.set(type, (set = buildSet(TYPES[type], render(type, baseUrl), version, cache, built)));
      }
      return set;
    },
  };
}
