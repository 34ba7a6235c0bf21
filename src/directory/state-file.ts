/**
 * Format 3 of STATE_DIR's directory state: a binary file a restart reads, checks and decodes in about a second at a
 * million memberships; one JSON document of the same directory (format 1, still read) costs several times that.
 *
 * The organisations, health, detail ages and suspicions (thousands of small objects) travel as one JSON outline,
 * validated with the zod schemas of `persisted-shape.ts`. The users (a million records of eight fields) travel as
 * columns: strings in a table, and per record the index of each of its strings plus one byte for its role and
 * subscriber bit. Organisation ids and names are in the table once each (`SHARED_COLUMNS`); each organisation's user
 * ids, e-mails and times are one chunk of it, in record order (`OWN_COLUMNS`). Decoding makes each organisation's
 * users packed records (`packed-users.ts`) whose text is that chunk, decoded once, and every index and role is
 * bounds-checked on the way, so a file that passes the checksum still cannot yield a record that format 1's schema
 * would refuse.
 *
 * A state saved with its people (`PersistedDirectory.people`: each record's person, every person's id, each group's
 * summary) has a people section as well: the outline says so, and holds the group summaries; the positions and the
 * ids' lengths follow the roles, the ids' text comes last. Format 2 is format 3 without that section.
 *
 * Layout, little-endian, each section after the outline starting on a 4-byte boundary:
 *
 *     0   magic "XSCIMDIR" (8 bytes)
 *     8   u32 format number (3)
 *     12  u32 CRC-32 (zlib) of the body
 *     16  u32 × 2 body length (low, high)
 *     24  body:
 *         u32 outline length, outline JSON (UTF-8), zero padding
 *         u32 string count, u32 chunk count, u32 user count
 *         u32[chunks] chunk byte lengths, u32[chunks] strings per chunk
 *         u32[strings] string lengths (UTF-16 code units)
 *         u32[users] × 6 columns: organisationId, xeroUserId, email, firstName, lastName, updatedAt (string indexes)
 *         u8[users] role (index in the model's ORGANISATION_ROLES) | isSubscriber << 7, zero padding
 *         with people: i32[users] each record's person's position (-1: none), u32[people] id lengths (UTF-16)
 *         chunk bytes (UTF-8)
 *         with people: the ids back to back (UTF-8, as many bytes as the outline's `people.textBytes`)
 *
 * The string table is cut into chunks, two per organisation: the organisation ids and names it used first, then its
 * records' own strings. A chunk is decoded as one JS string, which is much faster than creating a million strings
 * from bytes one by one. A file whose own strings are laid out otherwise (written before they had chunks of their
 * own) is read as well: its records' strings are gathered into a text per organisation.
 */
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import { type DerivedPeople, ORGANISATION_ROLES, type TenantData, type XeroUserRecord } from './model';
import {
  type PersistedDirectory,
  SnapshotStoreError,
  firstIssue,
  healthSchema,
  organisationSchema,
  suspicionSchema,
} from './persisted-shape';
import { OWN_FIELDS, PackedUserRecord, SHARED_FIELDS, SUBSCRIBER_BIT, packedRecords } from './packed-users';
import { SLICE_MS, type Steps, runInSlices } from './slices';

const STATE_FILE_MAGIC = Buffer.from('XSCIMDIR', 'latin1');
export const STATE_FILE_FORMAT = 3;
/** The format before the people section: read as well. */
const PREVIOUS_FORMAT = 2;
const HEADER_BYTES = 24;
const COLUMNS = ['organisationId', 'xeroUserId', 'email', 'firstName', 'lastName', 'updatedAt'] as const;
/**
 * The columns whose values repeat across records (an organisation id, names), written once each in chunks of their
 * own. The others are close to one value a record (a user id, an e-mail, an instant): looking each up in a table of
 * millions would cost seconds and hundreds of MiB to save a few, so each organisation's are written in one chunk, in
 * record order, which a decoder takes whole as the text of its packed records. Both in the order packed records keep
 * them (`packed-users.ts`).
 */
