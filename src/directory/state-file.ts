/**
 * Format 2 of STATE_DIR's directory state: a binary file a restart reads, checks and decodes in about a second at a
 * million memberships; one JSON document of the same directory (format 1, still read) costs several times that.
 *
 * The organisations, health, detail ages and suspicions (thousands of small objects) travel as one JSON outline,
 * validated with the zod schemas of `persisted-shape.ts`. The users (a million records of eight fields) travel as
 * columns: strings in a table (organisation ids and names once each, see `SHARED_COLUMNS`), and per record the index
 * of each of its strings plus one byte for its role and subscriber bit. Decoding creates each string of the table
 * once and the records that refer to it share it, and every index
 * and role is bounds-checked on the way, so a file that passes the checksum still cannot yield a record that
 * format 1's schema would refuse.
 *
 * Layout, little-endian, each section after the outline starting on a 4-byte boundary:
 *
 *     0   magic "XSCIMDIR" (8 bytes)
 *     8   u32 format number (2)
 *     12  u32 CRC-32 (zlib) of the body
 *     16  u32 × 2 body length (low, high)
 *     24  body:
 *         u32 outline length, outline JSON (UTF-8), zero padding
 *         u32 string count, u32 chunk count, u32 user count
 *         u32[chunks] chunk byte lengths, u32[chunks] strings per chunk
 *         u32[strings] string lengths (UTF-16 code units)
 *         u32[users] × 6 columns: organisationId, xeroUserId, email, firstName, lastName, updatedAt (string indexes)
 *         u8[users] role (index in the model's ORGANISATION_ROLES) | isSubscriber << 7, zero padding
 *         chunk bytes (UTF-8)
 *
 * The string table is cut into chunks, one per organisation (the strings that organisation used first). A chunk is
 * decoded as one JS string and its strings are slices of it, which is much faster than creating a million strings
 * from bytes one by one; an organisation's strings keep only its own chunk alive once the others are replaced.
 */
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { ORGANISATION_ROLES, type OrganisationRole, type TenantData, type XeroUserRecord } from './model';
import {
  type PersistedDirectory,
  SnapshotStoreError,
  firstIssue,
  healthSchema,
  organisationSchema,
  suspicionSchema,
} from './persisted-shape';
import { SLICE_MS, type Steps, runInSlices } from './slices';

const STATE_FILE_MAGIC = Buffer.from('XSCIMDIR', 'latin1');
export const STATE_FILE_FORMAT = 2;
const HEADER_BYTES = 24;
const SUBSCRIBER_BIT = 0x80;
const COLUMNS = ['organisationId', 'xeroUserId', 'email', 'firstName', 'lastName', 'updatedAt'] as const;
/**
 * The columns whose values repeat across records (an organisation id, names) and are written once each. The others
 * are close to one value a record (a user id, an e-mail, an instant): looking each up in a table of millions would
 * cost seconds and hundreds of MiB while saving a few, so each is written where it occurs.
 */
const SHARED_COLUMNS: ReadonlySet<(typeof COLUMNS)[number]> = new Set(['organisationId', 'firstName', 'lastName']);
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The JSON part: everything but the users, and each organisation's user count. */
const outlineSchema = z.object({
  savedAt: z.string(),
  tenants: z.array(z.object({ organisation: organisationSchema, syncedAt: z.string(), users: z.number().int().min(0) })),
  health: z.array(healthSchema),
  organisationsFetchedAt: z.record(z.string(), z.string()),
  suspicions: z.record(z.string(), suspicionSchema).optional(),
  version: z.string().optional(),
});
type Outline = z.infer<typeof outlineSchema>;

/** Whether `bytes` start as a format-2 file does (a format-1 file is JSON and starts with `{`). */
function isStateFile(bytes: Uint8Array): boolean {
  return bytes.length >= STATE_FILE_MAGIC.length && STATE_FILE_MAGIC.equals(bytes.subarray(0, STATE_FILE_MAGIC.length));
}

// --- encoding ---

/** Distinct strings in order of first use, cut into one chunk per organisation (the strings it used first). */
class StringTable {
  private readonly indexes = new Map<string, number>();
  readonly lengths: number[] = [];
  readonly chunks: string[] = [];
  readonly chunkCounts: number[] = [];
  private pending: string[] = [];

