import { createHash } from 'node:crypto';
import { normaliseEmail, personId, roleId } from './ids';
import {
  type DirectorySnapshot,
  type Membership,
  type Organisation,
  type Person,
  type Role,
  type RoleCode,
  type TenantData,
  type XeroUserRecord,
  PARTNER_ONLY_ROLES,
  ROLE_CODES,
  ROLE_NAMES,
  isRoleCode,
} from './model';

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Roles an organisation can grant: Partner-only roles exist only in Partner-edition organisations. */
export function grantableRoles(organisation: Organisation): readonly RoleCode[] {
  return organisation.edition === 'PARTNER' ? ROLE_CODES : ROLE_CODES.filter((c) => !PARTNER_ONLY_ROLES.includes(c));
}

/**
 * e.g. "Acme Ltd — Standard". IGA tools derive role identities from this name (baton-scim snake-cases it), so when
 * two connected organisations share a name, each is told apart by its short code (or id): merging their roles
 * would merge their grants.
 */
export function roleDisplayName(organisation: Organisation, code: RoleCode, nameIsShared = false): string {
  const label = nameIsShared ? `${organisation.name} (${organisation.shortCode ?? organisation.id})` : organisation.name;
  return `${label} — ${ROLE_NAMES[code]}`;
}

/**
 * Builds an immutable snapshot from per-organisation data.
 *
 * Business rules: people are merged by case-insensitive e-mail; a `REMOVED` record is not a membership
 * (no group, no role) but the person stays listed, inactive, while Xero lists them; `UNKNOWN` is a membership
 * without a grantable role. A role held by a user in an edition that does not list it (e.g. MANAGEDCLIENT seen in a
 * BUSINESS organisation) is still shown: Xero's answer wins over our edition table.
 *
 * `previous`, the snapshot this one replaces, lends its ids: a person's and a role's id are name-based UUIDs (a SHA-1
 * each) of what does not change from sync to sync, so the ones it already computed are taken rather than hashed again.
 * `knownVersion`, when the caller already has the content's version (a replica adopting exactly what its leader
 * published and versioned), spares hashing the content again.
 */
