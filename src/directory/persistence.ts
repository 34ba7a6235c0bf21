/**
 * The last directory state in STATE_DIR, so a restart during a Xero outage still serves the last known truth.
 * What is kept is the per-organisation data and health, and the people the last snapshot derived from that data;
 * the snapshot is rebuilt from it with `buildSnapshot`, which takes the people only when they were derived under the
 * current rules (`PEOPLE_DERIVATION`), so indexes and ids always follow the current code. Written atomically (write,
 * fsync, rename), mode 0600.
 *
 * The file is `directory.state`, binary format 3 (`state-file.ts`): checksummed, versioned, and decoded in about a
 * second at a million memberships. A `directory.json` (format 1, one JSON document) that an older version left is
 * still read while no `directory.state` exists, so the first restart after an upgrade serves even if Xero is down;
 * the first save writes `directory.state` and then removes `directory.json`. A new name rather than new content
 * under the old one: tools and people who open `directory.json` expect JSON, and an older version that finds no
 * `directory.json` after a downgrade simply resyncs.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readFileIfExists, writeFileDurably } from '../files/durable-file';
import { DIRECTORY_FILE, LEGACY_DIRECTORY_FILE } from '../files/state-dir';
import { type PersistedDirectory, SnapshotStoreError, parsePersisted } from './persisted-shape';
import { decodeStateFile, encodeStateFile, encodeStateFilePieces } from './state-file';

export {
  PERSISTED_SCHEMA_ID,
  type PersistedDirectory,
  SnapshotStoreError,
  parseOwnPersisted,
  parsePersisted,
} from './persisted-shape';

export interface SnapshotStore {
  load(): Promise<PersistedDirectory | undefined>;
  save(state: PersistedDirectory): Promise<void>;
}

export class FileSnapshotStore implements SnapshotStore {
  /** The file saves write (format 3). */
  readonly file: string;
  /** The format-1 file an older version wrote: read while `file` does not exist, removed after a save. */
  readonly legacyFile: string;

  constructor(stateDir: string) {
    this.file = path.join(stateDir, DIRECTORY_FILE);
    this.legacyFile = path.join(stateDir, LEGACY_DIRECTORY_FILE);
  }

  async load(): Promise<PersistedDirectory | undefined> {
    const bytes = await readFileIfExists(this.file);
    if (bytes !== undefined) return decodeStateFile(bytes, this.file);
    const legacy = await readFileIfExists(this.legacyFile);
    return legacy === undefined ? undefined : parseFormat1(legacy, this.legacyFile);
  }

  async save(state: PersistedDirectory): Promise<void> {
    await writeFileDurably(this.file, (await encodeStateFilePieces(state)).pieces);
    await fs.rm(this.legacyFile, { force: true });
  }
}

/** Format 1: one JSON document, validated in full. */
function parseFormat1(bytes: Buffer, source: string): PersistedDirectory {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SnapshotStoreError(`${source}: not valid JSON`);
  }
  return parsePersisted(json, source);
}

/** Keeps the file's bytes in memory: saves and loads go through the same encoding and checks as the file. */
export class MemorySnapshotStore implements SnapshotStore {
  private bytes: Buffer | undefined;

  async load(): Promise<PersistedDirectory | undefined> {
    return this.bytes === undefined ? undefined : decodeStateFile(this.bytes, 'memory');
  }

  async save(state: PersistedDirectory): Promise<void> {
    this.bytes = await encodeStateFile(parsePersisted(state, 'memory'));
  }
}
