/**
 * The people of a snapshot held as columns: one id string per person and a few integers, over the Xero user records
 * the snapshot was built from. A `Person` object is made only when one is asked for (`at`): a million people kept as
 * objects, each with an array of its records and a membership object per record, would be most of the heap and most
 * of the time a restart takes to build them.
 *
 * A person is known by their position, 0 … length − 1 in ascending id (code-unit) order, as SCIM lists them. The
 * columns themselves are kept in the order people were first seen, organisation by organisation, so that what is
 * read together (the members of one organisation, for its group and its roles) sits together in memory; `order` and
 * `rank` translate. Each person's records are one run of `records`, ordered by organisation id, then Xero UserID.
 */
import { normaliseEmail } from './ids';
import type { Person, XeroUserRecord } from './model';

/** The columns, each indexed by a person's number (the order first seen) unless it says otherwise. */
export interface PeopleColumns {
  readonly ids: readonly string[];
  /** Position → number: the people in id order. */
  readonly order: Int32Array;
  /** Number → position. */
  readonly rank: Int32Array;
  /** Where each person's run of `records` begins, and (last) where the records end: one more entry than people. */
  readonly starts: Int32Array;
  /** Every record with an e-mail, in runs per person. */
  readonly records: readonly XeroUserRecord[];
  /** Each record's person's number, by the record's index in `records`. */
  readonly owners: Int32Array;
  /** Each person's most recently updated record (an index in `records`): their e-mail and name come from it. */
  readonly newest: Int32Array;
  /** Each person's least recently updated record: their `createdAt` comes from it. */
  readonly earliest: Int32Array;
  /** 1 where at least one record grants access. */
  readonly active: Uint8Array;
}

export class People implements Iterable<Person> {
  readonly records: readonly XeroUserRecord[];

  constructor(private readonly columns: PeopleColumns) {
    this.records = columns.records;
  }

  get length(): number {
    return this.columns.ids.length;
  }

  idAt(position: number): string {
    return this.columns.ids[this.columns.order[position]!]!;
  }

  /** The position of the person the record at `index` of `records` belongs to. */
  ownerOf(index: number): number {
    return this.columns.rank[this.columns.owners[index]!]!;
  }

  /** The id of the person the record at `index` belongs to. */
  ownerIdOf(index: number): string {
    return this.columns.ids[this.columns.owners[index]!]!;
  }

  /** The newest record of the person the record at `index` belongs to: where their display name comes from. */
  ownerNewestRecordOf(index: number): XeroUserRecord {
    return this.records[this.columns.newest[this.columns.owners[index]!]!]!;
  }

  /** Normalised e-mail: the SCIM `userName`. Every record of a person has the same one. */
  userNameAt(position: number): string {
    return normaliseEmail(this.records[this.columns.starts[this.columns.order[position]!]!]!.email);
  }

  /** The record a person's e-mail and name are taken from. */
  newestRecordOf(position: number): XeroUserRecord {
    return this.records[this.columns.newest[this.columns.order[position]!]!]!;
  }

  emailAt(position: number): string {
    return this.newestRecordOf(position).email.trim();
  }

  isActive(position: number): boolean {
    return this.columns.active[this.columns.order[position]!] === 1;
  }

  createdAt(position: number): string {
    return this.records[this.columns.earliest[this.columns.order[position]!]!]!.updatedAt;
  }

  lastModifiedAt(position: number): string {
    return this.newestRecordOf(position).updatedAt;
  }

  /** How many records the person has (every organisation they are in, `REMOVED` ones included). */
  recordCount(position: number): number {
    const number = this.columns.order[position]!;
    return this.columns.starts[number + 1]! - this.columns.starts[number]!;
  }

  /** The person's records: a new array on each call. */
  recordsOf(position: number): XeroUserRecord[] {
    const number = this.columns.order[position]!;
    return this.records.slice(this.columns.starts[number]!, this.columns.starts[number + 1]!);
  }

  /** The position of the person with `id` (a binary search), or -1. */
  positionOf(id: string): number {
    let low = 0;
    let high = this.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.idAt(mid) < id) low = mid + 1;
      else high = mid;
    }
    return low < this.length && this.idAt(low) === id ? low : -1;
  }

  /** The person at `position`, as an object made on this call. */
  at(position: number): Person {
    const newest = this.newestRecordOf(position);
    return {
      id: this.idAt(position),
      userName: this.userNameAt(position),
      email: newest.email.trim(),
      givenName: newest.firstName,
      familyName: newest.lastName,
      active: this.isActive(position),
      records: this.recordsOf(position),
      createdAt: this.createdAt(position),
      lastModified: newest.updatedAt,
    };
  }

  /** How many people have access somewhere. */
  activeCount(): number {
    let count = 0;
    for (const flag of this.columns.active) count += flag;
    return count;
  }

  *[Symbol.iterator](): Iterator<Person> {
    for (let position = 0; position < this.length; position++) yield this.at(position);
  }
}
