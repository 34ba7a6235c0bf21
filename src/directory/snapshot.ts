import { createHash } from 'node:crypto';
import { normaliseEmail, personIdOfUserName, roleId } from './ids';
import {
  type DerivedPeople,
  type DirectorySnapshot,
  type GroupSummary,
  type Organisation,
  type Role,
  type RoleCode,
  type TenantData,
  type XeroUserRecord,
  PARTNER_ONLY_ROLES,
  ROLE_CODES,
  ROLE_NAMES,
  isRoleCode,
} from './model';
import { People } from './people';
import { type Steps, runToEnd } from './slices';

/** The long loops over people yield once per this many + 1 (a power of two). */
const BATCH = 4095;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The later of two instants. Two UTC timestamps of one layout (`2024-05-01T10:00:00.123Z` and the like) order as
 * their text does, which spares two `Date.parse` per member of every group; anything else is parsed.
 */
export const latest = (a: string, b: string): string => {
  if (a.length === b.length && a.length >= 20 && a[10] === 'T' && b[10] === 'T' && a[4] === '-' && b[4] === '-' && a.endsWith('Z') && b.endsWith('Z')) return b > a ? b : a;
  return Date.parse(b) > Date.parse(a) ? b : a;
};

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
 * The version of the rules that turn records into people: how e-mails are normalised (`normaliseEmail`), how a
 * person's id is made (`personIdOfUserName`), how ids are ordered, and what a group summary is made of
 * (`groupSummary`). A saved `DerivedPeople` of another version is not used. Change it with any of those rules:
 * `test/directory/derived-people.test.ts` pins what the current rules derive from a fixed directory, and fails until it is.
 */
export const PEOPLE_DERIVATION = 1;

/** What the caller already knows of the content, sparing the build from deriving it again. */
export interface KnownDerivations {
  /** The content's version (a publish hashed it to compare, or a state was saved with it). */
  readonly version?: string | undefined;
  /** The people of exactly these tenants, as a saved state kept them (`derivedPeople`). */
  readonly people?: DerivedPeople | undefined;
}

/**
 * Builds an immutable snapshot from per-organisation data.
 *
 * Business rules: people are merged by case-insensitive e-mail; a `REMOVED` record is not a membership
 * (no group, no role) but the person stays listed, inactive, while Xero lists them; `UNKNOWN` is a membership
 * without a grantable role. A role held by a user in an edition that does not list it (e.g. MANAGEDCLIENT seen in a
 * BUSINESS organisation) is still shown: Xero's answer wins over our edition table.
 *
 * The people and the memberships are columns over the records (`people.ts`, `memberRecords`, `recordPeople`),
 * filled by counting: the records are walked twice in the order they are held, once to number each person and
 * count their records, once to put every record in its person's run. `known` spares what the caller already has: the
 * content's version, and the people a saved state kept (their ids, who each record is, the group summaries).
 */
export function buildSnapshot(tenants: readonly TenantData[], builtAt: string, known: KnownDerivations = {}): DirectorySnapshot {
  return runToEnd(snapshotSteps(tenants, builtAt, known));
}

/** The people found in the records: numbered in the order first seen, with each one's id and place in id order. */
interface Numbering {
  /** Each record's person's number (-1: a record without an e-mail), over all the tenants' records in order. */
  readonly personOfRecord: Int32Array;
  /** Each person's record count, by number. */
  readonly counts: Int32Array;
  /** Each person's id, by number. */
  readonly ids: string[];
  /** Position → number, and number → position. */
  readonly order: Int32Array;
  readonly rank: Int32Array;
}

