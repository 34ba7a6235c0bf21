/**
 * The people of a snapshot held as columns: one id string per person and a few integers, over the Xero user records
 * the snapshot was built from. A `Person` object is made only when one is asked for (`at`): at a million people,
 * ten small objects per membership were most of the heap and most of a restart.
 *
 * Positions are 0 … length − 1, in ascending id (code-unit) order. Each person's records are one run of `records`,
 * ordered by organisation id, then Xero UserID.
 */
import { normaliseEmail } from './ids';
import type { Person, XeroUserRecord } from './model';

export class People implements Iterable<Person> {
  /**
   * @param ids each person's id, ascending
   * @param starts where each person's run of `records` begins, and (last) where the records end: length + 1 entries
   * @param records every record with an e-mail, in runs per person
   * @param owners each record's person, by the record's index in `records`
   * @param newest each person's most recently updated record, the one their e-mail and name come from
   * @param earliest each person's least recently updated record, the one their `createdAt` comes from
   * @param active 1 where at least one record grants access
   */
  constructor(
    private readonly ids: readonly string[],
    private readonly starts: Int32Array,
    readonly records: readonly XeroUserRecord[],
    private readonly owners: Int32Array,
    private readonly newest: Int32Array,
    private readonly earliest: Int32Array,
    private readonly active: Uint8Array,
  ) {}

  get length(): number {
    return this.ids.length;
  }

  idAt(position: number): string {
    return this.ids[position]!;
  }

  /** The person the record at `index` of `records` belongs to. */
  ownerOf(index: number): number {
    return this.owners[index]!;
  }

  /** Normalised e-mail: the SCIM `userName`. Every record of a person has the same one. */
  userNameAt(position: number): string {
    return normaliseEmail(this.records[this.starts[position]!]!.email);
  }

  /** The record a person's e-mail and name are taken from. */
  newestRecordOf(position: number): XeroUserRecord {
    return this.records[this.newest[position]!]!;
  }

  emailAt(position: number): string {
    return this.newestRecordOf(position).email.trim();
  }

  isActive(position: number): boolean {
    return this.active[position] === 1;
  }

  createdAt(position: number): string {
    return this.records[this.earliest[position]!]!.updatedAt;
  }

  lastModifiedAt(position: number): string {
    return this.newestRecordOf(position).updatedAt;
  }

  /** How many records the person has (every organisation they are in, `REMOVED` ones included). */
  recordCount(position: number): number {
    return this.starts[position + 1]! - this.starts[position]!;
  }

  /** The person's records: a new array on each call. */
  recordsOf(position: number): XeroUserRecord[] {
    return this.records.slice(this.starts[position]!, this.starts[position + 1]!);
  }

  /** The position of the person with `id` (a binary search), or -1. */
  positionOf(id: string): number {
    const { ids } = this;
    let low = 0;
    let high = ids.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (ids[mid]! < id) low = mid + 1;
      else high = mid;
    }
    return ids[low] === id ? low : -1;
  }

  /** The person at `position`, as an object made on this call. */
  at(position: number): Person {
    const newest = this.newestRecordOf(position);
    return {
      id: this.ids[position]!,
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
    for (const flag of this.active) count += flag;
    return count;
  }

  *[Symbol.iterator](): Iterator<Person> {
    for (let position = 0; position < this.ids.length; position++) yield this.at(position);
  }
}
