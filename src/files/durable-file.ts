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

/**
 * Replaces `file` with `content` durably: a string is written as UTF-8, bytes as they are (a binary state file).
 * Concurrent writes of the same file are queued, so the clean-up of abandoned temporary files can never remove a
 * write that is still in progress in this process.
 */
export function writeFileDurably(file: string, content: string | Uint8Array): Promise<void> {
  const next = (writing.get(file) ?? Promise.resolve()).catch(() => undefined).then(() => writeNow(file, content));
  writing.set(file, next);
  const forget = (): void => {
    if (writing.get(file) === next) writing.delete(file);
  };
  next.then(forget, forget);
  return next;
}

async function writeNow(file: string, content: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await removeAbandonedTemps(dir, path.basename(file));
  const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(temp, 'wx', 0o600);
  try {
    await (typeof content === 'string' ? handle.writeFile(content, 'utf8') : handle.writeFile(content));
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