/** `buildSnapshot`'s work, yielding about every few thousand records (see `slices.ts`). */
export function* snapshotSteps(tenants: readonly TenantData[], builtAt: string, known: KnownDerivations = {}): Steps<DirectorySnapshot> {
  const sortedTenants = [...tenants].sort((a, b) => byString(a.organisation.id, b.organisation.id));
  const organisations = sortedTenants.map((t) => t.organisation);
  const organisationById = new Map(organisations.map((o) => [o.id, o]));
  const tenantById = new Map(sortedTenants.map((t) => [t.organisation.id, t]));
  const organisationIndex = new Map(organisations.map((o, k) => [o.id, k]));

  // 1, 2. Each record's person and each person's id and place in id order: read from what was saved, or derived.
  let recordTotal = 0;
  for (const tenant of sortedTenants) recordTotal += tenant.users.length;
  const fromSaved = known.people && fitsShape(known.people, sortedTenants, recordTotal) ? yield* savedNumberingSteps(known.people) : undefined;
  const saved = fromSaved && known.people;
  const { personOfRecord, counts, ids, order, rank } = fromSaved ?? (yield* numberingSteps(sortedTenants, recordTotal));
  const count = ids.length;
  const starts = new Int32Array(count + 1);
  for (let n = 0; n < count; n++) starts[n + 1] = starts[n]! + counts[n]!;

  // 3. Every record in its person's run, with the organisation it is a membership of (-1: none); each organisation's
  //    records' people. A record joins the organisation it names (Xero never sends one naming another), unless REMOVED.
  const placed = starts.slice(0, count);
  const records = new Array<XeroUserRecord>(starts[count]!);
  const owners = new Int32Array(records.length);
  const organisationOf = new Int32Array(records.length);
  const recordPeople = new Map<string, Int32Array>();
  let seq = 0;
  for (const [k, tenant] of sortedTenants.entries()) {
    const orgId = tenant.organisation.id;
    recordPeople.set(orgId, personOfRecord.subarray(seq, seq + tenant.users.length));
    for (const record of tenant.users) {
      const number = personOfRecord[seq]!;
      if (number === -1) {
        seq++;
        continue;
      }
      personOfRecord[seq++] = rank[number]!;
      const at = placed[number]!++;
      records[at] = record;
      owners[at] = number;
      organisationOf[at] = record.role === 'REMOVED' ? -1 : record.organisationId === orgId ? k : (organisationIndex.get(record.organisationId) ?? -1);
    }
    yield;
  }

  // 4. Each run by organisation id, then Xero UserID; the record each person's name and dates come from.
  const newest = new Int32Array(count);
  const earliest = new Int32Array(count);
  const active = new Uint8Array(count);
  for (let n = 0; n < count; n++) {
    const start = starts[n]!;
    const end = starts[n + 1]!;
    let newestAt = start;
    let earliestAt = start;
    if (end - start > 1) {
      sortRun(records, organisationOf, start, end);
      // Most people have one record: reading a packed record's time makes a string, so only runs compare times.
      let newestTime = records[start]!.updatedAt;
      let earliestTime = newestTime;
      for (let i = start + 1; i < end; i++) {
        const time = records[i]!.updatedAt;
        if (time > newestTime) {
          newestAt = i;
          newestTime = time;
        }
        if (time < earliestTime) {
          earliestAt = i;
          earliestTime = time;
        }
      }
    }
    for (let i = start; i < end; i++) if (records[i]!.role !== 'REMOVED') active[n] = 1;
    newest[n] = newestAt;
    earliest[n] = earliestAt;
    if ((n & BATCH) === BATCH) yield;
  }
  const people = new People({ ids, order, rank, starts, records, owners, newest, earliest, active });

  // 5. Memberships: walking the people in id order, and each one's run, leaves each organisation's members in person
  //    id, then Xero UserID, order.
  const memberCounts = new Int32Array(organisations.length + 1);
  for (let i = 0; i < records.length; i++) memberCounts[organisationOf[i]! + 1]!++;
  memberCounts[0] = 0; // what counted the records that are no membership
  for (let k = 0; k < organisations.length; k++) memberCounts[k + 1]! += memberCounts[k]!;
  const memberIndices = new Int32Array(memberCounts[organisations.length]!);
  const filled = memberCounts.slice(0, organisations.length);
  for (let p = 0; p < count; p++) {
    const n = order[p]!;
    for (let i = starts[n]!; i < starts[n + 1]!; i++) {
      const k = organisationOf[i]!;
      if (k !== -1) memberIndices[filled[k]!++] = i;
    }
    if ((p & BATCH) === BATCH) yield;
  }
  const memberRecords = new Map<string, Int32Array>();
  organisations.forEach((o, k) => memberRecords.set(o.id, memberIndices.subarray(memberCounts[k]!, memberCounts[k + 1]!)));
  const groupSummaries = new Map<string, GroupSummary>();
  for (const [k, organisation] of organisations.entries()) {
    groupSummaries.set(organisation.id, saved ? saved.groups[k]! : groupSummary(organisation, memberRecords.get(organisation.id)!, people));
    if (!saved) yield;
  }

  // 6. Roles: each organisation's grantable ones and any its members hold, each with its holders in member order.
  const roles: Role[] = [];
  const rolesByOrganisation = new Map<string, Role[]>();
  const nameCounts = new Map<string, number>();
  for (const o of organisations) nameCounts.set(o.name.trim().toLowerCase(), (nameCounts.get(o.name.trim().toLowerCase()) ?? 0) + 1);
  for (const organisation of organisations) {
    const nameIsShared = (nameCounts.get(organisation.name.trim().toLowerCase()) ?? 0) > 1;
    const holders = new Map<RoleCode, string[]>(grantableRoles(organisation).map((code) => [code, []]));
    for (const i of memberRecords.get(organisation.id)!) {
      const role = records[i]!.role;
      if (!isRoleCode(role)) continue;
      let list = holders.get(role);
      if (!list) holders.set(role, (list = []));
      list.push(ids[owners[i]!]!);
    }
    const orgRoles = ROLE_CODES.filter((c) => holders.has(c)).map(
      (code): Role => ({
        id: roleId(organisation.id, code),
        organisationId: organisation.id,
        code,
        displayName: roleDisplayName(organisation, code, nameIsShared),
        memberIds: holders.get(code)!, // members are in person id order, so this is sorted
      }),
    );
    rolesByOrganisation.set(organisation.id, orgRoles);
    roles.push(...orgRoles);
    yield;
  }
  roles.sort((a, b) => byString(a.id, b.id));
  const version = known.version ?? (yield* versionSteps(sortedTenants));

  return {
    version,
    builtAt,
    tenants: sortedTenants,
    people,
    organisations,
    roles,
    organisationById,
    tenantById,
    roleById: new Map(roles.map((r) => [r.id, r])),
    memberRecords,
    recordPeople,
    rolesByOrganisation,
    groupSummaries,
  };
}

