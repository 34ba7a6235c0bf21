/**
 * Every suite's setup: a packed Xero user record (`src/directory/packed-users.ts`) equals a plain record with the same
 * fields, as it does for the code (it has the same fields, read through getters, and `toJSON` gives the plain one).
 * Jest compares objects by their own properties, which a packed record keeps in its columns.
 */
import { expect } from '@jest/globals';
import { PackedUserRecord } from '../../src/directory/packed-users';

type Tester = Parameters<typeof expect.addEqualityTesters>[0][number];

const plain = (value: unknown): unknown => (value instanceof PackedUserRecord ? value.toJSON() : value);

const packedRecordEquality: Tester = function (a, b, testers) {
  if (!(a instanceof PackedUserRecord) && !(b instanceof PackedUserRecord)) return undefined;
  // The matcher's own testers go on (toMatchObject's compares a subset). A tester is not told whether the matcher is
  // strict, so toStrictEqual compares a packed record as toEqual does (undefined fields are not told apart).
  return this.equals(plain(a), plain(b), testers);
};

expect.addEqualityTesters([packedRecordEquality]);
