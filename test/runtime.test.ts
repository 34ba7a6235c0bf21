/**
 * The V8 flags the server runs with (src/runtime.ts), observed on real processes: `node dist/cli.js serve` started
 * without them serves from a child Node that has them on its command line, stops with it on SIGTERM and exits as it
 * does; started with them, as the image's ENTRYPOINT starts it, it serves in place. Linux's /proc shows each
 * process's command line and children.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { V8_FLAGS, missingV8Flags } from '../src/runtime';

const CLI = path.join(__dirname, '..', 'dist', 'cli.js');
const onLinux = process.platform === 'linux' ? describe : describe.skip;

/** A process's command line and its children's pids, from /proc. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
const childrenOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

/** Starts the CLI with `nodeArgs` before the script; resolves once its demo answers, with the URL and token. */
async function startDemo(nodeArgs: string[], stateDir: string): Promise<{ process: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--demo'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', STATE_DIR: stateDir, LOG_LEVEL: 'warn', SCIM_BEARER_TOKEN: 'runtime-test-token-0123456789' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const found = output.match(/SCIM 2\.0 on (http:\/\/\S+)\/scim\/v2/)?.[1];
      if (found) resolve(found);
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`serve exited (${code}) before listening:\n${output}`)));
  });
  return { process: child, url, exited };
}

onLinux('V8 flags on the command line of the serving process', () => {
  jest.setTimeout(60_000);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-runtime-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: `npm test` builds it (npm run build)');
  });

  it('`node dist/cli.js serve` serves from a child with the flags, which SIGTERM stops cleanly through it', async () => {
    const demo = await startDemo([], stateDir);
    const pid = demo.process.pid!;
    expect(missingV8Flags(commandLine(pid))).toEqual([...V8_FLAGS]);
    const children = childrenOf(pid);
    expect(children).toHaveLength(1);
    const served = commandLine(children[0]!);
    expect(served).toEqual([process.execPath, ...V8_FLAGS, CLI, 'serve', '--demo']);
    expect((await fetch(`${demo.url}/healthz`)).status).toBe(200);

    // What Kubernetes or a supervisor sends to the process it started: passed on, drained, exit 0 from both.
    demo.process.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
    expect(existsSync(`/proc/${children[0]}`)).toBe(false);
    await expect(fetch(`${demo.url}/healthz`)).rejects.toThrow();
  });

  it('the serving child stops when its parent is killed outright (SIGKILL), rather than outliving it', async () => {
    const demo = await startDemo([], stateDir);
    const [child] = childrenOf(demo.process.pid!);
    expect(child).toBeDefined();
    demo.process.kill('SIGKILL');
    await demo.exited;
    // The child drains and exits on its own: wait for it to be gone (the test's timeout bounds the wait).
    while (existsSync(`/proc/${child}`) && !readFileSync(`/proc/${child}/stat`, 'utf8').includes(') Z ')) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await expect(fetch(`${demo.url}/healthz`)).rejects.toThrow();
  });

  it('started with the flags, as the image’s ENTRYPOINT starts it, serves in place (no second process)', async () => {
    const demo = await startDemo([...V8_FLAGS], stateDir);
    try {
      expect(missingV8Flags(commandLine(demo.process.pid!))).toEqual([]);
      expect(childrenOf(demo.process.pid!)).toEqual([]);
      expect((await fetch(`${demo.url}/healthz`)).status).toBe(200);
    } finally {
      demo.process.kill('SIGTERM');
      expect(await demo.exited).toBe(0);
    }
  });

  it('other commands run in place: `serve --help` answers without a child', () => {
    const result = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/serve/);
  });
});

describe('the flags', () => {
  it('are ones this Node’s V8 knows (an unknown flag would stop Node from starting)', () => {
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    for (const flag of V8_FLAGS) {
      const name = flag.replace(/^--(no-)?/, '');
      expect(options.includes(`--${name} `) || options.includes(`--${name}\n`)).toBe(true);
    }
  });

  it('are not ones NODE_OPTIONS accepts (so they cannot be given that way)', () => {
    for (const flag of V8_FLAGS) {
      const result = spawnSync(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH, NODE_OPTIONS: flag }, encoding: 'utf8' });
      expect(result.stderr).toMatch(/not allowed in NODE_OPTIONS/);
    }
  });
});
