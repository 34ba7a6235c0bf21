/**
 * The README's quick start, run as a newcomer would: a fresh copy of the repository, the first command of the
 * README exactly as written, then the curl commands the demo prints, exactly as printed.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.join(__dirname, '..', '..');
const run = promisify(execFile);

function readmeCommand(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = /```sh\n([\s\S]*?)```/.exec(readme);
  const first = block?.[1]?.split('\n')[0] ?? '';
  return first.replace(/\s+#.*$/, '').trim();
}

/** The tracked files as they are in the working tree: what a clone of this commit (plus local edits) holds. */
function freshCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'xero-scim-newcomer-'));
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of files) {
    const target = path.join(dir, file);
    mkdirSync(path.dirname(target), { recursive: true });
    try {
      cpSync(path.join(ROOT, file), target);
    } catch {
      // A tracked file deleted in the working tree is not part of what a newcomer gets.
    }
  }
  return dir;
}

describe('README quick start', () => {
  jest.setTimeout(240_000);
  let dir: string;
  let demo: ChildProcess | undefined;

  // `bash -c` runs npm, which runs node: signal the whole process group, or the server outlives the test.
  const stopDemo = (signal: NodeJS.Signals) => {
    if (demo?.pid !== undefined && demo.exitCode === null) {
      try {
        process.kill(-demo.pid, signal);
      } catch {
        // already gone
      }
    }
  };

  afterAll(() => {
    stopDemo('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with `npm ci && npm run demo`, and the curl commands it prints answer with demo data', async () => {
    const command = readmeCommand();
    expect(command).toBe('npm ci && npm run demo');
    dir = freshCopy();
    demo = spawn('bash', ['-c', command], {
      cwd: dir,
      // PORT=0: a free port, so the test never collides; the banner prints the real URL.
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', npm_config_audit: 'false', npm_config_fund: 'false', npm_config_prefer_offline: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    demo.stdout!.on('data', (chunk) => (output += String(chunk)));
    demo.stderr!.on('data', (chunk) => (output += String(chunk)));
    const banner = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within 200 s:\n${output.slice(-3000)}`)), 200_000);
      const check = () => {
        if (/Status page: /.test(output)) {
          clearTimeout(timer);
          resolve(output);
        }
      };
      demo!.stdout!.on('data', check);
      demo!.on('exit', (code) => reject(new Error(`demo exited with ${code}:\n${output.slice(-3000)}`)));
    });

    const curls = banner.split('\n').filter((line) => line.trim().startsWith('curl '));
    expect(curls).toHaveLength(3);
    const answers = [];
    for (const curl of curls) {
      const { stdout } = await run('bash', ['-c', curl.trim()]);
      answers.push(JSON.parse(stdout));
    }
    const [users, groups, filtered] = answers;
    expect(users.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
    expect(users.itemsPerPage).toBe(2);
    expect(users.totalResults).toBeGreaterThan(10);
    expect(groups.Resources.map((g: { displayName: string }) => g.displayName).sort()).toEqual([
      'Harbour & Hale Advisory',
      'Kōwhai Joinery',
      'Southern Cross Animal Rescue',
    ]);
    expect(groups.Resources.every((g: { members?: unknown }) => g.members === undefined)).toBe(true);
    expect(filtered.totalResults).toBe(1);
    expect(filtered.Resources[0].groups.length).toBeGreaterThan(1); // the example is someone in several organisations

    // SIGTERM is what Kubernetes sends: the server shuts down cleanly and the command exits.
    // 'close' waits for every process holding the output pipes (npm's node child too), not just bash.
    const exited = new Promise<void>((resolve) => demo!.once('close', () => resolve()));
    stopDemo('SIGTERM');
    await exited;
    expect(output).toContain('"msg":"stopped"');
  });
});
