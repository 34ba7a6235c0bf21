/**
 * The V8 flags the server runs with (src/runtime.ts), observed on real processes: the `#!` line of `dist/cli.js`
 * (what `npx xero-scim` and an installed `xero-scim` execute) and the npm scripts put them on Node's command line,
 * and the server runs in place, one process, whichever way it is started. Linux's /proc shows each process's command
 * line and children.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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

/** Starts the demo with `command` (the CLI's path last); resolves once it answers, with its URL and output so far. */
async function startDemo(command: string[], stateDir: string): Promise<{ process: ChildProcess; url: string; output: () => string; exited: Promise<number | null> }> {
  const [file, ...args] = command;
  const child = spawn(file!, [...args, 'serve', '--demo'], {
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', STATE_DIR: stateDir, LOG_LEVEL: 'info', SCIM_BEARER_TOKEN: 'runtime-test-token-0123456789' },
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
  return { process: child, url, output: () => output, exited };
}

onLinux('V8 flags on the command line of the serving process', () => {
  jest.setTimeout(60_000);
  const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-runtime-'));
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: `npm test` builds it (npm run build)');
  });

  it('the `#!` line and the start and demo scripts carry every flag', () => {
    const shebang = readFileSync(CLI, 'utf8').split('\n')[0]!;
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S node( |$)/);
    expect(missingV8Flags(shebang.split(' '))).toEqual([]);
    const { scripts } = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    for (const name of ['start', 'demo']) {
      const run = scripts[name]!.split('&&').pop()!.trim().split(/\s+/);
      expect(run[0]).toBe('node');
      expect(missingV8Flags(run.slice(1, run.indexOf('dist/cli.js')))).toEqual([]);
    }
  });

  it('`dist/cli.js` run as a command (as npx and npm\'s bin links run it) serves in place with the flags, and SIGTERM stops it', async () => {
    // `npm run build` makes it executable (tsc writes 0644): `npx xero-scim` in a fresh clone runs it as a program.
    expect(statSync(CLI).mode & 0o111).toBe(0o111);
    const demo = await startDemo([CLI], stateDir);
    const pid = demo.process.pid!;
    expect(missingV8Flags(commandLine(pid))).toEqual([]);
    expect(childrenOf(pid)).toEqual([]);
    expect((await fetch(`${demo.url}/healthz`)).status).toBe(200);
    expect(demo.output()).not.toMatch(/started without the V8 flags/);
    demo.process.kill('SIGTERM');
    expect(await demo.exited).toBe(0);
    await expect(fetch(`${demo.url}/healthz`)).rejects.toThrow();
  });

  it('`node dist/cli.js serve` without them serves in place all the same, and says which flags it lacks', async () => {
    const demo = await startDemo([process.execPath, CLI], stateDir);
    try {
      expect(missingV8Flags(commandLine(demo.process.pid!))).toEqual([...V8_FLAGS]);
      expect(childrenOf(demo.process.pid!)).toEqual([]);
      expect((await fetch(`${demo.url}/healthz`)).status).toBe(200);
      await waitFor(() => /started without the V8 flags/.test(demo.output()));
      expect(demo.output()).toContain(V8_FLAGS[0]);
    } finally {
      demo.process.kill('SIGTERM');
      expect(await demo.exited).toBe(0);
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('the flags', () => {
  it('are ones this Node’s V8 knows (an unknown flag would stop Node from starting)', () => {
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    for (const flag of V8_FLAGS) {
      const name = flag.replace(/^--(no-)?/, '').replace(/=.*$/, '');
      expect(options.includes(`--${name} `) || options.includes(`--${name}\n`)).toBe(true);
    }
  });

  it('include one NODE_OPTIONS does not accept, so they all go on Node’s command line together', () => {
    const refused = V8_FLAGS.filter((flag) => {
      const result = spawnSync(process.execPath, ['-e', '0'], { env: { PATH: process.env.PATH, NODE_OPTIONS: flag }, encoding: 'utf8' });
      return /not allowed in NODE_OPTIONS/.test(result.stderr);
    });
    expect(refused).toContain('--no-allocation-site-pretenuring');
  });

  it('keep the young generation at Node 20’s size under allocation (Node 24 would grow it to twice that)', () => {
    const churn = `const v8 = require('v8'); let kept = []; let largest = 0;
      for (let i = 0; i < 3e6; i++) {
        kept.push({ i, text: 'x' + i });
        if (kept.length > 20000) kept = [];
        if (i % 10000 === 0) largest = Math.max(largest, v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);
      }
      console.log(largest);`;
    const result = spawnSync(process.execPath, [...V8_FLAGS, '-e', churn], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(Number(result.stdout) / 2 ** 20).toBeLessThanOrEqual(32);
  });
});
