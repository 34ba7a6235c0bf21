/**
 * Renders a directory snapshot as SCIM resources, per snapshot (and base URL), and keeps what is worth keeping:
 * the lookup indexes the query planner uses, and each resource's serialised JSON and weak ETag (computed the first
 * time the resource is sent, then reused by every later request). Resource objects themselves are rendered from
 * the snapshot whenever a filter, a sort or an attribute selection reads them, and dropped: at 100,000 people,
 * keeping them cost more memory than the snapshot and the serialised text together, and the garbage collector's
 * time with them.
 *
 * A snapshot is immutable, so everything derived from it is cached in a WeakMap keyed by the snapshot object and
 * disappears with it. Resource sets are built lazily, per resource type and per view (global or one tenant).
 */
import { createHash } from 'node:crypto';
import { normaliseEmail, roleId } from '../directory/ids';
import {
  type DirectorySnapshot,
  type Membership,
  type Organisation,
  type Person,
  type Role,
  type RoleCode,
  type XeroUserRecord,
  ROLE_NAMES,
  isRoleCode,
} from '../directory/model';
import { equalityKey } from './filter';
import { resolvePath, valuesAt, type ResolvedPath } from './paths';
import type { AttributeDefinition } from './attributes';
import {
  GROUP_SCHEMA_ID,
  GROUP_TYPE,
  ROLE_SCHEMA_ID,
  ROLE_TYPE,
  type ResourceTypeDefinition,
  type ResourceTypeName,
  USER_SCHEMA_ID,
  USER_TYPE,
  XERO_ORGANISATION_SCHEMA_ID,
  XERO_ROLE_SCHEMA_ID,
  XERO_USER_SCHEMA_ID,
} from './schemas';

/** Bumped when the rendering changes, so ETags of unchanged data change with it. */
const RENDER_VERSION = '2';

export type ScimResource = Readonly<Record<string, unknown>>;

export interface RenderedResource {
  readonly id: string;
  /**
   * The resource without `meta.version` (every attribute `returned` by default), rendered afresh from the snapshot
   * on every read and not kept: filters, sorting and indexes read it once per resource, and a directory of 100,000
   * people would otherwise hold millions of small objects that every garbage collection has to walk.
   */
  readonly data: ScimResource;
  /** The full resource, `meta.version` included (serialises it on first use). */
  readonly resource: ScimResource;
  /**
   * The serialised resource as UTF-8, computed on first use and kept. Kept as bytes, not a string: it is what a
   * socket is written, with no encoding per request, and it lives outside the JavaScript heap (a string with one
   * non-Latin-1 character, a Greek or Chinese name, would take two bytes a character there).
   */
  readonly bytes: Buffer;
  /** Weak ETag derived from the content, equal to `meta.version` (RFC 7644 §3.14). */
  readonly etag: string;
  /** Group only: the serialised resource without `members`, so `excludedAttributes=members` costs nothing. */
  readonly bytesWithoutMembers?: Buffer;
}

/** Renders one source record (a person, an organisation, a role, a Xero user record) as a SCIM resource. */
type Renderer<S> = (source: S) => Record<string, unknown>;

/** What a view renders for one resource type: its sources in the default order, and how to render each. */
interface Rendering<S = unknown> {
  readonly sources: readonly S[];
  readonly render: Renderer<S>;
}

const rendering = <S>(sources: readonly S[], render: Renderer<S>): Rendering => ({ sources, render: render as Renderer<unknown> });

/**
 * A resource kept as its source record and, once it has been sent, its serialised text: serialisation and hashing
 * are the expensive part of rendering, and most resources of a large directory are only ever filtered or counted,
 * so each resource is serialised the first time it is sent, then reused.
 */
class CompactResource implements RenderedResource {
  #bytes: Buffer | undefined;
  #etag: string | undefined;
  #withoutMembers: Buffer | undefined;

  constructor(
    readonly id: string,
    private readonly source: unknown,
    private readonly render: Renderer<unknown>,
    private readonly group: boolean,
  ) {}

  get data(): ScimResource {
    return this.render(this.source);
  }

