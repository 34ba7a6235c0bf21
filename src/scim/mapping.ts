/**
 * The mapping from the directory's model to SCIM resources: what a person, an organisation, a role or one Xero
 * user record looks like as a User, Group or Role, in the global view (people merged across organisations, ids
 * this server derives) and in a tenant view (one organisation, Xero's own identifiers and baton-xero's role slugs).
 *
 * Each job of rendering has its own file: this one knows the SCIM shape of the data and nothing of caching;
 * `resource-set.ts` keeps one type's rendered resources with their indexes; `views.ts` caches the sets per
 * snapshot. A renderer here is a pure function of its source record and the base URL, so the set can render a
 * resource again whenever it is read rather than keep it.
 */
import { normaliseEmail, roleId } from '../directory/ids';
import { membershipsOf, personWithId } from '../directory/snapshot';
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
import {
  GROUP_SCHEMA_ID,
  ROLE_SCHEMA_ID,
  type ResourceTypeName,
  USER_SCHEMA_ID,
  XERO_ORGANISATION_SCHEMA_ID,
  XERO_ROLE_SCHEMA_ID,
  XERO_USER_SCHEMA_ID,
} from './schemas';

/** Bumped when the rendering changes, so ETags of unchanged data change with it. */
export const RENDER_VERSION = '3';

export type ScimResource = Readonly<Record<string, unknown>>;

/** Renders one source record (a person, an organisation, a role, a Xero user record) as a SCIM resource. */
export type Renderer<S> = (source: S) => Record<string, unknown>;

/**
 * The values a path reaches in the rendered resource (what `valuesAt` would read from it), taken from the source
 * without rendering: a set finds ids, builds indexes and scans columns from these, so that neither a first page nor
 * a lookup renders the whole collection.
 */
export type FieldReader<S> = (source: S) => readonly unknown[];

/**
 * What a view renders for one resource type: its sources in the default order (ascending `id`, by code unit), how
 * to render each, and readers of the fields queries touch most, by lower-case core path (`username`,
 * `emails.value`, `meta.lastmodified`). A path without a reader is read from a rendering. `test/scim/fields.test.ts`
 * holds every reader to its renderer.
 */
export interface Rendering<S = unknown> {
  readonly sources: readonly S[];
  readonly render: Renderer<S>;
  readonly idOf: (source: S) => string;
  readonly fields: Readonly<Record<string, FieldReader<S>>>;
  /**
   * Groups: the resource without `members`, and a digest of its members (their ids and display names, in order).
   * A group's ETag is made from these two, so `excludedAttributes=members`, what pollers of groups send, renders no
   * member, and the full resource still changes its ETag whenever any member, or a member's name, does.
   */
  readonly withoutMembers?: (source: S) => { readonly resource: Record<string, unknown>; readonly membersDigest: string };
}

const rendering = <S>(
  sources: readonly S[],
  render: Renderer<S>,
  idOf: (source: S) => string,
  fields: Readonly<Record<string, FieldReader<S>>>,
  withoutMembers?: Rendering<S>['withoutMembers'],
): Rendering => ({ sources, render, idOf, fields, withoutMembers }) as unknown as Rendering;

/** Readers every type shares: the id, and `externalId`, which this server never sets. */
const NOTHING: readonly unknown[] = [];
const idFields = <S>(idOf: (source: S) => string): Record<string, FieldReader<S>> => ({ id: (s) => [idOf(s)], externalid: () => NOTHING });

const personDisplayName = (givenName: string, familyName: string, email: string) =>
  `${givenName} ${familyName}`.trim() || email;

const slugOf = (code: RoleCode) => code.toLowerCase();

/**
 * The later of two instants. Two UTC timestamps of one layout (`2024-05-01T10:00:00.123Z` and the like) order as
 * their text does, which spares two `Date.parse` per member of every group rendered; anything else is parsed.
 */
const latest = (a: string, b: string): string => {
  if (a.length === b.length && a.length >= 20 && a[10] === 'T' && b[10] === 'T' && a[4] === '-' && b[4] === '-' && a.endsWith('Z') && b.endsWith('Z')) return b > a ? b : a;
  return Date.parse(b) > Date.parse(a) ? b : a;
};

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

/** The global view's rendering of one resource type. */
export function renderGlobal(snapshot: DirectorySnapshot, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User': {
      const roleByCode = new Map(snapshot.roles.map((r) => [`${r.organisationId}/${r.code}`, r]));
      return rendering(snapshot.people, (p) => globalUser(snapshot, roleByCode, p, base), (p) => p.id, GLOBAL_USER_FIELDS);
    }
    case 'Group': {
      const groups = groupRendering(snapshot.organisations, (o) => snapshot.membersByOrganisation.get(o.id) ?? [], (m) => m.person.id, base);
      return rendering(snapshot.organisations, groups.render, (o) => o.id, groups.fields, groups.withoutMembers);
    }
    case 'Role':
      return rendering(snapshot.roles, (role) => globalRole(snapshot, role, base), (r) => r.id, {
        ...idFields<Role>((r) => r.id),
        displayname: (r) => [r.displayName],
      });
  }
}

const distinct = (values: readonly string[]): readonly string[] => [...new Set(values)];

/** The one-valued reader of a string the resource always carries. */
const one = <S>(read: (source: S) => string): FieldReader<S> => (source) => [read(source)];

const GLOBAL_USER_FIELDS: Readonly<Record<string, FieldReader<Person>>> = {
  ...idFields<Person>((p) => p.id),
  username: one((p) => p.userName),
  'emails.value': one((p) => p.email),
  displayname: one((p) => personDisplayName(p.givenName, p.familyName, p.email)),
  'name.givenname': one((p) => p.givenName),
  'name.familyname': one((p) => p.familyName),
  active: (p) => [p.active],
  'meta.created': one((p) => p.createdAt),
  'meta.lastmodified': one((p) => p.lastModified),
};