/** Steps 1 and 2 of a build, from the records: each record's person by normalised e-mail, and each person's id. */
function* numberingSteps(sortedTenants: readonly TenantData[], recordTotal: number): Steps<Numbering> {
  // Each record's person, numbered in the order first seen, and each person's record count.
  const personOfRecord = new Int32Array(recordTotal);
  const numberByUserName = new Map<string, number>();
  const userNames: string[] = [];
  let counts: Int32Array<ArrayBuffer> = new Int32Array(1024);
  let seq = 0;
  for (const tenant of sortedTenants) {
    for (const record of tenant.users) {
      const key = normaliseEmail(record.email);
      if (key === '') {
        personOfRecord[seq++] = -1; // Xero requires an e-mail; a record without one cannot be a SCIM user.
        continue;
      }
      let number = numberByUserName.get(key);
      if (number === undefined) {
        number = userNames.length;
        numberByUserName.set(key, number);
        userNames.push(key);
        if (number === counts.length) counts = grow(counts);
      }
      counts[number]!++;
      personOfRecord[seq++] = number;
    }
    yield;
  }
  numberByUserName.clear();

  // Each person's id, and their place in id order: position p holds person number order[p], number n is at
  // position rank[n]. The columns are kept by number, in the order people were first seen, so that the members of
  // one organisation, read together by every group and role, sit together in memory.
  const count = userNames.length;
  const ids: string[] = [];
  for (let n = 0; n < count; n++) {
    ids.push(personIdOfUserName(userNames[n]!));
    if ((n & BATCH) === BATCH) yield;
  }
  userNames.length = 0;
  const order = yield* idOrderSteps(ids);
  const rank = new Int32Array(count);
  for (let p = 0; p < count; p++) rank[order[p]!] = p;
  return { personOfRecord, counts, ids, order, rank };
}

/**
 * Steps 1 and 2 from a saved state's people: numbering them in the order their records come, as a build from the
 * records does, with no e-mail normalised, no id hashed and no sort. Undefined when a position is out of range or a
 * person has no record: the people do not fit these records, and are derived from them instead.
 */
function* savedNumberingSteps(saved: DerivedPeople): Steps<Numbering | undefined> {
  const { count, positions } = saved;
  const personOfRecord = new Int32Array(positions.length);
  const counts = new Int32Array(count);
  const ids = new Array<string>(count);
  const order = new Int32Array(count).fill(-1);
  const rank = new Int32Array(count);
  let next = 0;
  for (let seq = 0; seq < positions.length; seq++) {
    const position = positions[seq]!;
    if (position === -1) {
      personOfRecord[seq] = -1;
      continue;
    }
    if (position < -1 || position >= count) return undefined;
    let number = order[position]!;
    if (number === -1) {
      number = next++;
      order[position] = number;
      rank[number] = position;
      ids[number] = saved.idAt(position);
    }
    counts[number]!++;
    personOfRecord[seq] = number;
    if ((seq & BATCH) === BATCH) yield;
  }
  return next === count ? { personOfRecord, counts, ids, order, rank } : undefined;
}