export function buildSnapshot(tenants: readonly TenantData[], builtAt: string, previous?: DirectorySnapshot, knownVersion?: string): DirectorySnapshot {
  const sortedTenants = [...tenants].sort((a, b) => byString(a.organisation.id, b.organisation.id));
  const organisations = sortedTenants.map((t) => t.organisation);
  const organisationById = new Map(organisations.map((o) => [o.id, o]));
  const tenantById = new Map(sortedTenants.map((t) => [t.organisation.id, t]));

  // Each person is made on their first record, and each membership as its record is read: the organisations'
  // records are walked in the order they are held, not in people's id order, which at a million people would
  // scatter every step of the build across the heap.
  const byUserName = new Map<string, Draft>();
  const people: Draft[] = [];
  const stray: Membership[] = [];
  const membersByOrganisation = new Map<string, Membership[]>();
  for (const tenant of sortedTenants) {
    const orgId = tenant.organisation.id;
    const members: Membership[] = [];
    membersByOrganisation.set(orgId, members);
    for (const record of tenant.users) {
      const key = normaliseEmail(record.email);
      if (key === '') continue; // Xero requires an e-mail; a record without one cannot be a SCIM user.
      let person = byUserName.get(key);
      if (person) person.records.push(record);
      else {
        person = { id: '', userName: key, email: '', givenName: '', familyName: '', active: false, records: [record], createdAt: '', lastModified: '' };
        byUserName.set(key, person);
        people.push(person);
      }
      if (record.role === 'REMOVED') continue;
      if (record.organisationId === orgId) members.push({ person, record });
      else stray.push({ person, record });
    }
  }

  for (const person of people) {
    const records = person.records;
    if (records.length > 1) records.sort((a, b) => byString(a.organisationId, b.organisationId) || byString(a.xeroUserId, b.xeroUserId));
    let newest = records[0]!;
    let createdAt = newest.updatedAt;
    let lastModified = newest.updatedAt;
    let active = false;
    for (const r of records) {
      if (r.updatedAt > lastModified) lastModified = r.updatedAt;
      if (r.updatedAt < createdAt) createdAt = r.updatedAt;
      if (r.updatedAt > newest.updatedAt) newest = r;
      if (r.role !== 'REMOVED') active = true;
    }
    person.id = previous?.personByUserName.get(person.userName)?.id ?? personId(person.userName);
    person.email = newest.email.trim();
    person.givenName = newest.firstName;
    person.familyName = newest.lastName;
    person.active = active;
    person.createdAt = createdAt;
    person.lastModified = lastModified;
  }
  sortById(people);
  const personByUserName: ReadonlyMap<string, Person> = byUserName;
  // A record whose organisation id is not its organisation's (Xero never sends one) joins the organisation it names.
  for (const m of stray) membersByOrganisation.get(m.record.organisationId)?.push(m);
  stray.length = 0;

  // Role ids are per (organisation, code): computed once each, not once per record.
  const previousRoleId = (organisationId: string, code: RoleCode): string | undefined =>
    previous?.rolesByOrganisation.get(organisationId)?.find((r) => r.code === code)?.id;
  const roleIds = new Map<string, Map<string, string>>();
  const roleIdOf = (organisationId: string, code: RoleCode): string => {
    let codes = roleIds.get(organisationId);
    if (!codes) roleIds.set(organisationId, (codes = new Map()));
    let id = codes.get(code);
    if (id === undefined) codes.set(code, (id = previousRoleId(organisationId, code) ?? roleId(organisationId, code)));
    return id;
  };

  // Each organisation's members by person id (then Xero UserID), and each role's holders in the same order.
  const holders = new Map<string, string[]>(); // role id -> person ids
  for (const members of membersByOrganisation.values()) {
    if (!membersAscending(members)) members.sort((a, b) => byString(a.person.id, b.person.id) || byString(a.record.xeroUserId, b.record.xeroUserId));
    for (const { person, record } of members) {
      if (!isRoleCode(record.role)) continue;
      const id = roleIdOf(record.organisationId, record.role);
      const list = holders.get(id);
      if (list) list.push(person.id);
      else holders.set(id, [person.id]);
    }
  }

  const roles: Role[] = [];
  const rolesByOrganisation = new Map<string, Role[]>();
  const nameCounts = new Map<string, number>();
  for (const o of organisations) nameCounts.set(o.name.trim().toLowerCase(), (nameCounts.get(o.name.trim().toLowerCase()) ?? 0) + 1);
  for (const organisation of organisations) {
    const nameIsShared = (nameCounts.get(organisation.name.trim().toLowerCase()) ?? 0) > 1;
    const codes = new Set<RoleCode>(grantableRoles(organisation));
    for (const m of membersByOrganisation.get(organisation.id) ?? []) {
      if (isRoleCode(m.record.role)) codes.add(m.record.role);
    }
    const orgRoles = ROLE_CODES.filter((c) => codes.has(c)).map((code): Role => {
      const id = roleIdOf(organisation.id, code);
      return {
        id,
        organisationId: organisation.id,
        code,
        displayName: roleDisplayName(organisation, code, nameIsShared),
        memberIds: holders.get(id) ?? [], // members are in person id order, so this is sorted
      };
    });
    rolesByOrganisation.set(organisation.id, orgRoles);
    roles.push(...orgRoles);
  }
  roles.sort((a, b) => byString(a.id, b.id));

  return {
    version: knownVersion ?? snapshotVersion(sortedTenants),
    builtAt,
    tenants: sortedTenants,
    people,
    organisations,
    roles,
    personByUserName,
    organisationById,
    tenantById,
    roleById: new Map(roles.map((r) => [r.id, r])),
    membersByOrganisation,
    rolesByOrganisation,
  };
}

/** A person while the build fills them in: made on their first record, complete before the build returns. */
type Draft = { -readonly [K in keyof Person]: Person[K] } & { records: XeroUserRecord[] };

/** Whether members are already in person id (then Xero UserID) order: the usual case needs no sort. */
function membersAscending(members: readonly Membership[]): boolean {
  for (let i = 1; i < members.length; i++) {
    const a = members[i - 1]!;
    const b = members[i]!;
    if ((byString(a.person.id, b.person.id) || byString(a.record.xeroUserId, b.record.xeroUserId)) > 0) return false;
  }
  return true;
}