  /** The index of `value`, added once however often it is asked for. */
  index(value: string): number {
    let index = this.indexes.get(value);
    if (index === undefined) {
      index = this.append(value);
      this.indexes.set(value, index);
    }
    return index;
  }

  /** A new index for `value`, without looking for an earlier one. */
  append(value: string): number {
    this.lengths.push(value.length);
    this.pending.push(value);
    return this.lengths.length - 1;
  }

  endChunk(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(this.pending.join(''));
    this.chunkCounts.push(this.pending.length);
    this.pending = [];
  }
}

function roleByte(user: XeroUserRecord): number {
  const role = ORGANISATION_ROLES.indexOf(user.role);
  if (role < 0) throw new SnapshotStoreError(`cannot save user ${user.xeroUserId}: unknown role ${JSON.stringify(user.role)}`);
  return role | (user.isSubscriber ? SUBSCRIBER_BIT : 0);
}

const pad4 = (n: number): number => (n + 3) & ~3;

/** Bytes checksummed in one step. */
const CRC_PIECE_BYTES = 4 * 2 ** 20;

/**
 * The file's bytes for `state`, encoded in slices of `sliceMs` with a turn of the event loop between them: a
 * million memberships take seconds to encode, and a server that held its loop that long would miss its probes and
 * keep pollers waiting at every save. Throws `SnapshotStoreError` for a role outside `ORGANISATION_ROLES`.
 */
export function encodeStateFile(state: PersistedDirectory, sliceMs: number = SLICE_MS): Promise<Buffer> {
  return runInSlices(encodeSteps(state), sliceMs);
}

function* encodeSteps(state: PersistedDirectory): Steps<Buffer> {
  const userCount = state.tenants.reduce((n, t) => n + t.users.length, 0);
  const columns = COLUMNS.map(() => new Uint32Array(userCount));
  const roles = new Uint8Array(userCount);
  const strings = new StringTable();
  // A value equal to the same column's in the previous record (the organisation id, often a name) skips the lookup.
  const previous = COLUMNS.map(() => '');
  const previousIndex = COLUMNS.map(() => -1);
  const shared = COLUMNS.map((name) => SHARED_COLUMNS.has(name));
  let i = 0;
  for (const tenant of state.tenants) {
    for (const user of tenant.users) {
      for (let c = 0; c < COLUMNS.length; c++) {
        const value = user[COLUMNS[c]!];
        if (value !== previous[c] || previousIndex[c]! < 0) {
          previous[c] = value;
          previousIndex[c] = shared[c] ? strings.index(value) : strings.append(value);
        }
        columns[c]![i] = previousIndex[c]!;
      }
      roles[i++] = roleByte(user);
    }
    strings.endChunk();
    yield;
  }
  const outline: Outline = {
    savedAt: state.savedAt,
    tenants: state.tenants.map((t) => ({ organisation: t.organisation, syncedAt: t.syncedAt, users: t.users.length })),
    health: [...state.health],
    organisationsFetchedAt: state.organisationsFetchedAt,
    ...(state.suspicions ? { suspicions: state.suspicions } : {}),
    ...(state.version ? { version: state.version } : {}),
  };
  const outlineBytes = Buffer.from(JSON.stringify(outline), 'utf8');
  const chunkBytes = strings.chunks.map((chunk) => Buffer.byteLength(chunk, 'utf8'));
  const chunkCount = strings.chunks.length;
  const stringCount = strings.lengths.length;
  const u32Count = 3 + 2 * chunkCount + stringCount + COLUMNS.length * userCount;
  const bodyLength = pad4(4 + outlineBytes.length) + 4 * u32Count + pad4(userCount) + chunkBytes.reduce((a, b) => a + b, 0);
  const file = Buffer.alloc(HEADER_BYTES + bodyLength);

  let at = HEADER_BYTES;
  at = file.writeUInt32LE(outlineBytes.length, at);
  at = pad4(at + outlineBytes.copy(file, at));
  for (const n of [stringCount, chunkCount, userCount]) at = file.writeUInt32LE(n, at);
  at = writeU32s(file, at, chunkBytes);
  at = writeU32s(file, at, strings.chunkCounts);
  at = writeU32s(file, at, strings.lengths);
  for (const column of columns) {
    at = writeU32s(file, at, column);
    yield;
  }
  file.set(roles, at);
  at = pad4(at + userCount);
  for (const chunk of strings.chunks) {
    at += file.write(chunk, at, 'utf8');
    yield;
  }

  STATE_FILE_MAGIC.copy(file, 0);
  file.writeUInt32LE(STATE_FILE_FORMAT, 8);
  let crc = 0;
  for (let from = HEADER_BYTES; from < file.length; from += CRC_PIECE_BYTES) {
    crc = crc32(file.subarray(from, Math.min(file.length, from + CRC_PIECE_BYTES)), crc);
    yield;
  }
  file.writeUInt32LE(crc, 12);
  file.writeUInt32LE(bodyLength % 2 ** 32, 16);
  file.writeUInt32LE(Math.floor(bodyLength / 2 ** 32), 20);
  return file;
}

