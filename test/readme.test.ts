/**
 * README.md's shell blocks, so the README cannot drift from what runs. Every ```sh block parses (`bash -n`) and
 * leaves no placeholder where the shell would read it as a redirection (`<token>` must be quoted). The blocks that
 * talk only to the sandbox (`http://127.0.0.1:4010`) or only to the demo server (`http://127.0.0.1:8080`) run as
 * written, each in its own `bash -euo pipefail`, against the sandbox or demo started the way the README starts it
 * (`npm run sandbox -- --port 4010`, `SCIM_BEARER_TOKEN=… npm run demo`), on free ports instead of 4010 and 8080.
 * Two substitutions, both stricter than the README: `curl -s` fails on an HTTP error (`--fail-with-body`), and a
 * demo block's `<token>` is the demo's token.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './support/free-port';

const ROOT = path.join(__dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const SANDBOX = 'http://127.0.0.1:4010';
const DEMO = 'http://127.0.0.1:8080';

interface Block {
  readonly line: number;
  readonly text: string;
}

const blocks: Block[] = [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => ({
  line: README.slice(0, m.index).split('\n').length,
  text: m[1]!,
}));
const label = (b: Block) => `README.md:${b.line}`;

/** The scheme, host and port of every URL in a block. */
const origins = (text: string) => [...new Set([...text.matchAll(/https?:\/\/[^/\s'"]+/g)].map((m) => m[0]))];
const talksOnlyTo = (origin: string) => (b: Block) => {
  const found = origins(b.text);
  return found.length > 0 && found.every((o) => o === origin);
};

/** The block with its quoted strings, comments and here-documents removed: what the shell reads as syntax. */
function unquoted(text: string): string {
  return text
    .replace(/'[^']*'/g, "''")
    .replace(/"(?:\\.|[^"\\])*"/g, '""')
    .replace(/(^|\s)#.*$/gm, '$1');
}

/** Starts `node dist/cli.js <args>` and resolves once `url` answers 200. */
async function start(args: string[], env: NodeJS.ProcessEnv, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'cli.js'), ...args], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`))));
  exited.catch(() => undefined); // an exit after start-up (afterAll stops it) is expected
  for (;;) {
    const answered = await Promise.race([fetch(url).then((r) => r.ok, () => false), exited]);
    if (answered) return child;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Runs a block as written (but for the documented substitutions); returns its exit status and output. */
function run(block: Block, replacements: [string, string][], env: NodeJS.ProcessEnv) {
  let script = block.text.replace(/\bcurl -s /g, 'curl -sS --fail-with-body ');
  for (const [from, to] of replacements) script = script.split(from).join(to);
  // stdin not a socket: Debian's bash would then source /etc/bash.bashrc, as for a remote shell.
  const result = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, script };
}

describe('README.md shell blocks', () => {
  it('has shell blocks, some of them against the sandbox and the demo', () => {
    expect(blocks.length).toBeGreaterThan(3);
    expect(blocks.filter(talksOnlyTo(SANDBOX)).length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b) => [label(b), b] as const))('%s parses as bash', (_label, block) => {
    const result = spawnSync('bash', ['-n', '-c', block.text], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it.each(blocks.map((b) => [label(b), b] as const))('%s has no unquoted <placeholder> (the shell reads it as a redirection)', (_label, block) => {
    expect(unquoted(block.text).match(/<[A-Za-z][^>\n]*>/g) ?? []).toEqual([]);
  });

  it('has no inline command that chains assignments (A=B=C=value sets only A)', () => {
    const inline = [...README.replace(/^```[\s\S]*?^```$/gm, '').matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
    expect(inline.filter((code) => /^[A-Z_]+=[A-Z_]+=/.test(code))).toEqual([]);
  });
});

describe('README.md blocks that use only the sandbox or the demo, run as written', () => {
  jest.setTimeout(180_000);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-readme-'));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, STATE_DIR: stateDir, LOG_LEVEL: 'warn' };
  const children: ChildProcess[] = [];

  beforeAll(() => {
    if (!existsSync(path.join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: `npm test` builds it (npm run build)');
  });
  afterAll(async () => {
    await Promise.all(children.map(stop));
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('the sandbox blocks, with the sandbox started as the README says', async () => {
    // `npm run sandbox -- --port 4010` is `npm run build` then this command; the suite has built already.
    expect(README).toContain('`npm run sandbox -- --port 4010`');
    expect(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.sandbox).toBe('npm run build --silent && node dist/cli.js sandbox');
    const port = await freePort();
    children.push(await start(['sandbox', '--port', String(port)], env, `http://127.0.0.1:${port}/__sandbox/counters`));
    const sandboxBlocks = blocks.filter(talksOnlyTo(SANDBOX));
    for (const block of sandboxBlocks) {
      const result = run(block, [[SANDBOX, `http://127.0.0.1:${port}`]], env);
      expect({ block: label(block), status: result.status, stderr: result.stderr }).toEqual({ block: label(block), status: 0, stderr: expect.any(String) }); // sync logs to stderr
      expect(result.stdout.trim()).not.toBe('');
      if (block.text.includes('/api.xro/2.0/Users')) expect(result.stdout).toMatch(/"Users":\s*\[\s*\{/);
    }
  });

  it('the demo blocks, against the demo started as the README says', async () => {
    const demoBlocks = blocks.filter(talksOnlyTo(DEMO)).filter((b) => !/npm run demo/.test(b.text));
    if (demoBlocks.length === 0) return;
    expect(JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.demo).toMatch(/^npm run build --silent && node( --[a-z-]+(=\d+)?)* dist\/cli\.js serve --demo$/);
    const port = await freePort();
    const token = 'readme-demo-token-0123456789abcdef';
    children.push(await start(['serve', '--demo'], { ...env, PORT: String(port), HOST: '127.0.0.1', SCIM_BEARER_TOKEN: token }, `http://127.0.0.1:${port}/readyz`));
    for (const block of demoBlocks) {
      const result = run(block, [[DEMO, `http://127.0.0.1:${port}`], ['<token>', token]], env);
      expect({ block: label(block), status: result.status, stderr: result.stderr }).toEqual({ block: label(block), status: 0, stderr: '' });
      expect(result.stdout.trim()).not.toBe('');
    }
  });
});