  private serialise(): void {
    if (this.#bytes !== undefined) return;
    const data = this.render(this.source);
    // Made flat: a template literal is a rope of three strings, kept for the life of the snapshot.
    const etag = flatAscii(`W/"${createHash('sha1').update(RENDER_VERSION).update(JSON.stringify(data)).digest('base64url')}"`);
    (data.meta as Record<string, unknown>).version = etag;
    this.#etag = etag;
    this.#bytes = Buffer.from(JSON.stringify(data), 'utf8');
  }

  get resource(): ScimResource {
    const data = this.render(this.source);
    (data.meta as Record<string, unknown>).version = this.etag;
    return data;
  }

  get bytes(): Buffer {
    this.serialise();
    return this.#bytes as Buffer;
  }

  get etag(): string {
    this.serialise();
    return this.#etag as string;
  }

  get bytesWithoutMembers(): Buffer | undefined {
    if (!this.group) return undefined;
    if (this.#withoutMembers === undefined) {
      const { members: _members, ...rest } = this.resource;
      this.#withoutMembers = Buffer.from(JSON.stringify(rest), 'utf8');
    }
    return this.#withoutMembers;
  }
}

/**
 * The key a value is indexed under: a string folded as the filter folds it (`equalityKey`), a boolean as `true` or
 * `false` (so `active eq true`, in every Entra delta filter, is answered from an index too); undefined when the value
 * is not of the attribute's type.
 */
export function indexKey(leaf: AttributeDefinition, value: unknown): string | undefined {
  if (leaf.type === 'boolean') return typeof value === 'boolean' ? String(value) : undefined;
  return typeof value === 'string' ? equalityKey(leaf, value) : undefined;
}

/** The same ASCII text as one flat string. */
const flatAscii = (text: string): string => Buffer.from(text, 'latin1').toString('latin1');

/** The resources of an index key: one position, or several ascending. */
export type IndexEntry = number | readonly number[];

/** An index entry as positions. */
export const positionsOf = (entry: IndexEntry | undefined): readonly number[] =>
  entry === undefined ? [] : typeof entry === 'number' ? [entry] : entry;

/** One resource type's resources in one view, in the default order (by `id`), with lookup indexes. */
export interface ResourceSet {
  readonly type: ResourceTypeDefinition;
  readonly items: readonly RenderedResource[];
  readonly positionById: ReadonlyMap<string, number>;
  /**
   * Exact-match indexes: canonical lower-case path (`username`, `emails.value`, `members.value`, `active`) → index
   * key (`indexKey`: a string folded exactly as the filter compares it, a boolean as `true`/`false`) → the position in
   * `items`, or positions ascending when several resources share the key. (A one-element array per key was a
   * million small objects at 100,000 people for the garbage collector to walk.)
   */
  readonly indexes: ReadonlyMap<string, ReadonlyMap<string, IndexEntry>>;
  /**
   * Changes whenever any resource may have changed: derived from the snapshot's content hash, the rendering
   * version, the view and the base URL (every resource is a function of these).
   */
  readonly version: string;
  /** Per-set memo for derived data (sort orderings); keys are owned by the code that stores them. */
  readonly memo: Map<string, unknown>;
}

export interface View {
  /** e.g. `https://scim.example.com/scim/v2/tenants/<id>`: what `location` and `$ref` values start with. */
  readonly baseUrl: string;
  /** The tenant this view is scoped to, or undefined for the global view. */
  readonly tenant?: Organisation;
  resources(type: ResourceTypeName): ResourceSet;
}

/** Which attributes each type indexes for `eq` lookups (RFC 7644 §3.4.2.2), by canonical path. */
const INDEXED_PATHS: Readonly<Record<ResourceTypeName, readonly string[]>> = {
  User: ['id', 'externalId', 'userName', 'emails.value', 'displayName', 'active'],
  Group: ['id', 'externalId', 'displayName', 'members.value'],
  Role: ['id', 'externalId', 'displayName'],
};

const TYPES: Readonly<Record<ResourceTypeName, ResourceTypeDefinition>> = { User: USER_TYPE, Group: GROUP_TYPE, Role: ROLE_TYPE };

/**
 * At most this many base URLs are cached per snapshot: the base comes from the Host header unless a public URL
 * is configured, and a client must not be able to make the server keep one rendering per invented host.
 */
const MAX_BASES_PER_SNAPSHOT = 4;
/** snapshot → root URL → tenant id (`''` for the global view) → view. */
const views = new WeakMap<DirectorySnapshot, Map<string, Map<string, View>>>();

/**
 * The global view (`tenantId` undefined) or one tenant's view of a snapshot; undefined for an unknown tenant.
 * `rootUrl` is the SCIM base, e.g. `https://host/scim/v2`.
 */
export function viewOf(snapshot: DirectorySnapshot, rootUrl: string, tenantId?: string): View | undefined {
  let tenant: Organisation | undefined;
  if (tenantId !== undefined) {
    tenant = snapshot.organisationById.get(tenantId) ?? findTenantIgnoringCase(snapshot, tenantId);
    if (!tenant) return undefined;
  }
  let byBase = views.get(snapshot);
  if (!byBase) views.set(snapshot, (byBase = new Map()));
  let byTenant = byBase.get(rootUrl);
  if (!byTenant) {
    if (byBase.size >= MAX_BASES_PER_SNAPSHOT) byBase.delete(byBase.keys().next().value as string);
    byBase.set(rootUrl, (byTenant = new Map()));
  }
  const key = tenant?.id ?? '';
  let view = byTenant.get(key);
  if (!view) {
    view = tenant
      ? createView(snapshot, `${rootUrl}/tenants/${encodeURIComponent(tenant.id)}`, tenant, (type, base) => renderTenant(snapshot, tenant, type, base))
      : createView(snapshot, rootUrl, undefined, (type, base) => renderGlobal(snapshot, type, base));
    byTenant.set(key, view);
  }
  return view;
}

function findTenantIgnoringCase(snapshot: DirectorySnapshot, tenantId: string): Organisation | undefined {
  const lower = tenantId.toLowerCase();
  return snapshot.organisations.find((o) => o.id.toLowerCase() === lower);
}

function createView(
  snapshot: DirectorySnapshot,
  baseUrl: string,
  tenant: Organisation | undefined,
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
        sets.set(type, (set = buildSet(TYPES[type], render(type, baseUrl), version)));
      }
      return set;
    },
  };
}

