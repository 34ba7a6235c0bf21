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
import type { People } from '../directory/people';
import { latest, tenantRecords } from '../directory/snapshot';
import {
  type DirectorySnapshot,
  type GroupSummary,
  type Organisation,
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
  /** How many sources; positions 0 … size − 1. */
  readonly size: number;
  readonly sourceAt: (position: number) => S;
  readonly render: Renderer<S>;
  readonly idOf: (source: S) => string;
  readonly fields: Readonly<Record<string, FieldReader<S>>>;
  /**
   * Groups: the resource without `members`, and a digest of its members (what their display names are made of, in
   * order; see `GroupSummary`). A group's ETag is made from these two, so `excludedAttributes=members`, what pollers
   * of groups send, renders no member, and the full resource still changes its ETag whenever any member, or a
   * member's name, does.
   */
  readonly withoutMembers?: (source: S) => { readonly resource: Record<string, unknown>; readonly membersDigest: string };
}

const rendering = <S>(
  sources: readonly S[],
  render: Renderer<S>,
  idOf: (source: S) => string,
  fields: Readonly<Record<string, FieldReader<S>>>,
  withoutMembers?: Rendering<S>['withoutMembers'],
): Rendering => ({ size: sources.length, sourceAt: (position: number) => sources[position], render, idOf, fields, withoutMembers }) as unknown as Rendering;

/** Readers every type shares: the id, and `externalId`, which this server never sets. */
const NOTHING: readonly unknown[] = [];
const idFields = <S>(idOf: (source: S) => string): Record<string, FieldReader<S>> => ({ id: (s) => [idOf(s)], externalid: () => NOTHING });

/** Whether the character at `at` is printable ASCII other than a space: what `trim` would never remove. */
const visibleAt = (text: string, at: number): boolean => {
  const code = text.charCodeAt(at);
  return code > 0x20 && code < 0x7f;
};

/**
 * `${givenName} ${familyName}`.trim(), without the trim when neither end can need it: a page of groups formats the
 * names of a hundred thousand members, and trimming each costs more than the rest of its rendering.
 */
const formattedName = (givenName: string, familyName: string): string => {
  const text = `${givenName} ${familyName}`;
  return visibleAt(givenName, 0) && visibleAt(familyName, familyName.length - 1) ? text : text.trim();
};

/** A person's display name: their formatted name, else their e-mail (trimmed only when it is needed). */
const personDisplayName = (givenName: string, familyName: string, email: string): string => formattedName(givenName, familyName) || email.trim();

const slugOf = (code: RoleCode) => code.toLowerCase();

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
  const { people } = snapshot;
  switch (type) {
    case 'User': {
      // A user's source is their position in `people`: the set keeps no object per person.
      const roleByCode = new Map(snapshot.roles.map((r) => [`${r.organisationId}/${r.code}`, r]));
      const users: Rendering<number> = {
        size: people.length,
        sourceAt: (position) => position,
        render: (position) => globalUser(snapshot, roleByCode, position, base),
        idOf: (position) => people.idAt(position),
        fields: globalUserFields(people),
      };
      return users as unknown as Rendering;
    }
    case 'Group': {
      const groups = groupRendering(
        people,
        (o) => snapshot.memberRecords.get(o.id) ?? NO_MEMBERS,
        (i) => people.ownerIdOf(i),
        base,
        (o) => snapshot.groupSummaries.get(o.id)!,
      );
      return rendering(snapshot.organisations, groups.render, (o) => o.id, groups.fields, groups.withoutMembers);
    }
    case 'Role':
      return rendering(snapshot.roles, (role) => globalRole(snapshot, role, base), (r) => r.id, {
        ...idFields<Role>((r) => r.id),
        displayname: (r) => [r.displayName],
      });
  }
}

const NO_MEMBERS = new Int32Array(0);

const distinct = (values: readonly string[]): readonly string[] => [...new Set(values)];

/** The one-valued reader of a string the resource always carries. */
const one = <S>(read: (source: S) => string): FieldReader<S> => (source) => [read(source)];

/** A person's display name: their name, else their e-mail. */
function displayNameOf(people: People, position: number): string {
  const newest = people.newestRecordOf(position);
  return personDisplayName(newest.firstName, newest.lastName, newest.email);
}