/** The person with `id`, found by binary search over the people (in id order). */
export function personWithId(snapshot: DirectorySnapshot, id: string): Person | undefined {
  const { people } = snapshot;
  let low = 0;
  let high = people.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (people[mid]!.id < id) low = mid + 1;
    else high = mid;
  }
  return people[low]?.id === id ? people[low] : undefined;
}

/**
 * Every membership of one organisation, `REMOVED` records included, by Xero UserID: what a tenant view lists. Made
 * from the organisation's own records when asked, not kept for every organisation: a view of one tenant reads one.
 */
export function membershipsOf(snapshot: DirectorySnapshot, organisationId: string): Membership[] {
  const out: Membership[] = [];
  for (const record of snapshot.tenantById.get(organisationId)?.users ?? []) {
    const person = snapshot.personByUserName.get(normaliseEmail(record.email));
    if (person) out.push({ person, record });
  }
  out.sort((a, b) => byString(a.record.xeroUserId, b.record.xeroUserId));
  // One membership per Xero UserID, as Xero has it (a repeated record is the same user).
  return out.filter((m, i) => i === 0 || out[i - 1]!.record.xeroUserId !== m.record.xeroUserId);
}

/** Ids whose first eight characters are lower-case hex (every UUID this server derives) sort by number, then text. */
const HEX_PREFIX = /^[0-9a-f]{8}/;
/** Positions fit below this (21 bits), so a 32-bit prefix and a position pack exactly into one double. */
const POSITION_LIMIT = 2 ** 21;

/**
 * Sorts by `id` in code-unit order. Comparing a million ids as strings costs seconds; their 32-bit hex prefixes
 * packed with each position into a Float64Array sort natively in a fraction of that, and the few ids sharing
 * a prefix are then ordered by their whole text. Anything else (ids not hex, too many) takes the plain sort.
 */
export function sortById<T extends { readonly id: string }>(items: T[]): void {
  const n = items.length;
  const byId = (a: T, b: T) => byString(a.id, b.id);
  if (n < 2) return;
  if (n >= POSITION_LIMIT) {
    items.sort(byId);
    return;
  }
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const id = items[i]!.id;
    if (!HEX_PREFIX.test(id)) {
      items.sort(byId);
      return;
    }
    keys[i] = Number.parseInt(id.slice(0, 8), 16) * POSITION_LIMIT + i;
  }
  keys.sort();
  const sorted = Array.from(keys, (key) => items[key % POSITION_LIMIT]!);
  for (let start = 0; start < n; ) {
    const prefix = Math.floor(keys[start]! / POSITION_LIMIT);
    let end = start + 1;
    while (end < n && Math.floor(keys[end]! / POSITION_LIMIT) === prefix) end++;
    if (end - start > 1) {
      const run = sorted.slice(start, end).sort(byId);
      for (let k = 0; k < run.length; k++) sorted[start + k] = run[k]!;
    }
    start = end;
  }
  for (let i = 0; i < n; i++) items[i] = sorted[i]!;
}

/**
 * A hash of the content (not of fetch times or input order), so an unchanged directory keeps its version and ETags.
 * Cheap next to `buildSnapshot`: a sync compares it first and skips the build when nothing changed.
 */
export function snapshotVersion(tenants: readonly TenantData[]): string {
  const hash = createHash('sha256');
  const sorted = [...tenants].sort((a, b) => byString(a.organisation.id, b.organisation.id));
  for (const t of sorted) {
    // Keys sorted: the same organisation read from Xero or from STATE_DIR must hash alike (key order differs).
    hash.update(JSON.stringify(t.organisation, Object.keys(t.organisation).sort()));
    const users = [...t.users].sort((a, b) => byString(a.xeroUserId, b.xeroUserId));
    for (const u of users) {
      hash.update(`\n${u.xeroUserId}\t${u.email}\t${u.firstName}\t${u.lastName}\t${u.role}\t${u.isSubscriber}\t${u.updatedAt}`);
    }
    hash.update('\f');
  }
  return hash.digest('base64url').slice(0, 22);
}