function buildSet(type: ResourceTypeDefinition, { sources, render }: Rendering, version: string): ResourceSet {
  const items: RenderedResource[] = [];
  const positionById = new Map<string, number>();
  const indexed = INDEXED_PATHS[type.id].map((text) => {
    const path = resolvePath(type.schema, text) as ResolvedPath;
    return { name: text.toLowerCase(), path, leaf: path.subAttribute ?? path.attribute, index: new Map<string, number | number[]>() };
  });
  // One rendering per resource, read once for its id and index keys, then dropped.
  for (const source of sources) {
    const data = render(source);
    const id = data.id as string;
    const position = items.length;
    positionById.set(id, position);
    items.push(new CompactResource(id, source, render, type.id === 'Group'));
    for (const { path, leaf, index } of indexed) {
      for (const value of valuesAt(data, path)) {
        const key = indexKey(leaf, value);
        if (key === undefined) continue;
        const entry = index.get(key);
        if (entry === undefined) index.set(key, position);
        else if (typeof entry === 'number') {
          if (entry !== position) index.set(key, [entry, position]);
        } else if (entry[entry.length - 1] !== position) entry.push(position);
      }
    }
  }
  const indexes = new Map(indexed.map(({ name, index }) => [name, index as ReadonlyMap<string, IndexEntry>]));
  return { type, items, positionById, indexes, version, memo: new Map() };
}

const personDisplayName = (givenName: string, familyName: string, email: string) =>
  `${givenName} ${familyName}`.trim() || email;

const slugOf = (code: RoleCode) => code.toLowerCase();

const latest = (a: string, b: string) => (Date.parse(b) > Date.parse(a) ? b : a);

function meta(resourceType: ResourceTypeName, created: string, lastModified: string, location: string) {
  return { resourceType, created, lastModified, location };
}

function organisationExtension(o: Organisation): Record<string, unknown> {
  return {
    legalName: o.legalName,
    shortCode: o.shortCode,
    organisationType: o.organisationType,
    countryCode: o.countryCode,
    baseCurrency: o.baseCurrency,
    edition: o.edition,
    class: o.class,
    version: o.version,
    status: o.status,
    isDemoCompany: o.isDemoCompany,
    timezone: o.timezone,
    tenantType: o.tenantType,
    connectionId: o.connectionId,
  };
}

function recordEntry(record: XeroUserRecord, organisation: Organisation | undefined) {
  return {
    value: record.organisationId,
    display: organisation?.name,
    xeroUserId: record.xeroUserId,
    role: record.role,
    isSubscriber: record.isSubscriber,
    updated: record.updatedAt,
  };
}

// ---- the global view: people merged across organisations ----