function globalUserFields(people: People): Readonly<Record<string, FieldReader<number>>> {
  return {
    ...idFields<number>((p) => people.idAt(p)),
    username: one((p) => people.userNameAt(p)),
    'emails.value': one((p) => people.emailAt(p)),
    displayname: one((p) => displayNameOf(people, p)),
    'name.givenname': one((p) => people.newestRecordOf(p).firstName),
    'name.familyname': one((p) => people.newestRecordOf(p).lastName),
    active: (p) => [people.isActive(p)],
    'meta.created': one((p) => people.createdAt(p)),
    'meta.lastmodified': one((p) => people.lastModifiedAt(p)),
  };
}

/**
 * A global role lists the members of its organisation that hold it, in member order (the order of `memberIds`); its
 * `lastModified` is the latest update of any of their records in that organisation.
 */
function globalRole(snapshot: DirectorySnapshot, role: Role, base: string): Record<string, unknown> {
  const { people } = snapshot;
  const { records } = people;
  const organisation = snapshot.organisationById.get(role.organisationId);
  let lastModified = organisation?.createdAt ?? snapshot.builtAt;
  const members: Record<string, unknown>[] = [];
  for (const i of snapshot.memberRecords.get(role.organisationId) ?? NO_MEMBERS) {
    if (records[i]!.role !== role.code) continue;
    const position = people.ownerOf(i);
    // The person's records in this organisation sit together in their run (ordered by organisation id).
    const inOrganisation = (j: number) => j >= 0 && j < records.length && people.ownerOf(j) === position && records[j]!.organisationId === role.organisationId;
    let first = i;
    while (inOrganisation(first - 1)) first--;
    for (let j = first; inOrganisation(j); j++) lastModified = latest(lastModified, records[j]!.updatedAt);
    const id = people.ownerIdOf(i);
    const name = people.ownerNewestRecordOf(i);
    members.push({ value: id, $ref: `${base}/Users/${id}`, display: personDisplayName(name.firstName, name.lastName, name.email), type: 'User' });
  }
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

function globalUser(snapshot: DirectorySnapshot, roleByCode: ReadonlyMap<string, Role>, position: number, base: string): Record<string, unknown> {
  const person = snapshot.people.at(position);
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
  const formatted = formattedName(person.givenName, person.familyName);
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

/** A group's member: their id in the view, and the record their display name comes from (their newest). */
interface GroupMember {
  readonly value: string;
  readonly name: XeroUserRecord;
}

/** What of a group comes from its members: the members (one per id, in id order) and the group's `lastModified`. */
interface GroupParts {
  readonly members: readonly GroupMember[];
  readonly lastModified: string;
}

/** A group's parts from its members, given as indices into `people.records`; `memberId` names one in the view. */
function groupParts(organisation: Organisation, members: Int32Array, people: People, memberId: (i: number) => string): GroupParts {
  const { records } = people;
  let lastModified = organisation.createdAt;
  let listed: GroupMember[] = [];
  // Members usually arrive in id order, one record each (the global view's are): then nothing needs sorting or merging.
  let ordered = true;
  for (const i of members) {
    lastModified = latest(lastModified, records[i]!.updatedAt);
    const value = memberId(i);
    if (ordered && listed.length > 0 && !(listed[listed.length - 1]!.value < value)) ordered = false;
    listed.push({ value, name: people.ownerNewestRecordOf(i) });
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
  const members = parts.members.map(({ value, name }) => ({
    value,
    $ref: `${base}/Users/${value}`,
    display: personDisplayName(name.firstName, name.lastName, name.email),
    type: 'User',
  }));
  return { ...head, members, ...tail };
}

/**
 * What a group's member list is made of, as one string: each member's id and what their display name is made of. It
 * changes whenever a member joins, leaves or is renamed, and formats no display name: a page of groups has a hundred
 * thousand members.
 */
function membersDigest(members: readonly GroupMember[]): string {
  const parts: string[] = [];
  for (const { value, name } of members) parts.push(value, name.firstName, name.lastName, name.email);
  return parts.join('\u0000');
}

/** A group's rendering, and its `withoutMembers` (see `Rendering`), over one organisation's members (`groupParts`). */
function groupRendering(
  people: People,
  membersOf: (o: Organisation) => Int32Array,
  memberId: (i: number) => string,
  base: string,
  summaryOf?: (o: Organisation) => GroupSummary,
) {
  const partsOf = (o: Organisation) => groupParts(o, membersOf(o), people, memberId);
  // A tenant view's one group is summed up from its members when asked; the global view's come with the snapshot.
  const summary =
    summaryOf ??
    ((o: Organisation): GroupSummary => {
      const parts = partsOf(o);
      return { lastModified: parts.lastModified, membersDigest: membersDigest(parts.members) };
    });
  return {
    render: (o: Organisation) => groupResource(o, partsOf(o), base, true),
    withoutMembers: (o: Organisation) => {
      const { lastModified, membersDigest: digest } = summary(o);
      return { resource: groupResource(o, { members: [], lastModified }, base, false), membersDigest: digest };
    },
    fields: {
      ...idFields<Organisation>((o) => o.id),
      displayname: (o: Organisation) => [o.name],
      'members.value': (o: Organisation) => distinct(Array.from(membersOf(o), memberId)),
    },
  };
}

// ---- a tenant view: one organisation, Xero's identifiers and baton-xero's role slugs ----

/** One of the organisation's records, with its person's position in `people`. */
type TenantRecord = ReturnType<typeof tenantRecords>[number];

/** A tenant view's rendering of one resource type. */
export function renderTenant(snapshot: DirectorySnapshot, organisation: Organisation, type: ResourceTypeName, base: string): Rendering {
  const { people } = snapshot;
  switch (type) {
    case 'User':
      return rendering(tenantRecords(snapshot, organisation.id), ({ record }) => tenantUser(organisation, record, base), (m) => m.record.xeroUserId, TENANT_USER_FIELDS);
    case 'Group': {
      const members = snapshot.memberRecords.get(organisation.id) ?? NO_MEMBERS;
      const groups = groupRendering(people, () => members, (i) => people.records[i]!.xeroUserId, base);
      return rendering([organisation], groups.render, (o) => o.id, groups.fields, groups.withoutMembers);
    }
    case 'Role': {
      const records = tenantRecords(snapshot, organisation.id);
      // The default order is by id, and a tenant role's id is its slug.
      const roles = [...(snapshot.rolesByOrganisation.get(organisation.id) ?? [])].sort((a, b) => (slugOf(a.code) < slugOf(b.code) ? -1 : 1));
      return rendering(roles, (role) => tenantRole(organisation, records, role, base), (r) => slugOf(r.code), {
        ...idFields<Role>((r) => slugOf(r.code)),
        displayname: (r) => [ROLE_NAMES[r.code]],
      });
    }
  }
}

const TENANT_USER_FIELDS: Readonly<Record<string, FieldReader<TenantRecord>>> = {
  ...idFields<TenantRecord>((m) => m.record.xeroUserId),
  username: one(({ record }) => normaliseEmail(record.email)),
  'emails.value': one(({ record }) => record.email.trim()),
  displayname: one(({ record }) => personDisplayName(record.firstName, record.lastName, record.email)),
  'name.givenname': one(({ record }) => record.firstName),
  'name.familyname': one(({ record }) => record.lastName),
  active: ({ record }) => [record.role !== 'REMOVED'],
  'meta.created': one(({ record }) => record.updatedAt),
  'meta.lastmodified': one(({ record }) => record.updatedAt),
};

function tenantRole(organisation: Organisation, records: readonly TenantRecord[], role: Role, base: string): Record<string, unknown> {
  const slug = slugOf(role.code);
  let lastModified = organisation.createdAt;
  const members = records
    .filter((m) => m.record.role === role.code)
    .map(({ record }) => {
      lastModified = latest(lastModified, record.updatedAt);
      return { value: record.xeroUserId, $ref: `${base}/Users/${record.xeroUserId}`, display: personDisplayName(record.firstName, record.lastName, record.email), type: 'User' };
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
  const formatted = formattedName(record.firstName, record.lastName);
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
