/**
 * A file written in pieces holds exactly their concatenation (strings as UTF-8), whatever their sizes: the state
 * file of a large directory is written so, without a copy of it all in one buffer.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFileIfExists, writeFileDurably } from '../../src/files/durable-file';

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), 'xero-scim-durable-'));

describe('writeFileDurably', () => {
  it('writes pieces in order: small ones across the 1 MiB staging boundary, large ones, multi-byte text and empty ones', async () => {
    const file = path.join(await tempDir(), 'pieces.bin');
    const large = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    const pieces: (string | Uint8Array)[] = [Buffer.from('head'), ''];
    for (let k = 0; k < 40_000; k++) pieces.push(k % 3 === 0 ? `Zoë ${k} — ` : Buffer.from(`b${k},`));
    pieces.push(large, new Uint8Array(0), 'tail ✓', 'x'.repeat(1024 * 1024 + 1));
    await writeFileDurably(file, pieces);
    const expected = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p)));
    expect(expected.length).toBeGreaterThan(4 * 1024 * 1024);
    expect((await readFileIfExists(file))!.equals(expected)).toBe(true);
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  });

  it('replaces the file whole, leaving no temporary file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'state');
    await writeFileDurably(file, 'x'.repeat(100_000));
    await writeFileDurably(file, ['short', Buffer.from(' and done')]);
    expect((await readFileIfExists(file))!.toString('utf8')).toBe('short and done');
    expect(await fs.readdir(dir)).toEqual(['state']);
  });
});
