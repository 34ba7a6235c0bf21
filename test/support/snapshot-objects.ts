/**
 * A snapshot read as objects, for tests: the server reads its columns (`People`, `memberRecords`, `recordPeople`),
 * and tests compare what those columns say with people and memberships they can write down.
 */
import { normaliseEmail, personId } from '../../src/directory/ids';
import type { DirectorySnapshot, Person, XeroUserRecord } from '../../src/directory/model';
import { tenantRecords } from '../../src/directory/snapshot';

/** A person with access to an organisation, and the record that grants it. */
export interface Membership {
  readonly person: Person;
  readonly record: XeroUserRecord;
}

/** The person with `id` (a binary search over the people, who are in id order). */
export function personWithId(snapshot: DirectorySnapshot, id: string): Person | undefined {
  const position = snapshot.people.positionOf(id);
  return position === -1 ? undefined : snapshot.people.at(position);
}

/** The person whose normalised e-mail is `userName`'s: their id is derived from it. */
export function personWithUserName(snapshot: DirectorySnapshot, userName: string): Person | undefined {
  const person = personWithId(snapshot, personId(userName));
  return person?.userName === normaliseEmail(userName) ? person : undefined;
}

/** One organisation's memberships (`REMOVED` records excluded), ordered by person id, then Xero UserID. */
export function membersOf(snapshot: DirectorySnapshot, organisationId: string): Membership[] {
  const { people } = snapshot;
  return Array.from(snapshot.memberRecords.get(organisationId) ?? [], (i) => ({ person: people.at(people.ownerOf(i)), record: people.records[i]! }));
}

/** Every membership of one organisation, `REMOVED` records included, by Xero UserID: what a tenant view lists. */
export function membershipsOf(snapshot: DirectorySnapshot, organisationId: string): Membership[] {
  return tenantRecords(snapshot, organisationId).map(({ position, record }) => ({ person: snapshot.people.at(position), record }));
}
