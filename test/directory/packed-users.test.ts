/**
 * Packed Xero user records (`src/directory/packed-users.ts`) read back exactly the records they were made from, in
 * every form the directory hands them on (fields, JSON, a state file), and a state file decodes into them, whatever
 * layout of its strings it was written with.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { XeroUserRecord } from '../../src/directory/model';
import { PackedUserRecord, isPacked, packUsers } from '../../src/directory/packed-users';
import type { PersistedDirectory } from '../../src/directory/persistence';
import { decodeStateFile, encodeStateFile } from '../../src/directory/state-file';

const FIXTURES = path.join(__dirname, 'fixtures');
/** A state with strings shared across records and organisations, written by a version that stored each once. */
const SHARED: PersistedDirectory = JSON.parse(readFileSync(path.join(FIXTURES, 'state-shared-strings.json'), 'utf8'));
const SHARED_FILE = readFileSync(path.join(FIXTURES, 'state-shared-strings.state'));

const FIELDS = ['organisationId', 'xeroUserId', 'email', 'firstName', 'lastName', 'role', 'isSubscriber', 'updatedAt'] as const;
const fieldsOf = (record: XeroUserRecord) => FIELDS.map((field) => record[field]);

describe('packed user records', () => {
  const plain = SHARED.tenants.flatMap((t) => t.users);

  it('read back every field of the records they were made from: empty, long and non-Latin-1 strings included', () => {
    const packed = packUsers(plain);
    expect(packed).toHaveLength(plain.length);
    packed.forEach((record, i) => {
      expect(record).toBeInstanceOf(PackedUserRecord);
      expect(fieldsOf(record)).toEqual(fieldsOf(plain[i]!));
    });
    expect(packed.map((r) => r.email)).toContain('');
    expect(packed.map((r) => r.lastName)).toContain('Ångström-Łukasiewicz');
  });

  it('serialise as the plain records do, field for field and in the same order', () => {
    expect(JSON.stringify(packUsers(plain))).toBe(JSON.stringify(plain));
  });

  it('are packed once: a packed list is answered as it is', () => {
    const packed = packUsers(plain);
    expect(isPacked(plain)).toBe(false);
    expect(isPacked(packed)).toBe(true);
    expect(packUsers(packed)).toBe(packed);
    expect(isPacked([])).toBe(true);
  });

  it('compare list to list by their columns: the same records packed twice are the same, any changed field is not', () => {
    const users = SHARED.tenants[0]!.users;
    expect(PackedUserRecord.sameLists(packUsers(users), packUsers(users.map((u) => ({ ...u }))))).toBe(true);
    const changes: Partial<XeroUserRecord>[] = [{ firstName: 'Zoe' }, { email: 'ZOE@harbourhale.co.uk' }, { role: 'READONLY' }, { isSubscriber: true }, { updatedAt: '2026-11-20T09:15:00.001Z' }, { xeroUserId: 'x' }];
    for (const change of changes) {
      const changed = packUsers(users.map((u, i) => (i === 1 ? { ...u, ...change } : u)));
      expect(PackedUserRecord.sameLists(packUsers(users), changed)).toBe(false);
    }
    // Not one packed list each (plain records, or a reordered list): the caller compares field by field.
    expect(PackedUserRecord.sameLists(users, packUsers(users))).toBeUndefined();
    expect(PackedUserRecord.sameLists([...packUsers(users)].reverse(), packUsers(users))).toBeUndefined();
  });

  it('hold an unpaired surrogate as U+FFFD, as a state file can carry it, so a restart reads back the same records', async () => {
    const odd = { ...plain[0]!, firstName: 'Pri\uD800ya', email: 'x\uDC00@example.com' };
    const [packed] = packUsers([odd]);
    expect([packed!.firstName, packed!.email]).toEqual(['Pri\uFFFDya', 'x\uFFFD@example.com']);
    const state: PersistedDirectory = { ...SHARED, tenants: [{ ...SHARED.tenants[0]!, users: [packed!] }] };
    const reread = decodeStateFile(await encodeStateFile(state, Number.POSITIVE_INFINITY), 'odd');
    expect(fieldsOf(reread.tenants[0]!.users[0]!)).toEqual(fieldsOf(packed!));
  });

  it('refuse a role the model does not know', () => {
    const bad = { ...plain[0]!, role: 'OWNER' } as unknown as XeroUserRecord;
    expect(() => packUsers([bad])).toThrow(new RangeError(`user ${bad.xeroUserId}: unknown role "OWNER"`));
  });
});

describe('a state file', () => {
  it('written with each shared string once (an older layout) decodes into packed records equal to the state', () => {
    const decoded = decodeStateFile(SHARED_FILE, 'fixture');
    expect(decoded).toEqual(SHARED);
    for (const tenant of decoded.tenants) expect(isPacked(tenant.users)).toBe(true);
  });

  it('written by this version, from plain or packed records, decodes to the same state and the same bytes again', async () => {
    const fromPlain = await encodeStateFile(SHARED, Number.POSITIVE_INFINITY);
    const decoded = decodeStateFile(fromPlain, 'plain');
    expect(decoded).toEqual(SHARED);
    for (const tenant of decoded.tenants) expect(isPacked(tenant.users)).toBe(true);
    // Packed records read from a file are written back with their text as it is: the same bytes.
    expect((await encodeStateFile(decoded, Number.POSITIVE_INFINITY)).equals(fromPlain)).toBe(true);
    // A shared e-mail or time is written where it occurs: a little larger than the older layout.
    expect(fromPlain.length).toBeGreaterThan(SHARED_FILE.length);
  });
});
