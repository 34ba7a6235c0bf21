/**
 * Xero user records held compactly, one organisation's list at a time. A million records as plain objects cost
 * about 280 bytes each: the object, and three strings of its own (the Xero UserID, the e-mail, the update time), each
 * a string object over its characters. Packed, a list keeps those three strings of every record back to back in one
 * text, with their boundaries, and each record is a small object that reads its fields from the list's columns:
 * about 150 bytes a record; an organisation of 107 users holds one text instead of 321 strings.
 *
 * A packed record is a `XeroUserRecord` like any other (read-only fields, `toJSON` gives the plain object, so it is
 * persisted, replicated and hashed alike); reading its UserID, e-mail or update time makes a string each time, so
 * what reads them in a loop over a million records (a build, a save) makes short-lived garbage, not more memory.
 * Organisation ids and names repeat across records and are held as strings, once per list.
 *
 * Its fields are getters, not properties of its own: a spread (`{ ...record }`), `Object.keys` or `structuredClone`
 * sees none of them. Copy a record with `toJSON()` (or `{ ...record.toJSON(), role }`), as JSON does.
 */
import { ORGANISATION_ROLES, type OrganisationRole, type XeroUserRecord } from './model';

/** The flag bit of a subscriber; the bits below it are the role's index (a state file's role byte is the same). */
export const SUBSCRIBER_BIT = 0x80;
/** The fields a list holds once each, in the order of each record's `sharedIndexes`. */
export const SHARED_FIELDS = ['organisationId', 'firstName', 'lastName'] as const;
/** The strings of its own each record keeps in the text, in this order. */
export const OWN_FIELDS = ['xeroUserId', 'email', 'updatedAt'] as const;
const SHARED = SHARED_FIELDS.length;
const OWN = OWN_FIELDS.length;

/** One list's columns: what its packed records read. */
class UserColumns {
  constructor(
    /** Organisation ids and names, each once. */
    readonly shared: readonly string[],
    /** Per record, an index into `shared` for each of `SHARED_FIELDS`. */
    readonly sharedIndexes: Int32Array,
    /** Every record's `OWN_FIELDS`, back to back. */
    readonly text: string,
    /** Where each of those strings starts in `text`, then the end of the last: `OWN_FIELDS.length` × records + 1. */
    readonly bounds: Int32Array,
    /** Per record: its role's index in `ORGANISATION_ROLES`, with the subscriber bit. */
    readonly flags: Uint8Array,
  ) {}

  own(index: number, field: number): string {
    const k = OWN * index + field;
    return this.text.slice(this.bounds[k]!, this.bounds[k + 1]!);
  }
}

export class PackedUserRecord implements XeroUserRecord {
  readonly #columns: UserColumns;
  readonly #index: number;

  constructor(columns: UserColumns, index: number) {
    this.#columns = columns;
    this.#index = index;
  }

  get organisationId(): string {
    return this.#columns.shared[this.#columns.sharedIndexes[SHARED * this.#index]!]!;
  }

  get xeroUserId(): string {
    return this.#columns.own(this.#index, 0);
  }

  get email(): string {
    return this.#columns.own(this.#index, 1);
  }

  get firstName(): string {
    return this.#columns.shared[this.#columns.sharedIndexes[SHARED * this.#index + 1]!]!;
  }

  get lastName(): string {
    return this.#columns.shared[this.#columns.sharedIndexes[SHARED * this.#index + 2]!]!;
  }

