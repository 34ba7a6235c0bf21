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
export const RENDER_VERSION = '2';

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
}

const rendering = <S>(sources: readonly S[], render: Renderer<S>, idOf: (source: S) => string, fields: Readonly<Record<string, FieldReader<S>>>): Rendering =>
  ({ sources, render, idOf, fields }) as unknown as Rendering;

/** Readers every type shares: the id, and `externalId`, which this server never sets. */
const NOTHING: readonly unknown[] = [];
const idFields = <S>(idOf: (source: S) => string): Record<string, FieldReader<S>> => ({ id: (s) => [idOf(s)], externalid: () => NOTHING });

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

/** The global view's rendering of one resource type. */
export function renderGlobal(snapshot: DirectorySnapshot, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User': {
      const roleByCode = new Map(snapshot.roles.map((r) => [`${r.organisationId}/${r.code}`, r]));
      return rendering(snapshot.people, (p) => globalUser(snapshot, roleByCode, p, base), (p) => p.id, GLOBAL_USER_FIELDS);
    }
    case 'Group':
      return rendering(snapshot.organisations, (o) => globalGroup(snapshot, o, base), (o) => o.id, {
        ...idFields<Organisation>((o) => o.id),
        displayname: (o) => [o.name],
        'members.value': (o) => distinct((snapshot.membersByOrganisation.get(o.id) ?? []).map((m) => m.person.id)),
      });
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
  return membershipsOf(snapshot, organisation.id);
}

/** A tenant view's rendering of one resource type. */
export function renderTenant(snapshot: DirectorySnapshot, organisation: Organisation, type: ResourceTypeName, base: string): Rendering {
  switch (type) {
    case 'User':
      return rendering(tenantRecords(snapshot, organisation), ({ record }) => tenantUser(organisation, record, base), (m) => m.record.xeroUserId, TENANT_USER_FIELDS);
    case 'Group': {
      const members = snapshot.membersByOrganisation.get(organisation.id) ?? [];
      return rendering([organisation], (o) => groupResource(o, members, (m) => m.record.xeroUserId, base), (o) => o.id, {
        ...idFields<Organisation>((o) => o.id),
        displayname: (o) => [o.name],
        'members.value': () => distinct(members.map((m) => m.record.xeroUserId)),
      });
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