const SHARED_COLUMNS = SHARED_FIELDS;
const OWN_COLUMNS = OWN_FIELDS;
const OWN = OWN_COLUMNS.length;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The JSON part: everything but the users, and each organisation's user count. */
const outlineSchema = z.object({
  savedAt: z.string(),
  tenants: z.array(z.object({ organisation: organisationSchema, syncedAt: z.string(), users: z.number().int().min(0) })),
  health: z.array(healthSchema),
  organisationsFetchedAt: z.record(z.string(), z.string()),
  suspicions: z.record(z.string(), suspicionSchema).optional(),
  version: z.string().optional(),
  people: z
    .object({
      derivation: z.number().int(),
      count: z.number().int().min(0),
      textBytes: z.number().int().min(0),
      groups: z.array(z.tuple([z.string(), z.string()])),
    })
    .optional(),
});
type Outline = z.infer<typeof outlineSchema>;

/** Whether `bytes` start as a binary file does (a format-1 file is JSON and starts with `{`). */
function isStateFile(bytes: Uint8Array): boolean {
  return bytes.length >= STATE_FILE_MAGIC.length && STATE_FILE_MAGIC.equals(bytes.subarray(0, STATE_FILE_MAGIC.length));
}

// --- encoding ---

/** The strings of the file in order, cut into chunks; `index` adds a string once however often it is used. */
class StringTable {
  private readonly indexes = new Map<string, number>();
  /** Each string's length, in a typed array that grows by doubling: a JS array of millions would take twice the memory. */
  private lengthColumn = new Uint32Array(1024);
  /** How many strings there are. */
  count = 0;
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
    this.pushLength(value.length);
    this.pending.push(value);
    return this.count - 1;
  }

  /** The strings' lengths so far: a view, valid until the next string is added. */
  get lengths(): Uint32Array {
    return this.lengthColumn.subarray(0, this.count);
  }

  private pushLength(length: number): void {
    if (this.count === this.lengthColumn.length) {
      const bigger = new Uint32Array(this.lengthColumn.length * 2);
      bigger.set(this.lengthColumn);
      this.lengthColumn = bigger;
    }
    this.lengthColumn[this.count++] = length;
  }

  /**
   * New indexes for the strings of `text` that `bounds` cut it into (`bounds[k]` … `bounds[k + 1]`), as a chunk of
   * their own: `text` is taken as it is.
   */
  appendChunk(text: string, bounds: Int32Array): number {
    this.endChunk();
    const first = this.count;
    for (let k = 0; k + 1 < bounds.length; k++) this.pushLength(bounds[k + 1]! - bounds[k]!);
    if (bounds.length > 1) {
      this.chunks.push(text);
      this.chunkCounts.push(bounds.length - 1);
    }
    return first;
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

/** The longest text an organisation's records are gathered into: V8's limit on a string's length, with room to spare. */
const MAX_TEXT_LENGTH = 2 ** 28;

/** Bytes checksummed between two turns of the event loop. */
const CRC_PIECE_BYTES = 4 * 2 ** 20;

/** A state file as the pieces it is written from, in order: strings are written as UTF-8. */
export interface StateFilePieces {
  readonly pieces: readonly (string | Uint8Array)[];
  /** Bytes in all. */
  readonly length: number;
}

/**
 * The file's bytes for `state`, encoded in slices of `sliceMs` with a turn of the event loop between them: a
 * million memberships take a second to encode, and a server that held its loop that long would miss its probes and
 * keep pollers waiting at every save. Throws `SnapshotStoreError` for a role outside `ORGANISATION_ROLES`.
 */
export async function encodeStateFile(state: PersistedDirectory, sliceMs: number = SLICE_MS): Promise<Buffer> {
  const { pieces, length } = await encodeStateFilePieces(state, sliceMs);
  return Buffer.concat(pieces.map((piece) => (typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece)), length);
}

/**
 * The same file as pieces, to be written one after another (`writeFileDurably`): the columns and the organisations'
 * texts as they are held, instead of a copy of the whole file (139 MiB at a million memberships) at every save.
 */
export function encodeStateFilePieces(state: PersistedDirectory, sliceMs: number = SLICE_MS): Promise<StateFilePieces> {
  return runInSlices(encodeSteps(state), sliceMs);
}

function* encodeSteps(state: PersistedDirectory): Steps<StateFilePieces> {
  const userCount = state.tenants.reduce((n, t) => n + t.users.length, 0);
  const columns = COLUMNS.map(() => new Uint32Array(userCount));
  const roles = new Uint8Array(userCount);
  const strings = new StringTable();
  const shared = SHARED_COLUMNS.map((name) => columns[COLUMNS.indexOf(name)]!);
  const own = OWN_COLUMNS.map((name) => columns[COLUMNS.indexOf(name)]!);
  // A value equal to the same column's in the previous record (the organisation id, often a name) skips the lookup.
  const previous = SHARED_COLUMNS.map(() => '');
  const previousIndex = SHARED_COLUMNS.map(() => -1);
  let first = 0;
  for (const tenant of state.tenants) {
    // Each organisation: a chunk of the organisation ids and names not seen before, then a chunk of its records' own
    // strings, in record order.
    let i = first;
    for (const user of tenant.users) {
      for (let c = 0; c < SHARED_COLUMNS.length; c++) {
        const value = user[SHARED_COLUMNS[c]!];
        if (value !== previous[c] || previousIndex[c]! < 0) {
          previous[c] = value;
          previousIndex[c] = strings.index(value);
        }
        shared[c]![i] = previousIndex[c]!;
      }
      roles[i++] = roleByte(user);
    }
    strings.endChunk();
    i = first;
    const packed = PackedUserRecord.ownStringsOf(tenant.users);
    if (packed) {
      let s = strings.appendChunk(packed.text, packed.bounds);
      for (let k = 0; k < tenant.users.length; k++, i++) for (let c = 0; c < OWN_COLUMNS.length; c++) own[c]![i] = s++;
    } else {
      for (const user of tenant.users) {
        for (let c = 0; c < OWN_COLUMNS.length; c++) own[c]![i] = strings.append(user[OWN_COLUMNS[c]!]);
        i++;
      }
      strings.endChunk();
    }
    first = i;
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
  const people = state.people ? yield* peopleSection(state.people) : undefined;
  if (people) outline.people = people.outline;
  const outlineJson = Buffer.from(JSON.stringify(outline), 'utf8');
  const outlineBytes = Buffer.alloc(pad4(4 + outlineJson.length));
  outlineBytes.writeUInt32LE(outlineJson.length, 0);
  outlineJson.copy(outlineBytes, 4);
  const chunkBytes = strings.chunks.map((chunk) => Buffer.byteLength(chunk, 'utf8'));
  const chunkCount = strings.chunks.length;
  const stringCount = strings.count;
  // The counts and the chunk table; the string lengths follow as the column they were gathered in.
  const table = Buffer.alloc(4 * (3 + 2 * chunkCount));
  let at = 0;
  for (const n of [stringCount, chunkCount, userCount]) at = table.writeUInt32LE(n, at);
  at = writeU32s(table, at, chunkBytes);
  writeU32s(table, at, strings.chunkCounts);
  yield;
  const rolePiece = Buffer.alloc(pad4(userCount));
  rolePiece.set(roles);
  const body: (string | Uint8Array)[] = [outlineBytes, table, littleEndianBytes(strings.lengths), ...columns.map(littleEndianBytes), rolePiece];
  if (people) body.push(littleEndianBytes(new Uint32Array(people.positions.buffer, people.positions.byteOffset, people.positions.length)), littleEndianBytes(people.lengths));
  body.push(...strings.chunks);
  if (people) body.push(...people.texts);
  const textBytes = chunkBytes.reduce((a, b) => a + b, people?.outline.textBytes ?? 0);
  const bodyLength = body.reduce((n, piece) => n + (typeof piece === 'string' ? 0 : piece.length), textBytes);

  let crc = 0;
  let sinceYield = 0;
  for (const piece of body) {
    // Skipped, not passed on: Node's crc32 answers 0 for an empty view of an empty buffer, whatever it continues.
    if (piece.length === 0) continue;
    crc = crc32(piece, crc);
    sinceYield += piece.length;
    if (sinceYield >= CRC_PIECE_BYTES) {
      sinceYield = 0;
      yield;
    }
  }
  const header = Buffer.alloc(HEADER_BYTES);
  STATE_FILE_MAGIC.copy(header, 0);
  header.writeUInt32LE(STATE_FILE_FORMAT, 8);
  header.writeUInt32LE(crc, 12);
  header.writeUInt32LE(bodyLength % 2 ** 32, 16);
  header.writeUInt32LE(Math.floor(bodyLength / 2 ** 32), 20);
  return { pieces: [header, ...body], length: HEADER_BYTES + bodyLength };
}

interface PeopleSection {
  readonly outline: NonNullable<Outline['people']>;
  readonly positions: Int32Array;
  /** Each id's length in UTF-16 code units. */
  readonly lengths: Uint32Array;
  /** The ids back to back, in pieces of `IDS_PER_PART`, each checksummed and written on its own. */
  readonly texts: readonly string[];
}

/** A state's people as the file keeps them: their ids as texts, joined in slices (a million ids take a while). */
function* peopleSection(people: DerivedPeople): Steps<PeopleSection> {
  const lengths = new Uint32Array(people.count);
  const texts: string[] = [];
  let textBytes = 0;
  const part: string[] = [];
  for (let start = 0; start < people.count; start += IDS_PER_PART) {
    const end = Math.min(people.count, start + IDS_PER_PART);
    part.length = 0;
    for (let p = start; p < end; p++) {
      const id = people.idAt(p);
      lengths[p] = id.length;
      part.push(id);
    }
    const text = part.join('');
    texts.push(text);
    textBytes += Buffer.byteLength(text, 'utf8');
    yield;
  }
  return {
    outline: { derivation: people.derivation, count: people.count, textBytes, groups: people.groups.map((g) => [g.lastModified, g.membersDigest]) },
    positions: people.positions,
    lengths,
    texts,
  };
}

/** Ids joined between two turns of the event loop. */
const IDS_PER_PART = 2 ** 14;

/** A column's bytes, little-endian: the column itself where the machine is. */
function littleEndianBytes(column: Uint32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(column.buffer, column.byteOffset, column.byteLength);
  const bytes = Buffer.alloc(column.byteLength);
  writeU32s(bytes, 0, column);
  return bytes;
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
 * The state in a binary (format 2 or 3) file's bytes. Throws `SnapshotStoreError` naming `source` and the problem: not this
 * format, a format this code does not read, truncated, checksum mismatch, or an outline, count, index or role out
 * of range.
 */
export function decodeStateFile(file: Buffer, source: string): PersistedDirectory {
  const fail = (problem: string) => new SnapshotStoreError(`${source}: ${problem}`);
  const format = checkHeader(file, fail);
  const body = new BodyReader(file, fail);
  const outline = readOutline(body, fail);
  const peopleLayout = format === STATE_FILE_FORMAT ? outline.people : undefined;
  const stringCount = body.u32('the string count');
  const chunkCount = body.u32('the chunk count');
  const userCount = body.u32('the user count');
  const chunkBytes = body.u32s(chunkCount, 'the chunk table');
  const chunkCounts = body.u32s(chunkCount, 'the chunk table');
  const lengths = body.u32s(stringCount, 'the string lengths');
  const columns = COLUMNS.map((name) => body.u32s(userCount, `the ${name} column`));
  const roles = body.bytes(userCount, 'the role column');
  body.align();
  const positions = peopleLayout && body.u32s(userCount, 'the people column');
  const idLengths = peopleLayout && body.u32s(peopleLayout.count, 'the id lengths');
  const strings = readStrings(body, { stringCount, chunkBytes, chunkCounts, lengths }, fail);
  const people = peopleLayout && readPeople(body, peopleLayout, positions!, idLengths!, fail);
  if (body.at !== file.length) throw fail(`${file.length - body.at} unexpected bytes after the ${people ? 'ids' : 'string table'}`);
  columns.forEach((column, c) => checkIndexes(column, stringCount, COLUMNS[c]!, fail));
  return {
    format: 1,
    savedAt: outline.savedAt,
    tenants: buildTenants(outline, userCount, columns, roles, strings, fail),
    health: outline.health,
    organisationsFetchedAt: outline.organisationsFetchedAt,
    ...(outline.suspicions ? { suspicions: outline.suspicions } : {}),
    ...(outline.version ? { version: outline.version } : {}),
    ...(people ? { people } : {}),
  } as PersistedDirectory;
}

/** Checks the header and the checksum; answers the format number. */
function checkHeader(file: Buffer, fail: (problem: string) => SnapshotStoreError): number {
  if (!isStateFile(file)) throw fail('not a directory state file (no XSCIMDIR magic)');
  if (file.length < HEADER_BYTES) throw fail(`truncated: ${file.length} bytes, shorter than the ${HEADER_BYTES}-byte header`);
  const format = file.readUInt32LE(8);
  if (format !== STATE_FILE_FORMAT && format !== PREVIOUS_FORMAT) {
    throw fail(`directory state format ${format}, this version reads formats 1, ${PREVIOUS_FORMAT} and ${STATE_FILE_FORMAT}`);
  }
  const bodyLength = file.readUInt32LE(16) + file.readUInt32LE(20) * 2 ** 32;
  const present = file.length - HEADER_BYTES;
  if (present < bodyLength) throw fail(`truncated: ${present} of ${bodyLength} bytes after the header`);
  if (present > bodyLength) throw fail(`${present - bodyLength} unexpected bytes after the ${bodyLength} announced`);
  if (crc32(file.subarray(HEADER_BYTES)) !== file.readUInt32LE(12)) throw fail('checksum mismatch: the file is corrupt');
  return format;
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

/**
 * `value` as a string of its own: a slice of a chunk (a name, say) would keep the whole chunk alive for as long as
 * the name is held. Shorter strings are copied by `slice` already; `join` makes a new string of the same code units.
 */
function flat(value: string): string {
  return value.length < 13 ? value : value.split('').join('');
}

/** The file's strings: each chunk decoded once, one string made only when it is asked for. */
class FileStrings {
  /** The organisation ids and names made so far, so that every record that has one shares it. */
  private readonly made = new Map<number, string>();

  constructor(
    private readonly texts: readonly string[],
    /** Per string: its chunk, and where it starts in that chunk's text. */
    private readonly chunkOf: Uint32Array,
    private readonly startOf: Uint32Array,
    /** Per chunk: its first string; one more entry than chunks. */
    private readonly chunkFirst: Uint32Array,
    readonly lengths: Uint32Array,
  ) {}

  get(s: number): string {
    const start = this.startOf[s]!;
    return this.texts[this.chunkOf[s]!]!.slice(start, start + this.lengths[s]!);
  }

  /** A string many records share: made once, as a string of its own (not a slice keeping its chunk alive). */
  shared(s: number): string {
    let value = this.made.get(s);
    if (value === undefined) this.made.set(s, (value = flat(this.get(s))));
    return value;
  }

  /** The text of the chunk that holds exactly strings `first` … `first + count − 1`, if one does. */
  chunkOfExactly(first: number, count: number): string | undefined {
    const c = this.chunkOf[first]!;
    return this.chunkFirst[c] === first && this.chunkFirst[c + 1]! - first === count ? this.texts[c] : undefined;
  }
}

/** Each chunk decoded once, and where each string lies in it. */
function readStrings(body: BodyReader, layout: StringTableLayout, fail: (problem: string) => SnapshotStoreError): FileStrings {
  const texts: string[] = [];
  const chunkOf = new Uint32Array(layout.stringCount);
  const startOf = new Uint32Array(layout.stringCount);
  const chunkFirst = new Uint32Array(layout.chunkBytes.length + 1);
  let s = 0;
  for (let c = 0; c < layout.chunkBytes.length; c++) {
    const text = body.bytes(layout.chunkBytes[c]!, `string chunk ${c}`).toString('utf8');
    texts.push(text);
    chunkFirst[c] = s;
    const end = s + layout.chunkCounts[c]!;
    if (end > layout.stringCount) throw fail(`string chunk ${c} holds more strings than the table`);
    let at = 0;
    for (; s < end; s++) {
      chunkOf[s] = c;
      startOf[s] = at;
      at += layout.lengths[s]!;
    }
    if (at !== text.length) throw fail(`string chunk ${c} is ${text.length} characters, its strings ${at}`);
  }
  if (s !== layout.stringCount) throw fail(`the chunks hold ${s} of ${layout.stringCount} strings`);
  chunkFirst[layout.chunkBytes.length] = s;
  return new FileStrings(texts, chunkOf, startOf, chunkFirst, layout.lengths);
}

/**
 * The people section: each id a slice of one decoded text (made at once, no string per id decoded on its own). Only
 * its shape is checked here; whether the people fit the records is the snapshot's to judge (`snapshot.ts`), which
 * derives them again when they do not.
 */
function readPeople(
  body: BodyReader,
  layout: NonNullable<Outline['people']>,
  positions: Uint32Array,
  lengths: Uint32Array,
  fail: (problem: string) => SnapshotStoreError,
): DerivedPeople {
  const text = body.bytes(layout.textBytes, 'the ids').toString('utf8');
  const ids = new Array<string>(layout.count);
  let at = 0;
  for (let p = 0; p < layout.count; p++) {
    const end = at + lengths[p]!;
    if (end > text.length) throw fail(`id ${p} runs past the end of the ids`);
    ids[p] = text.slice(at, end);
    at = end;
  }
  if (at !== text.length) throw fail(`the ids are ${text.length} characters, their lengths add up to ${at}`);
  return {
    derivation: layout.derivation,
    // A copy, as signed numbers (none: -1): the column is a view of the whole file.
    positions: new Int32Array(positions),
    count: layout.count,
    idAt: (position) => ids[position]!,
    groups: layout.groups.map(([lastModified, membersDigest]) => ({ lastModified, membersDigest })),
  };
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
  strings: FileStrings,
  fail: (problem: string) => SnapshotStoreError,
): TenantData[] {
  const announced = outline.tenants.reduce((n, t) => n + t.users, 0);
  if (announced !== userCount) throw fail(`the organisations list ${announced} users, the columns ${userCount}`);
  const column = (name: (typeof COLUMNS)[number]) => columns[COLUMNS.indexOf(name)]!;
  const shared = SHARED_COLUMNS.map(column);
  const own = OWN_COLUMNS.map(column);
  const [organisationIds, xeroUserIds] = [column('organisationId'), column('xeroUserId')];
  let first = 0;
  return outline.tenants.map((tenant) => {
    const n = tenant.users;
    const end = first + n;
    // A copy: `roles` is a view of the whole file, which a Buffer's slice would keep alive.
    const flags = new Uint8Array(roles.subarray(first, end));
    const local = new Map<number, number>();
    const sharedStrings: string[] = [];
    const sharedIndexes = new Int32Array(SHARED_COLUMNS.length * n);
    const bounds = new Int32Array(OWN * n + 1);
    let at = 0;
    for (let i = first, k = 0; i < end; i++, k++) {
      const role = roles[i]! & ~SUBSCRIBER_BIT;
      if (role >= ORGANISATION_ROLES.length) throw fail(`user ${i}: role ${role} is not one of the ${ORGANISATION_ROLES.length} roles`);
      if (strings.lengths[organisationIds[i]!] === 0 || strings.lengths[xeroUserIds[i]!] === 0) throw fail(`user ${i}: empty organisationId or xeroUserId`);
      for (let c = 0; c < SHARED_COLUMNS.length; c++) {
        const s = shared[c]![i]!;
        let index = local.get(s);
        if (index === undefined) local.set(s, (index = sharedStrings.push(strings.shared(s)) - 1));
        sharedIndexes[SHARED_COLUMNS.length * k + c] = index;
      }
      for (let c = 0; c < OWN; c++) {
        bounds[OWN * k + c] = at;
        at += strings.lengths[own[c]![i]!]!;
      }
    }
    bounds[OWN * n] = at;
    const users = packedRecords({ shared: sharedStrings, sharedIndexes, text: ownText(strings, own, first, n, fail), bounds, flags });
    first = end;
    return { organisation: tenant.organisation, users, syncedAt: tenant.syncedAt } as TenantData;
  });
}

/**
 * The own strings of records `first` … `first + n − 1`, back to back: the chunk that holds exactly them, in record
 * order, as this version writes it; else (a file laid out otherwise) gathered from wherever they are.
 */
function ownText(strings: FileStrings, own: readonly Uint32Array[], first: number, n: number, fail: (problem: string) => SnapshotStoreError): string {
  if (n === 0) return '';
  const start = own[0]![first]!;
  let inOrder = true;
  for (let k = 0; inOrder && k < n; k++) {
    for (let c = 0; c < OWN; c++) if (own[c]![first + k] !== start + OWN * k + c) inOrder = false;
  }
  const whole = inOrder ? strings.chunkOfExactly(start, OWN * n) : undefined;
  if (whole !== undefined) return whole;
  let length = 0;
  for (let i = first; i < first + n; i++) for (let c = 0; c < OWN; c++) length += strings.lengths[own[c]![i]!]!;
  if (length > MAX_TEXT_LENGTH) throw fail(`users ${first} to ${first + n - 1}: their strings add up to ${length} characters, more than a text can hold`);
  const parts: string[] = [];
  for (let i = first; i < first + n; i++) for (let c = 0; c < OWN; c++) parts.push(strings.get(own[c]![i]!));
  return parts.join('');
}