  get role(): OrganisationRole {
    return ORGANISATION_ROLES[this.#columns.flags[this.#index]! & ~SUBSCRIBER_BIT]!;
  }

  get isSubscriber(): boolean {
    return (this.#columns.flags[this.#index]! & SUBSCRIBER_BIT) !== 0;
  }

  get updatedAt(): string {
    return this.#columns.own(this.#index, 2);
  }

  /**
   * The text and bounds of `users`' own strings when they are exactly the records of one packed list, in its order
   * (as a list packed once and kept stays): a state file takes the text as it is.
   */
  static ownStringsOf(users: readonly XeroUserRecord[]): { readonly text: string; readonly bounds: Int32Array } | undefined {
    const columns = PackedUserRecord.wholeList(users);
    return columns && { text: columns.text, bounds: columns.bounds };
  }

  /**
   * Whether two lists hold the same records, when each is exactly the records of one packed list in its order (what a
   * sync compares: Xero's answer with the last data); undefined otherwise. Compares the columns, making no string.
   */
  static sameLists(a: readonly XeroUserRecord[], b: readonly XeroUserRecord[]): boolean | undefined {
    const x = PackedUserRecord.wholeList(a);
    const y = PackedUserRecord.wholeList(b);
    if (x === undefined || y === undefined) return undefined;
    if (x === y) return true;
    if (x.flags.length !== y.flags.length || x.text !== y.text) return false;
    for (let k = 0; k < x.bounds.length; k++) if (x.bounds[k] !== y.bounds[k]) return false;
    for (let i = 0; i < x.flags.length; i++) if (x.flags[i] !== y.flags[i]) return false;
    for (let k = 0; k < x.sharedIndexes.length; k++) {
      if (x.shared[x.sharedIndexes[k]!] !== y.shared[y.sharedIndexes[k]!]) return false;
    }
    return true;
  }

  /** The columns `users` are exactly the records of, in order; undefined when they are not one packed list. */
  private static wholeList(users: readonly XeroUserRecord[]): UserColumns | undefined {
    const first = users[0];
    if (!(first instanceof PackedUserRecord)) return undefined;
    const columns = first.#columns;
    if (columns.flags.length !== users.length) return undefined;
    for (let i = 0; i < users.length; i++) {
      const user = users[i];
      if (!(user instanceof PackedUserRecord) || user.#columns !== columns || user.#index !== i) return undefined;
    }
    return columns;
  }

  /** The plain record, with the fields in the order every other record has them. */
  toJSON(): XeroUserRecord {
    return {
      organisationId: this.organisationId,
      xeroUserId: this.xeroUserId,
      email: this.email,
      firstName: this.firstName,
      lastName: this.lastName,
      role: this.role,
      isSubscriber: this.isSubscriber,
      updatedAt: this.updatedAt,
    };
  }
}

/** Whether every record of `users` is packed already (an empty list counts as packed: there is nothing to gain). */
export function isPacked(users: readonly XeroUserRecord[]): boolean {
  for (const user of users) if (!(user instanceof PackedUserRecord)) return false;
  return true;
}

/**
 * The same records, packed (see the module's comment). Throws a `RangeError` for a role outside
 * `ORGANISATION_ROLES`, which the model's type already rules out. `users` itself is answered when it is packed.
 */
export function packUsers(users: readonly XeroUserRecord[]): readonly XeroUserRecord[] {
  if (isPacked(users)) return users;
  const n = users.length;
  const shared: string[] = [];
  const sharedIndex = new Map<string, number>();
  const sharedIndexes = new Int32Array(SHARED * n);
  const bounds = new Int32Array(OWN * n + 1);
  const flags = new Uint8Array(n);
  const parts: string[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const user = users[i]!;
    for (let f = 0; f < SHARED; f++) {
      const value = wellFormed(user[SHARED_FIELDS[f]!]);
      let index = sharedIndex.get(value);
      if (index === undefined) sharedIndex.set(value, (index = shared.push(value) - 1));
      sharedIndexes[SHARED * i + f] = index;
    }
    for (let f = 0; f < OWN; f++) {
      const value = wellFormed(user[OWN_FIELDS[f]!]);
      bounds[OWN * i + f] = at;
      at += value.length;
      parts.push(value);
    }
    const role = ORGANISATION_ROLES.indexOf(user.role);
    if (role < 0) throw new RangeError(`user ${user.xeroUserId}: unknown role ${JSON.stringify(user.role)}`);
    flags[i] = role | (user.isSubscriber ? SUBSCRIBER_BIT : 0);
  }
  bounds[OWN * n] = at;
  return packedRecords({ shared, sharedIndexes, text: parts.join(''), bounds, flags });
}

/** What packed records are made from; see `UserColumns` for each part. */
export interface PackedColumns {
  readonly shared: readonly string[];
  readonly sharedIndexes: Int32Array;
  readonly text: string;
  readonly bounds: Int32Array;
  readonly flags: Uint8Array;
}

/**
 * The records of columns a caller has built and checked (a state file's decoder): every index in range, every flag a
 * role of `ORGANISATION_ROLES` with the subscriber bit.
 */
export function packedRecords(parts: PackedColumns): XeroUserRecord[] {
  const columns = new UserColumns(parts.shared, parts.sharedIndexes, parts.text, parts.bounds, parts.flags);
  return Array.from({ length: parts.flags.length }, (_, i) => new PackedUserRecord(columns, i));
}

/**
 * `value` with any unpaired surrogate replaced by U+FFFD, as UTF-8 (the state file) can only carry it: the records held
 * and the ones a restart reads back must be the same, or a restarted replica would build another content version.
 */
function wellFormed(value: string): string {
  return value.isWellFormed() ? value : value.toWellFormed();
}