function globalRole(snapshot: DirectorySnapshot, role: Role, base: string): Record<string, unknown> {
  const organisation = snapshot.organisationById.get(role.organisationId);
  let lastModified = organisation?.createdAt ?? snapshot.builtAt;
  const members = role.memberIds.flatMap((id) => {
    const person = personWithId(snapshot, id);
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

/** A group's member as its resource lists it. */
interface GroupMember {
  readonly value: string;
  readonly display: string;
}

/** What of a group comes from its members: the members (one per id, in id order) and the group's `lastModified`. */
interface GroupParts {
  readonly members: readonly GroupMember[];
  readonly lastModified: string;
}

function groupParts(organisation: Organisation, members: readonly Membership[], memberId: (m: Membership) => string): GroupParts {
  let lastModified = organisation.createdAt;
  let listed: GroupMember[] = [];
  // Members usually arrive in id order, one record each (the global view's are): then nothing needs sorting or merging.
  let ordered = true;
  for (const m of members) {
    lastModified = latest(lastModified, m.record.updatedAt);
    const value = memberId(m);
    if (ordered && listed.length > 0 && !(listed[listed.length - 1]!.value < value)) ordered = false;
    listed.push({ value, display: personDisplayName(m.person.givenName, m.person.familyName, m.person.email) });
  }
  if (!ordered) {
    const seen = new Set<string>();
    listed = listed.filter((m) => !seen.has(m.value) && seen.add(m.value) !== undefined);
    listed.sort((a, b) => (a.value < b.value ? -1 : 1));
  }
  return { members: listed, lastModified };
}

function groupResource(organisation: Organisation, parts: GroupParts, base: string, withMembers: boolean): Record<string, unknown> {
  const head = { schemas: [GROUP_SCHEMA_ID, XERO_ORGANISATION_SCHEMA_ID], id: organisation.id, displayName: organisation.name };
  const tail = {
    [XERO_ORGANISATION_SCHEMA_ID]: organisationExtension(organisation),
    meta: meta('Group', organisation.createdAt, parts.lastModified, `${base}/Groups/${organisation.id}`),
  };
  if (!withMembers) return { ...head, ...tail };
  const members = parts.members.map(({ value, display }) => ({ value, $ref: `${base}/Users/${value}`, display, type: 'User' }));
  return { ...head, members, ...tail };
}

/** A group's rendering, and its `withoutMembers` (see `Rendering`), over one organisation's memberships. */
function groupRendering(organisations: readonly Organisation[], membersOf: (o: Organisation) => readonly Membership[], memberId: (m: Membership) => string, base: string) {
  const partsOf = (o: Organisation) => groupParts(o, membersOf(o), memberId);
  return {
    render: (o: Organisation) => groupResource(o, partsOf(o), base, true),
    withoutMembers: (o: Organisation) => {
      const parts = partsOf(o);
      return { resource: groupResource(o, parts, base, false), membersDigest: parts.members.map((m) => `${m.value}\u0000${m.display}`).join('\u0001') };
    },
    fields: {
      ...idFields<Organisation>((o) => o.id),
      displayname: (o: Organisation) => [o.name],
      'members.value': (o: Organisation) => distinct(membersOf(o).map(memberId)),
    },
    organisations,
  };
}

// ---- a tenant view: one organisation, Xero's identifiers and baton-xero's role slugs ----

function tenantRecords(snapshot: DirectorySnapshot, organisation: Organisation): Membership[] {
  return membershipsOf(snapshot, organisation.id);
}

/** A tenant view's rendering of one resource type. */
export function renderTenant(snapshot: DirectorySnapshot, organisation: Organisation, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User':
      return rendering(tenantRecords(snapshot, organisation), ({ record }) => tenantUser(organisation, record, base), (m) => m.record.xeroUserId, TENANT_USER_FIELDS);
    case 'Group': {
      const members = snapshot.membersByOrganisation.get(organisation.id) ?? [];
      const groups = groupRendering([organisation], () => members, (m) => m.record.xeroUserId, base);
      return rendering([organisation], groups.render, (o) => o.id, groups.fields, groups.withoutMembers);
    }
    case 'Role': {
      const records = tenantRecords(snapshot, organisation);
      // The default order is by id, and a tenant role's id is its slug.
      const roles = [...(snapshot.rolesByOrganisation.get(organisation.id) ?? [])].sort((a, b) => (slugOf(a.code) < slugOf(b.code) ? -1 : 1));
      return rendering(roles, (role) => tenantRole(organisation, records, role, base), (r) => slugOf(r.code), {
        ...idFields<Role>((r) => slugOf(r.code)),
        displayname: (r) => [ROLE_NAMES[r.code]],
      });
    }
  }
}

const TENANT_USER_FIELDS: Readonly<Record<string, FieldReader<Membership>>> = {
  ...idFields<Membership>((m) => m.record.xeroUserId),
  username: one(({ record }) => normaliseEmail(record.email)),
  'emails.value': one(({ record }) => record.email.trim()),
  displayname: one(({ record }) => personDisplayName(record.firstName, record.lastName, record.email.trim())),
  'name.givenname': one(({ record }) => record.firstName),
  'name.familyname': one(({ record }) => record.lastName),
  active: ({ record }) => [record.role !== 'REMOVED'],
  'meta.created': one(({ record }) => record.updatedAt),
  'meta.lastmodified': one(({ record }) => record.updatedAt),
};

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
