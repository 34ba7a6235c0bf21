import { mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main, parseCommandLine } from '../src/cli';
import { runSync } from '../src/commands/sync';
import { environmentVariables, loadConfig } from '../src/config';
import { MemorySnapshotStore } from '../src/directory/persistence';
import { createSandbox } from '../src/sandbox';
import { webAppEnvironment } from './support/sandbox';

function capture(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t), env }, out, err };
}

const VERSION = (JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version: string }).version;
const tempDir = () => mkdtempSync(path.join(tmpdir(), 'xero-scim-cli-'));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? sourceFiles(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('xero-scim command line', () => {
  it('lists the commands, including sandbox and auth', async () => {
    const { io, out } = capture();
    expect(await main(['--help'], io)).toBe(0);
    for (const command of ['serve', 'sync', 'sandbox', 'auth', 'confirm-disconnect']) expect(out.join('\n')).toMatch(new RegExp(`^  ${command} `, 'm'));
  });

  it('confirm-disconnect takes tenant ids or --all (never both, never neither) and reads only STATE_DIR', async () => {
    const help = capture();
    expect(await main(['confirm-disconnect', '--help'], help.io)).toBe(0);
    expect(help.out.join('\n')).toContain('Usage: xero-scim confirm-disconnect <tenantId>... | --all');
    expect(help.out.join('\n')).toContain('STATE_DIR');
    expect(help.out.join('\n')).not.toContain('XERO_CLIENT_ID');
    for (const args of [[], ['--all', 'a1b2']]) {
      const bad = capture();
      expect(await main(['confirm-disconnect', ...args], bad.io)).toBe(2);
      expect(bad.err[0]).toBe('xero-scim confirm-disconnect: name the organisations (tenant ids) to confirm, or --all');
    }
    const noState = capture({ STATE_DIR: path.join(__dirname, 'no-such-state-dir') });
    expect(await main(['confirm-disconnect', '--all'], noState.io)).toBe(1);
    expect(noState.err[0]).toMatch(/no directory state in .*no-such-state-dir: run it with the server's STATE_DIR/);
    const positional = capture();
    expect(await main(['serve', 'extra'], positional.io)).toBe(2); // other commands still take no operands
  });

  it('reads environment variables in exactly one module, so --help can list them all', () => {
    const SRC = path.join(__dirname, '..', 'src');
    const readers = sourceFiles(SRC).filter((file) => /process\.env\b/.test(readFileSync(file, 'utf8')));
    // cli.ts hands process.env to loadConfig, which reads only the names in its OPTIONS table.
    expect(readers.map((f) => path.relative(SRC, f)).sort()).toEqual(['cli.ts', 'config.ts']);
    const names = new Set<string>();
    for (const file of sourceFiles(SRC)) {
      for (const match of readFileSync(file, 'utf8').matchAll(/\benv\[['"]([A-Z_]+)['"]\]|\benv\.([A-Z_]+)\b/g)) names.add(match[1] ?? match[2]!);
    }
    for (const name of names) expect(environmentVariables()).toContain(name);
  });

  it.each(['serve', 'sync', 'auth'] as const)('%s --help lists every variable that command reads, with defaults', async (command) => {
    const { io, out } = capture();
    expect(await main([command, '--help'], io)).toBe(0);
    const help = out.join('\n');
    expect(help).toContain(`Usage: xero-scim ${command}`);
    expect(help).toContain('XERO_CLIENT_ID, BATON_XERO_CLIENT_ID');
    expect(help).toContain('XERO_API_URL (default: https://api.xero.com)');
  });

  it('serve --help covers every option of the server, each with a description', async () => {
    const { io, out } = capture();
    await main(['serve', '--help'], io);
    const help = out.join('\n');
    for (const variable of ['SCIM_BEARER_TOKEN', 'SCIM_BEARER_TOKEN_FILE', 'SYNC_MODE', 'STATE_DIR', 'TRUST_PROXY', 'PUBLIC_URL', 'LOG_LEVEL', 'PORT', 'BATON_REFRESH_TOKEN', 'BATON_TOKEN']) {
      expect(help).toContain(variable);
    }
  });

  it('has every variable documented in the README', () => {
    const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    for (const variable of environmentVariables()) expect(readme).toContain(`\`${variable}\``);
  });

  it('accepts `service` as ConductorOne Deployments pass it', async () => {
    const { io, out } = capture();
    expect(await main(['service', '--help'], io)).toBe(0);
    expect(out.join('\n')).toContain('Usage: xero-scim serve');
  });

  it('answers an unknown command or flag with exit 2 and the usage', async () => {
    const a = capture();
    expect(await main(['deploy'], a.io)).toBe(2);
    expect(a.err[0]).toBe('xero-scim: unknown command "deploy"');
    const b = capture();
    expect(await main(['serve', '--colour'], b.io)).toBe(2);
    expect(b.err[0]).toBe('xero-scim serve: unknown option --colour');
  });

  it.each([
    ['serve', ['serve', '--colour']],
    ['sync', ['sync', '--once', '--jsn']],
    ['auth', ['auth', '-x']],
  ])("follows a wrong option with the command's own help (%s)", async (command, argv) => {
    const { io, err, out } = capture();
    expect(await main(argv, io)).toBe(2);
    expect(err[0]).toMatch(new RegExp(`^xero-scim ${command}: unknown option -`));
    expect(err[1]).toContain(`Usage: xero-scim ${command}`);
    expect(err[1]).not.toContain('Commands:');
    expect(out).toEqual([]);
  });

  it.each([['--version'], ['serve', '--version'], ['sync', '--version'], ['sandbox', '--version']])('prints the version for %s', async (...argv) => {
    const { io, out } = capture();
    expect(await main(argv, io)).toBe(0);
    expect(out).toEqual([`xero-scim ${VERSION}`]);
  });

  it.each(['serve', 'sync', 'auth', 'sandbox'])('answers -h, --help and `help %s` alike, with that command\'s usage', async (command) => {
    const answers = [];
    for (const argv of [[command, '-h'], [command, '--help'], ['help', command]]) {
      const { io, out, err } = capture();
      expect(await main(argv, io)).toBe(0);
      expect(err).toEqual([]);
      answers.push(out.join('\n'));
    }
    expect(answers[0]).toContain(`Usage: xero-scim ${command}`);
    expect(new Set(answers).size).toBe(1);
  });

  it('answers `help` alone with the list of commands, and `help nothing` with exit 2', async () => {
    const a = capture();
    expect(await main(['help'], a.io)).toBe(0);
    expect(a.out.join('\n')).toMatch(/^ {2}sync /m);
    const b = capture();
    expect(await main(['help', 'nothing'], b.io)).toBe(2);
    expect(b.err[0]).toBe('xero-scim: unknown command "nothing"');
  });

  it('takes true/false options as bare flags, or with a value', () => {
    expect(parseCommandLine(['serve', '--trust-proxy', '--port', '0']).flags).toEqual({ 'trust-proxy': 'true', port: '0' });
    expect(parseCommandLine(['serve', '--trust-proxy', 'false', '--status-page-public']).flags).toEqual({ 'trust-proxy': 'false', 'status-page-public': 'true' });
    expect(parseCommandLine(['serve', '--scim-basic-auth=no', '--log-emails']).flags).toEqual({ 'scim-basic-auth': 'no', 'log-emails': 'true' });
    expect(loadConfig({ TRUST_PROXY: 'false' }, parseCommandLine(['serve', '--trust-proxy']).flags).trustProxy).toBe(true);
  });

  it('lists true/false options in help as such', async () => {
    const { io, out } = capture();
    await main(['serve', '--help'], io);
    expect(out.join('\n')).toContain('  --trust-proxy [true|false]\n      env TRUST_PROXY (default: false)');
  });

  it('stops on a bad value with one line naming the variable, and never echoes the value', async () => {
    const { io, err } = capture({ PORT: 'http', XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'hunter2-secret' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err).toEqual(['xero-scim: configuration error: PORT: must be a whole number from 0 to 65535']);
  });

  it('does not fall back to demo data without Xero credentials: it says what to set, or --demo', async () => {
    const { io, err } = capture({ SCIM_BEARER_TOKEN: 'a-scim-token-0123456789' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim: configuration error: XERO_CLIENT_ID: is required .*xero-scim serve --demo/);
  });

  it('refuses to serve without a SCIM bearer token', async () => {
    const { io, err } = capture({ BATON_XERO_CLIENT_ID: 'id', BATON_XERO_CLIENT_SECRET: 'secret' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim: configuration error: SCIM_BEARER_TOKEN: is required/);
    expect(err.join('\n')).not.toContain('secret');
  });

  it('passes sandbox flags to the sandbox, naming a bad flag', async () => {
    const { io, err } = capture();
    expect(await main(['sandbox', '--port', 'lots'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim sandbox: --port must be a whole number/);
  });
});

describe('STATE_DIR is checked before any command runs', () => {
  const credentials = { XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'secret-value', SCIM_BEARER_TOKEN: 'a-scim-token-0123456789' };

  it.each([
    ['sync', ['sync', '--once']],
    ['serve', ['serve']],
    ['auth', ['auth']],
  ])('%s stops with one line naming STATE_DIR when it cannot be created', async (_command, argv) => {
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const { io, err, out } = capture({ ...credentials, STATE_DIR: path.join(file, 'state') });
    expect(await main(argv, io)).toBe(2);
    expect(err).toEqual([`xero-scim: configuration error: STATE_DIR: cannot create ${path.join(file, 'state')} (ENOTDIR): give the process a directory it can read and write (a volume in a container)`]);
    expect(out).toEqual([]);
  });

  it('names STATE_DIR when a state file in it cannot be read, not a misleading XERO_NOT_CONFIGURED', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'xero-tokens.json'));
    const { io, err } = capture({ ...credentials, STATE_DIR: dir });
    expect(await main(['sync', '--once'], io)).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^xero-scim: configuration error: STATE_DIR: cannot read .*xero-tokens\.json \(EISDIR\)/)]);
  });

  it('names STATE_DIR when it is a file', async () => {
    const file = path.join(tempDir(), 'state');
    writeFileSync(file, '');
    const { io, err } = capture({ ...credentials, STATE_DIR: file });
    expect(await main(['sync', '--once'], io)).toBe(2);
    expect(err[0]).toMatch(/^xero-scim: configuration error: STATE_DIR: cannot create .*state \(EEXIST\)|STATE_DIR: .*state is not a directory/);
  });

  it('the demo needs no STATE_DIR (it keeps its state in a temporary directory)', async () => {
    const file = path.join(tempDir(), 'a-file');
    writeFileSync(file, '');
    const { io, err } = capture({ STATE_DIR: path.join(file, 'state'), PORT: 'x' });
    expect(await main(['serve', '--demo'], io)).toBe(2);
    expect(err).toEqual(['xero-scim: configuration error: PORT: must be a whole number from 0 to 65535']);
  });
});

describe('xero-scim sync', () => {
  it('without credentials stops with the same one line as serve, exit 2, no stack trace', async () => {
    const { io, err, out } = capture({ STATE_DIR: tempDir() });
    expect(await main(['sync', '--once'], io)).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^xero-scim: configuration error: XERO_CLIENT_ID: is required \(or BATON_XERO_CLIENT_ID\)/)]);
    expect(out).toEqual([]);
    const serve = capture({ STATE_DIR: tempDir(), SCIM_BEARER_TOKEN: 'a-scim-token-0123456789' });
    await main(['serve'], serve.io);
    expect(serve.err).toEqual(err);
  });

  describe('against the sandbox', () => {
    let sandbox: ReturnType<typeof createSandbox>;
    let xero: { url: string; close(): Promise<void> };
    beforeEach(async () => {
      sandbox = createSandbox({ data: 'demo' });
      xero = await sandbox.listen(0, '127.0.0.1');
    });
    afterEach(() => xero.close());

    const env = () => ({ ...webAppEnvironment(sandbox, xero.url), STATE_DIR: tempDir(), LOG_LEVEL: 'warn' });

    it('shows a progress line on a terminal (organisations done / total, calls, 429s), then a one-line summary', async () => {
      const { io, out } = capture(env());
      const progress: string[] = [];
      expect(await main(['sync', '--once'], { ...io, progress: (line) => progress.push(line) })).toBe(0);
      expect(progress[0]).toBe('Syncing: 0/3 organisations, 2 Xero calls, 0 rate-limited (429)');
      expect(progress).toContain('Syncing: 3/3 organisations, 8 Xero calls, 0 rate-limited (429)');
      expect(progress.at(-1)).toMatch(/^Synced 3\/3 organisations in \d+\.\d s: 8 Xero calls, 0 rate-limited \(429\), ok\.\n$/);
      expect(out[0]).toMatch(/^Sync ok in \d+ ms/);
    });

    it('shows no progress with --json, so stdout and stderr stay machine-readable', async () => {
      const { io, out } = capture(env());
      const progress: string[] = [];
      expect(await main(['sync', '--once', '--json'], { ...io, progress: (line) => progress.push(line) })).toBe(0);
      expect(progress).toEqual([]);
      expect(JSON.parse(out.join('\n')).report.outcome).toBe('ok');
    });

    it('uses XERO_REFRESH_TOKEN when the stored token file is corrupt', async () => {
      const e = env();
      writeFileSync(path.join(e.STATE_DIR, 'xero-tokens.json'), '{"clientId":');
      const { io, out } = capture(e);
      expect(await main(['sync', '--once'], io)).toBe(0);
      expect(out[0]).toMatch(/^Sync ok/);
      expect(JSON.parse(readFileSync(path.join(e.STATE_DIR, 'xero-tokens.json'), 'utf8')).refreshToken).toEqual(expect.any(String));
    });

    it('exits 1 and says so when STATE_DIR refuses the result, instead of "Sync ok"', async () => {
      const store = new MemorySnapshotStore();
      store.save = () => Promise.reject(Object.assign(new Error('EROFS: read-only file system'), { code: 'EROFS' }));
      const out: string[] = [];
      const err: string[] = [];
      const code = await runSync(loadConfig(env()), { out: (t) => out.push(t), err: (t) => err.push(t), deps: { snapshotStore: store } });
      expect(code).toBe(1);
      expect(err).toEqual(['xero-scim sync: STATE_NOT_WRITABLE: cannot save the directory state in STATE_DIR (EROFS): a restart would lose it']);
    });
  });
});

describe('xero-scim serve cannot listen', () => {
  const env = () => ({ XERO_CLIENT_ID: 'id', XERO_CLIENT_SECRET: 'secret-value', SCIM_BEARER_TOKEN: 'a-scim-token-0123456789', STATE_DIR: tempDir(), LOG_LEVEL: 'silent' });

  it('names PORT and suggests PORT=0 when the port is taken', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const { io, err } = capture({ ...env(), PORT: String(port), HOST: '127.0.0.1' });
      expect(await main(['serve'], io)).toBe(2);
      expect(err).toEqual([`xero-scim: configuration error: PORT: ${port} is already in use on 127.0.0.1: stop what listens there, or choose another port (PORT=0 picks a free one)`]);
    } finally {
      taken.close();
    }
  });

  it('names HOST when it is not an address of this machine', async () => {
    const { io, err } = capture({ ...env(), PORT: '0', HOST: 'no-such-host.invalid' });
    expect(await main(['serve'], io)).toBe(2);
    expect(err).toEqual([expect.stringMatching(/^xero-scim: configuration error: HOST: "no-such-host\.invalid" is not an address of this machine \((ENOTFOUND|EAI_AGAIN)\)/)]);
  });
});
