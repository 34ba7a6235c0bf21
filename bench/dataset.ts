/**
 * The data every server is loaded with, and what a correct answer about it looks like.
 *
 * The sandbox's generator is deterministic (same seed and options, same data, ids included), so the orchestrator
 * regenerates the data the sandbox serves and derives the expected SCIM users from it independently of xero-scim's
 * code: people are Xero users merged by case-insensitive e-mail; groups are the organisations a person has a
 * non-REMOVED record in; every record (REMOVED included) is listed in the Xero extension.
 */
import { generateData, type GenerateOptions, type SandboxData } from '../src/sandbox';

/** How many memberships a person has on average with the generator's defaults (shared people in 2–4 orgs). */
const MEMBERSHIPS_PER_PERSON = 1.07;

/** Generator options for about `users` SCIM users across `users / 100` organisations. */
export function dataFor(users: number, seed = 7): GenerateOptions {
  const organisations = Math.max(2, Math.round(users / 100));
  return { seed, organisations, usersPerOrganisation: Math.max(1, Math.round((users * MEMBERSHIPS_PER_PERSON) / organisations)) };
}

export interface ExpectedUser {
  readonly userName: string;
  readonly active: boolean;
  /** Organisation ids with a non-REMOVED record, sorted. */
  readonly groups: readonly string[];
  /** `${organisationId}/${role}` for every record, sorted. */
  readonly records: readonly string[];
}

export interface Expected {
  readonly users: ReadonlyMap<string, ExpectedUser>;
  readonly organisations: ReadonlySet<string>;
  readonly memberships: number;
}

export function expectedFrom(data: SandboxData): Expected {
  const byName = new Map<string, { active: boolean; groups: Set<string>; records: string[] }>();
  let memberships = 0;
  for (const org of data.organisations) {
    const orgId = org.organisationId.toLowerCase();
    for (const user of org.users) {
      memberships += 1;
      const userName = user.email.trim().toLowerCase();
      let entry = byName.get(userName);
      if (!entry) byName.set(userName, (entry = { active: false, groups: new Set(), records: [] }));
      entry.records.push(`${orgId}/${user.role}`);
      if (user.role !== 'REMOVED') {
        entry.active = true;
        entry.groups.add(orgId);
      }
    }
  }
  const users = new Map<string, ExpectedUser>();
  for (const [userName, e] of byName) {
    users.set(userName, { userName, active: e.active, groups: [...e.groups].sort(), records: e.records.sort() });
  }
  return { users, organisations: new Set(data.organisations.map((o) => o.organisationId.toLowerCase())), memberships };
}

export function expectedFor(options: GenerateOptions): Expected {
  return expectedFrom(generateData(options));
}

/**
 * The SCIM users data makes, without building them: distinct userNames (e-mails, trimmed and lower-cased, as
 * xero-scim merges people), `sample` of them spread evenly, and how many contain `contains` (lower case: userName is
 * not case-exact, so `co` ignores case). Cheap enough for a million memberships (the scale bench's sandbox runs it).
 */
export function peopleOf(usersByOrganisation: Iterable<readonly { email: string }[]>, sample: number, contains: string): { people: number; userNames: string[]; containing: number } {
  const names = new Set<string>();
  for (const users of usersByOrganisation) for (const user of users) names.add(user.email.trim().toLowerCase());
  const all = [...names];
  const step = Math.max(1, Math.floor(all.length / Math.max(1, sample)));
  const userNames: string[] = [];
  for (let i = 0; i < all.length && userNames.length < sample; i += step) userNames.push(all[i]!);
  return { people: all.length, userNames, containing: all.filter((name) => name.includes(contains)).length };
}