/**
 * Whether a saved state's people can stand for these records before they are read: taken under today's rules, of as
 * many records and organisations, the ids in strictly ascending order. (`savedNumberingSteps` checks the positions as
 * it reads them. That they are these records' people is what the saver vouched for, `derivedPeople`; the state file's
 * checksum keeps it so.)
 */
function fitsShape(saved: DerivedPeople, sortedTenants: readonly TenantData[], recordTotal: number): boolean {
  if (saved.derivation !== PEOPLE_DERIVATION || saved.positions.length !== recordTotal || saved.groups.length !== sortedTenants.length) return false;
  for (let p = 1; p < saved.count; p++) if (!(saved.idAt(p - 1) < saved.idAt(p))) return false;
  return true;
}

/**
 * The people of `snapshot` as a state saved of `tenants` keeps them (see `DerivedPeople`), when `tenants` hold exactly
 * the records the snapshot was built from: the same organisations in the same order, each with the very list of
 * users the build read (a sync shares an organisation's list while Xero answers the same users). Otherwise undefined:
 * a restart derives them.
 */
export function derivedPeople(snapshot: DirectorySnapshot, tenants: readonly TenantData[]): DerivedPeople | undefined {
  const built = snapshot.tenants;
  if (built.length !== tenants.length) return undefined;
  let recordTotal = 0;
  for (let k = 0; k < built.length; k++) {
    if (built[k]!.users !== tenants[k]!.users || built[k]!.organisation.id !== tenants[k]!.organisation.id) return undefined;
    recordTotal += built[k]!.users.length;
  }
  const positions = new Int32Array(recordTotal);
  let at = 0;
  for (const tenant of built) {
    positions.set(snapshot.recordPeople.get(tenant.organisation.id)!, at);
    at += tenant.users.length;
  }
  const { people } = snapshot;
  return {
    derivation: PEOPLE_DERIVATION,
    positions,
    count: people.length,
    idAt: (position) => people.idAt(position),
    groups: snapshot.organisations.map((o) => snapshot.groupSummaries.get(o.id)!),
  };
}

/**
 * What a group's ETag and `lastModified` are made of (see `GroupSummary`), from its members as `memberRecords` holds
 * them: in person id order, so a person with two records in the organisation comes twice in a row and counts once.
 */
function groupSummary(organisation: Organisation, members: Int32Array, people: People): GroupSummary {
  const { records } = people;
  let lastModified = organisation.createdAt;
  const texts: string[] = [];
  let previous = -1;
  for (const i of members) {
    lastModified = latest(lastModified, records[i]!.updatedAt);
    const position = people.ownerOf(i);
    if (position === previous) continue;
    previous = position;
    const name = people.ownerNewestRecordOf(i);
    texts.push(name.firstName, name.lastName, name.email);
  }
  return { lastModified, membersDigest: createHash('sha1').update(texts.join('\u0000')).digest('base64url') };
}

function grow(counts: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(counts.length * 2);
  bigger.set(counts);
  return bigger;
}

/** Sorts `records[start, end)` by organisation id, then Xero UserID, and `organisationOf` along with them. */
function sortRun(records: XeroUserRecord[], organisationOf: Int32Array, start: number, end: number): void {
  const run = Array.from({ length: end - start }, (_, i) => start + i).sort(
    (a, b) => byString(records[a]!.organisationId, records[b]!.organisationId) || byString(records[a]!.xeroUserId, records[b]!.xeroUserId),
  );
  const runRecords = run.map((i) => records[i]!);
  const runOrganisations = run.map((i) => organisationOf[i]!);
  for (let i = 0; i < run.length; i++) {
    records[start + i] = runRecords[i]!;
    organisationOf[start + i] = runOrganisations[i]!;
  }
}

/**
 * Every membership of one organisation, `REMOVED` records included, by Xero UserID: what a tenant view lists, as
 * positions in `people` with each record. One membership per Xero UserID, as Xero has it (a repeated record is the
 * same user).
 */
