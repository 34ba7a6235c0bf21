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

/** What a view renders for one resource type: its sources in the default order, and how to render each. */
export interface Rendering<S = unknown> {
  readonly sources: readonly S[];
  readonly render: Renderer<S>;
}

const rendering = <S>(sources: readonly S[], render: Renderer<S>): Rendering => ({ sources, render: render as Renderer<unknown> });

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

/** A tenant view's rendering of one resource type. */
export function renderTenant(snapshot: DirectorySnapshot, organisation: Organisation, type: ResourceTypeName, base: string): Rendering {
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
