/**
 * Durable, atomic files: write a temporary file, fsync it, rename it over the old one, fsync the directory. A crash
 * leaves either the old file or the new one, never half of either. Mode 0600: the files kept in STATE_DIR hold
 * refresh tokens and personal data.
 *
 * The bottom layer: `xero/` (tokens) and `directory/` (its state, confirmations) both write through it, so it
 * imports nothing of the server.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Writes in progress per file: writes of one file run one after another, last one wins. */
const writing = new Map<string, Promise<void>>();

/** What a file is written from: text (as UTF-8), bytes, or pieces of either written one after another. */
export type FileContent = string | Uint8Array | readonly (string | Uint8Array)[];

/**
 * Replaces `file` with `content` durably: a string is written as UTF-8, bytes as they are (a binary state file),
 * pieces in order (a state file of a hundred MiB, without a copy of it all in one buffer). Concurrent writes of the
 * same file are queued, so the clean-up of abandoned temporary files can never remove a write that is still in
 * progress in this process.
 */
export function writeFileDurably(file: string, content: FileContent): Promise<void> {
  const next = (writing.get(file) ?? Promise.resolve()).catch(() => undefined).then(() => writeNow(file, content));
  writing.set(file, next);
  const forget = (): void => {
    if (writing.get(file) === next) writing.delete(file);
  };
  next.then(forget, forget);
  return next;
}

async function writeNow(file: string, content: FileContent): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await removeAbandonedTemps(dir, path.basename(file));
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    if (typeof content === 'string') await handle.writeFile(content, 'utf8');
    else if (content instanceof Uint8Array) await handle.writeFile(content);
    else await writePieces(handle, content);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, file);
  } catch (err) {
    await fs.rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dir);
}

/** Bytes gathered before each write of pieces: the pieces of a state file are mostly a few KiB each. */
const STAGING_BYTES = 1024 * 1024;

/** Writes `pieces` in order, small ones gathered into writes of up to `STAGING_BYTES`. */
async function writePieces(handle: fs.FileHandle, pieces: readonly (string | Uint8Array)[]): Promise<void> {
  const staging = Buffer.allocUnsafe(STAGING_BYTES);
  let used = 0;
  const flush = async (): Promise<void> => {
    if (used > 0) await writeAll(handle, staging.subarray(0, used));
    used = 0;
  };
  for (const piece of pieces) {
    const bytes = typeof piece === 'string' ? Buffer.byteLength(piece, 'utf8') : piece.length;
    if (bytes > STAGING_BYTES - used) await flush();
    if (bytes > STAGING_BYTES) await writeAll(handle, typeof piece === 'string' ? Buffer.from(piece, 'utf8') : piece);
    else if (typeof piece === 'string') used += staging.write(piece, used, 'utf8');
    else {
      staging.set(piece, used);
      used += bytes;
    }
  }
  await flush();
}

async function writeAll(handle: fs.FileHandle, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
}

/**
 * A process killed mid-write leaves its temporary file behind; each crash would add one (a directory state can be
 * megabytes), so the next write of the same file removes them. Writes of one file are queued in this process and STATE_DIR
 * belongs to one process, so any such file is abandoned.
 */
async function removeAbandonedTemps(dir: string, base: string): Promise<void> {
  const prefix = `.${base}.`;
  const abandoned = (name: string) => name.startsWith(prefix) && /^[0-9a-f]{12}\.tmp$/.test(name.slice(prefix.length));
  const entries = await fs.readdir(dir).catch(() => [] as string[]);
  await Promise.all(entries.filter(abandoned).map((name) => fs.rm(path.join(dir, name), { force: true })));
}

/** The rename is durable only once the directory entry is (POSIX); some file systems refuse, which is fine. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    // EISDIR/EPERM on platforms that cannot fsync a directory: the rename is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** The file's bytes, or undefined when it does not exist. */
export async function readFileIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * The parsed JSON of a state file, or undefined when it does not exist. A file that is not JSON (a torn write from
 * an older version, a hand edit) throws the caller's error, so the message can say what to do about that file.
 */
export async function readJsonFileIfExists(file: string, notJson: () => Error): Promise<unknown> {
  const bytes = await readFileIfExists(file);
  if (bytes === undefined) return undefined;
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    throw notJson();
  }
}