export function tenantRecords(snapshot: DirectorySnapshot, organisationId: string): { readonly position: number; readonly record: XeroUserRecord }[] {
  const users = snapshot.tenantById.get(organisationId)?.users ?? [];
  const positions = snapshot.recordPeople.get(organisationId);
  const out: { position: number; record: XeroUserRecord }[] = [];
  users.forEach((record, i) => {
    const position = positions?.[i] ?? -1;
    if (position !== -1) out.push({ position, record });
  });
  out.sort((a, b) => byString(a.record.xeroUserId, b.record.xeroUserId));
  return out.filter((m, i) => i === 0 || out[i - 1]!.record.xeroUserId !== m.record.xeroUserId);
}

/**
 * The number the first eight characters of `id` spell in lower-case hex (every UUID this server derives starts so),
 * or -1 when they do not: such ids sort by that number, then by their text.
 */
function hexPrefix(id: string): number {
  if (id.length < 8) return -1;
  let value = 0;
  for (let k = 0; k < 8; k++) {
    const code = id.charCodeAt(k);
    const digit = code >= 48 && code <= 57 ? code - 48 : code >= 97 && code <= 102 ? code - 87 : -1;
    if (digit === -1) return -1;
    value = value * 16 + digit;
  }
  return value;
}
/** Positions fit below this (21 bits), so a 32-bit prefix and a position pack exactly into one double. */
const POSITION_LIMIT = 2 ** 21;

/**
 * The indices of `ids` in ascending code-unit order of the ids. Comparing a million ids as strings costs seconds;
 * their 32-bit hex prefixes packed with each index into a Float64Array sort natively in a fraction of that, and the
 * few ids sharing a prefix are then ordered by their whole text. Anything else (ids not hex, too many) takes the
 * plain sort.
 */
export function idOrder(ids: readonly string[]): Int32Array {
  return runToEnd(idOrderSteps(ids));
}

function* idOrderSteps(ids: readonly string[]): Steps<Int32Array> {
  const n = ids.length;
  const byId = (a: number, b: number) => byString(ids[a]!, ids[b]!);
  const plain = () => Int32Array.from(Array.from({ length: n }, (_, i) => i).sort(byId));
  if (n >= POSITION_LIMIT) return plain();
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const prefix = hexPrefix(ids[i]!);
    if (prefix === -1) return plain();
    keys[i] = prefix * POSITION_LIMIT + i;
    if ((i & BATCH) === BATCH) yield;
  }
  keys.sort();
  yield;
  // A loop, not Int32Array.from with a map function: that calls back per element, several times slower.
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = keys[i]! % POSITION_LIMIT;
  yield;
  for (let start = 0; start < n; ) {
    const prefix = Math.floor(keys[start]! / POSITION_LIMIT);
    let end = start + 1;
    while (end < n && Math.floor(keys[end]! / POSITION_LIMIT) === prefix) end++;
    if (end - start > 1) order.subarray(start, end).set(Array.from(order.subarray(start, end)).sort(byId));
    if ((start & ~BATCH) !== (end & ~BATCH)) yield;
    start = end;
  }
  return order;
}

/**
 * A hash of the content (not of fetch times or input order), so an unchanged directory keeps its version and ETags.
 * Cheap next to `buildSnapshot`: a sync compares it first and skips the build when nothing changed.
 */
export function snapshotVersion(tenants: readonly TenantData[]): string {
  return runToEnd(versionSteps(tenants));
}

/** `snapshotVersion`'s work, yielding after each organisation (see `slices.ts`). */
export function* versionSteps(tenants: readonly TenantData[]): Steps<string> {
  const hash = createHash('sha256');
  const sorted = [...tenants].sort((a, b) => byString(a.organisation.id, b.organisation.id));
  for (const t of sorted) {
    // Keys sorted: the same organisation read from Xero or from STATE_DIR must hash alike (key order differs).
    hash.update(JSON.stringify(t.organisation, Object.keys(t.organisation).sort()));
    const users = byXeroUserId(t.users) ? t.users : [...t.users].sort((a, b) => byString(a.xeroUserId, b.xeroUserId));
    // One update per organisation: a call into the hash per user cost more than the hashing.
    let text = '';
    for (const u of users) text += `\n${u.xeroUserId}\t${u.email}\t${u.firstName}\t${u.lastName}\t${u.role}\t${u.isSubscriber}\t${u.updatedAt}`;
    hash.update(`${text}\f`);
    yield;
  }
  return hash.digest('base64url').slice(0, 22);
}

function byXeroUserId(users: readonly XeroUserRecord[]): boolean {
  for (let i = 1; i < users.length; i++) if (byString(users[i - 1]!.xeroUserId, users[i]!.xeroUserId) > 0) return false;
  return true;
}