function writeU32s(file: Buffer, at: number, values: ArrayLike<number>): number {
  const n = values.length;
  if (LITTLE_ENDIAN) {
    const words = values instanceof Uint32Array ? values : Uint32Array.from(values);
    file.set(new Uint8Array(words.buffer, words.byteOffset, 4 * n), at);
  } else {
    for (let k = 0; k < n; k++) file.writeUInt32LE(values[k]!, at + 4 * k);
  }
  return at + 4 * n;
}

// --- decoding ---

/** Reads the body front to back, refusing to read past its end. */
class BodyReader {
  at: number;
  constructor(
    private readonly file: Buffer,
    private readonly fail: (problem: string) => SnapshotStoreError,
  ) {
    this.at = HEADER_BYTES;
  }

  private take(bytes: number, what: string): number {
    const start = this.at;
    if (start + bytes > this.file.length) throw this.fail(`${what} runs past the end of the file`);
    this.at = start + bytes;
    return start;
  }

  u32(what: string): number {
    return this.file.readUInt32LE(this.take(4, what));
  }

  u32s(count: number, what: string): Uint32Array {
    const start = this.take(4 * count, what);
    const offset = this.file.byteOffset + start;
    if (LITTLE_ENDIAN && offset % 4 === 0) return new Uint32Array(this.file.buffer, offset, count);
    const words = new Uint32Array(count);
    for (let k = 0; k < count; k++) words[k] = this.file.readUInt32LE(start + 4 * k);
    return words;
  }

  bytes(count: number, what: string): Buffer {
    const start = this.take(count, what);
    return this.file.subarray(start, start + count);
  }

  align(): void {
    this.at = pad4(this.at);
  }
}

/**
 * The state in a format-2 file's bytes. Throws `SnapshotStoreError` naming `source` and the problem: not this
 * format, a format this code does not read, truncated, checksum mismatch, or an outline, count, index or role out
 * of range.
 */
export function decodeStateFile(file: Buffer, source: string): PersistedDirectory {
  const fail = (problem: string) => new SnapshotStoreError(`${source}: ${problem}`);
  checkHeader(file, fail);
  const body = new BodyReader(file, fail);
  const outline = readOutline(body, fail);
  const stringCount = body.u32('the string count');
  const chunkCount = body.u32('the chunk count');
  const userCount = body.u32('the user count');
  const chunkBytes = body.u32s(chunkCount, 'the chunk table');
  const chunkCounts = body.u32s(chunkCount, 'the chunk table');
  const lengths = body.u32s(stringCount, 'the string lengths');
  const columns = COLUMNS.map((name) => body.u32s(userCount, `the ${name} column`));
  const roles = body.bytes(userCount, 'the role column');
  body.align();
  const strings = readStrings(body, { stringCount, chunkBytes, chunkCounts, lengths }, fail);
  if (body.at !== file.length) throw fail(`${file.length - body.at} unexpected bytes after the string table`);
  columns.forEach((column, c) => checkIndexes(column, stringCount, COLUMNS[c]!, fail));
  return {
    format: 1,
    savedAt: outline.savedAt,
    tenants: buildTenants(outline, userCount, columns, roles, strings, fail),
    health: outline.health,
    organisationsFetchedAt: outline.organisationsFetchedAt,
    ...(outline.suspicions ? { suspicions: outline.suspicions } : {}),
    ...(outline.version ? { version: outline.version } : {}),
  } as PersistedDirectory;
}