function renderGlobal(snapshot: DirectorySnapshot, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User': {
      const roleByCode = new Map(snapshot.roles.map((r) => [`${r.organisationId}/${r.code}`, r]));
      return rendering(snapshot.people, (p) => globalUser(snapshot, roleByCode, p, base));
    }
    case 'Group':
      return rendering(snapshot.organisations, (o) => globalGroup(snapshot, o, base));
    case 'Role':
      return rendering(snapshot.roles, (role) => globalRole(snapshot, role, base));
  }
}

function globalRole(snapshot: DirectorySnapshot, role: Role, base: string): Record<string, unknown> {
  const organisation = snapshot.organisationById.get(role.organisationId);
  let lastModified = organisation?.createdAt ?? snapshot.builtAt;
  const members = role.memberIds.flatMap((id) => {
    const person = snapshot.personById.get(id);
    if (!person) return [];
    for (const r of person.records) if (r.organisationId === role.organisationId) lastModified = latest(lastModified, r.updatedAt);
    return [{ value: id, $ref: `${base}/Users/${id}`, display: personDisplayName(person.givenName, person.familyName, person.email), type: 'User' }];
  });
  return {
    schemas: [ROLE_SCHEMA_ID, XERO_ROLE_SCHEMA_ID],
    id: role.id,
    displayName: role.displayName,
    description: `The ${ROLE_NAMES[role.code]} role in ${organisation?.name ?? role.organisationId}.`,
    [XERO_ROLE_SCHEMA_ID]: {
      code: role.code,
      organisation: { value: role.organisationId, $ref: `${base}/Groups/${role.organisationId}`, display: organisation?.name },
      members,
    },
    meta: meta('Role', organisation?.createdAt ?? lastModified, lastModified, `${base}/Roles/${role.id}`),
  };
}

function globalUser(snapshot: DirectorySnapshot, roleByCode: ReadonlyMap<string, Role>, person: Person, base: string): Record<string, unknown> {
  const groups: Record<string, unknown>[] = [];
  const roles: Record<string, unknown>[] = [];
  const seenOrganisations = new Set<string>();
  for (const record of person.records) {
    if (record.role === 'REMOVED') continue;
    const organisation = snapshot.organisationById.get(record.organisationId);
    if (!seenOrganisations.has(record.organisationId)) {
      seenOrganisations.add(record.organisationId);
      groups.push({ value: record.organisationId, $ref: `${base}/Groups/${record.organisationId}`, display: organisation?.name, type: 'direct' });
    }
    if (isRoleCode(record.role)) {
      const role = roleByCode.get(`${record.organisationId}/${record.role}`);
      roles.push({
        value: role?.id ?? roleId(record.organisationId, record.role),
        display: role?.displayName ?? `${organisation?.name ?? record.organisationId} — ${ROLE_NAMES[record.role]}`,
        primary: false,
      });
    }
  }
  const formatted = `${person.givenName} ${person.familyName}`.trim();
  return {
    schemas: [USER_SCHEMA_ID, XERO_USER_SCHEMA_ID],
    id: person.id,
    userName: person.userName,
    name: { formatted, familyName: person.familyName, givenName: person.givenName },
    displayName: formatted || person.email,
    emails: [{ value: person.email, type: 'work', primary: true }],
    active: person.active,
    groups,
    roles,
    [XERO_USER_SCHEMA_ID]: {
      organisations: person.records.map((r) => recordEntry(r, snapshot.organisationById.get(r.organisationId))),
    },
    meta: meta('User', person.createdAt, person.lastModified, `${base}/Users/${person.id}`),
  };
}

function groupResource(
  organisation: Organisation,
  members: readonly Membership[],
  memberId: (m: Membership) => string,
  base: string,
): Record<string, unknown> {
  let lastModified = organisation.createdAt;
  const seen = new Set<string>();
  const rendered: Record<string, unknown>[] = [];
  for (const m of members) {
    lastModified = latest(lastModified, m.record.updatedAt);
    const id = memberId(m);
    if (seen.has(id)) continue;
    seen.add(id);
    rendered.push({ value: id, $ref: `${base}/Users/${id}`, display: personDisplayName(m.person.givenName, m.person.familyName, m.person.email), type: 'User' });
  }
  rendered.sort((a, b) => ((a.value as string) < (b.value as string) ? -1 : 1));
  return {
    schemas: [GROUP_SCHEMA_ID, XERO_ORGANISATION_SCHEMA_ID],
    id: organisation.id,
    displayName: organisation.name,
    members: rendered,
    [XERO_ORGANISATION_SCHEMA_ID]: organisationExtension(organisation),
    meta: meta('Group', organisation.createdAt, lastModified, `${base}/Groups/${organisation.id}`),
  };
}

