/**
 * Whether a directory can serve as STATE_DIR, checked by every command that keeps state before it starts. It names
 * the files `xero/` (tokens) and `directory/` (its state) keep there, and imports neither.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/** The files kept in STATE_DIR: the Xero token set and the directory's last good state (each must be readable). */
export const TOKEN_FILE = 'xero-tokens.json';
export const DIRECTORY_FILE = 'directory.state';
/** The directory state as older versions kept it (format 1, JSON): read until the first save replaces it. */
export const LEGACY_DIRECTORY_FILE = 'directory.json';
const STATE_FILES = [TOKEN_FILE, DIRECTORY_FILE, LEGACY_DIRECTORY_FILE] as const;

/**
 * Why `dir` cannot serve as STATE_DIR, or undefined when it can: it is created if missing (mode 0700), a file is
 * written and removed in it, and every state file already there is read. Run at the start of every command, so a
 * read-only volume or a wrong owner stops it with one line instead of a misleading error (or a sync that reports
 * success and keeps nothing).
 */
export async function stateDirProblem(dir: string): Promise<string | undefined> {
  const code = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    return `cannot create ${dir} (${code(err)})`;
  }
  if (!(await fs.stat(dir)).isDirectory()) return `${dir} is not a directory`;
  const probe = path.join(dir, `.write-check.${randomBytes(6).toString('hex')}`);
  try {
    await fs.writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    return `cannot write in ${dir} (${code(err)})`;
  } finally {
    await fs.rm(probe, { force: true }).catch(() => undefined);
  }
  for (const name of STATE_FILES) {
    const file = path.join(dir, name);
    let handle: fs.FileHandle | undefined;
    try {
      handle = await fs.open(file, 'r');
      await handle.read(Buffer.alloc(1), 0, 1, 0);
    } catch (err) {
      if (code(err) !== 'ENOENT') return `cannot read ${file} (${code(err)})`;
    } finally {
      await handle?.close().catch(() => undefined);
    }
  }
  return undefined;
}