function checkHeader(file: Buffer, fail: (problem: string) => SnapshotStoreError): void {
  if (!isStateFile(file)) throw fail('not a directory state file (no XSCIMDIR magic)');
  if (file.length < HEADER_BYTES) throw fail(`truncated: ${file.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  const format = file.readUInt32LE(8);
  if (format !== STATE_FILE_FORMAT) throw fail(`directory state format ${format}, this version reads formats 1 and ${STATE_FILE_FORMAT}`);
  const bodyLength = file.readUInt32LE(16) + file.readUInt32LE(20) * 2 ** 32;
  const present = file.length - HEADER_BYTES;
  if (present < bodyLength) throw fail(`truncated: ${present} of ${bodyLength} bytes after the header`);
  if (present > bodyLength) throw fail(`${present - bodyLength} unexpected bytes after the ${bodyLength} announced`);
  if (crc32(file.subarray(HEADER_BYTES)) !== file.readUInt32LE(12)) throw fail('checksum mismatch: the file is corrupt');
}

function readOutline(body: BodyReader, fail: (problem: string) => SnapshotStoreError): Outline {
  const bytes = body.bytes(body.u32('the outline length'), 'the outline');
  body.align();
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw fail('the outline is not valid JSON');
  }
  const result = outlineSchema.safeParse(json);
  if (!result.success) throw fail(`not a directory state of this version (${firstIssue(result.error)})`);
  return result.data;
}

interface StringTableLayout {
  readonly stringCount: number;
  readonly chunkBytes: Uint32Array;
  readonly chunkCounts: Uint32Array;
  readonly lengths: Uint32Array;
}

/** Each chunk decoded once; its strings are slices of it. */
function readStrings(body: BodyReader, layout: StringTableLayout, fail: (problem: string) => SnapshotStoreError): string[] {
  const strings = new Array<string>(layout.stringCount);
  let s = 0;
  for (let c = 0; c < layout.chunkBytes.length; c++) {
    const text = body.bytes(layout.chunkBytes[c]!, `string chunk ${c}`).toString('utf8');
    const end = s + layout.chunkCounts[c]!;
    if (end > layout.stringCount) throw fail(`string chunk ${c} holds more strings than the table`);
    let at = 0;
    for (; s < end; s++) {
      const length = layout.lengths[s]!;
      strings[s] = text.slice(at, at + length);
      at += length;
    }
    if (at !== text.length) throw fail(`string chunk ${c} is ${text.length} characters, its strings ${at}`);
  }
  if (s !== layout.stringCount) throw fail(`the chunks hold ${s} of ${layout.stringCount} strings`);
  return strings;
}

function checkIndexes(column: Uint32Array, count: number, name: string, fail: (problem: string) => SnapshotStoreError): void {
  for (let i = 0; i < column.length; i++) {
    if (column[i]! >= count) throw fail(`user ${i}: ${name} refers to string ${column[i]} of ${count}`);
  }
}

function buildTenants(
  outline: Outline,
  userCount: number,
  columns: readonly Uint32Array[],
  roles: Uint8Array,
  strings: readonly string[],
  fail: (problem: string) => SnapshotStoreError,
): TenantData[] {
  const announced = outline.tenants.reduce((n, t) => n + t.users, 0);
  if (announced !== userCount) throw fail(`the organisations list ${announced} users, the columns ${userCount}`);
  const [organisationIds, xeroUserIds, emails, firstNames, lastNames, updatedAts] = columns as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let i = 0;
  return outline.tenants.map((tenant) => {
    const users = new Array<XeroUserRecord>(tenant.users);
    for (let k = 0; k < tenant.users; k++, i++) {
      const role = roles[i]! & ~SUBSCRIBER_BIT;
      if (role >= ORGANISATION_ROLES.length) throw fail(`user ${i}: role ${role} is not one of the ${ORGANISATION_ROLES.length} roles`);
      const organisationId = strings[organisationIds[i]!]!;
      const xeroUserId = strings[xeroUserIds[i]!]!;
      if (organisationId.length === 0 || xeroUserId.length === 0) throw fail(`user ${i}: empty organisationId or xeroUserId`);
      users[k] = {
        organisationId,
        xeroUserId,
        email: strings[emails[i]!]!,
        firstName: strings[firstNames[i]!]!,
        lastName: strings[lastNames[i]!]!,
        role: ORGANISATION_ROLES[role] as OrganisationRole,
        isSubscriber: (roles[i]! & SUBSCRIBER_BIT) !== 0,
        updatedAt: strings[updatedAts[i]!]!,
      };
    }
    return { organisation: tenant.organisation, users, syncedAt: tenant.syncedAt } as TenantData;
  });
}