function globalGroup(snapshot: DirectorySnapshot, organisation: Organisation, base: string) {
  return groupResource(organisation, snapshot.membersByOrganisation.get(organisation.id) ?? [], (m) => m.person.id, base);
}

// ---- a tenant view: one organisation, Xero's identifiers and baton-xero's role slugs ----

function tenantRecords(snapshot: DirectorySnapshot, organisation: Organisation): Membership[] {
  const prefix = `${organisation.id}/`;
  const out: Membership[] = [];
  for (const [key, membership] of snapshot.membershipByXeroUserId) if (key.startsWith(prefix)) out.push(membership);
  return out.sort((a, b) => (a.record.xeroUserId < b.record.xeroUserId ? -1 : a.record.xeroUserId > b.record.xeroUserId ? 1 : 0));
}

function renderTenant(snapshot: DirectorySnapshot, organisation: Organisation, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User':
      return rendering(tenantRecords(snapshot, organisation), ({ record }) => tenantUser(organisation, record, base));
    case 'Group':
      return rendering([organisation], (o) => groupResource(o, snapshot.membersByOrganisation.get(o.id) ?? [], (m) => m.record.xeroUserId, base));
    case 'Role': {
      const records = tenantRecords(snapshot, organisation);
      // The default order is by id, and a tenant role's id is its slug.
      const roles = [...(snapshot.rolesByOrganisation.get(organisation.id) ?? [])].sort((a, b) => (slugOf(a.code) < slugOf(b.code) ? -1 : 1));
      return rendering(roles, (role) => tenantRole(organisation, records, role, base));
    }
  }
}

function tenantRole(organisation: Organisation, records: readonly Membership[], role: Role, base: string): Record<string, unknown> {
  const slug = slugOf(role.code);
  let lastModified = organisation.createdAt;
  const members = records
    .filter((m) => m.record.role === role.code)
    .map(({ record }) => {
      lastModified = latest(lastModified, record.updatedAt);
      return { value: record.xeroUserId, $ref: `${base}/Users/${record.xeroUserId}`, display: personDisplayName(record.firstName, record.lastName, record.email.trim()), type: 'User' };
    });
  return {
    schemas: [ROLE_SCHEMA_ID, XERO_ROLE_SCHEMA_ID],
    id: slug,
    displayName: ROLE_NAMES[role.code],
    description: `The ${ROLE_NAMES[role.code]} role in ${organisation.name}.`,
    [XERO_ROLE_SCHEMA_ID]: {
      code: role.code,
      organisation: { value: organisation.id, $ref: `${base}/Groups/${organisation.id}`, display: organisation.name },
      members,
    },
    meta: meta('Role', organisation.createdAt, lastModified, `${base}/Roles/${slug}`),
  };
}

function tenantUser(organisation: Organisation, record: XeroUserRecord, base: string): Record<string, unknown> {
  const formatted = `${record.firstName} ${record.lastName}`.trim();
  const email = record.email.trim();
  const member = record.role !== 'REMOVED';
  return {
    schemas: [USER_SCHEMA_ID, XERO_USER_SCHEMA_ID],
    id: record.xeroUserId,
    userName: normaliseEmail(record.email),
    name: { formatted, familyName: record.lastName, givenName: record.firstName },
    displayName: formatted || email,
    emails: [{ value: email, type: 'work', primary: true }],
    active: member,
    groups: member ? [{ value: organisation.id, $ref: `${base}/Groups/${organisation.id}`, display: organisation.name, type: 'direct' }] : [],
    roles: isRoleCode(record.role) ? [{ value: slugOf(record.role), display: ROLE_NAMES[record.role], primary: false }] : [],
    [XERO_USER_SCHEMA_ID]: { organisations: [recordEntry(record, organisation)] },
    meta: meta('User', record.updatedAt, record.updatedAt, `${base}/Users/${record.xeroUserId}`),
  };
}

/**
 * Renders a snapshot's global view ahead of the first request (e.g. right after a snapshot swap), so no client
 * waits for it. Only useful with a known root URL (a configured public URL).
 */
export function prerender(snapshot: DirectorySnapshot, rootUrl: string): void {
  const view = viewOf(snapshot, rootUrl) as View;
  for (const type of Object.keys(TYPES) as ResourceTypeName[]) view.resources(type);
}
