/**
 * The image, built without a Docker engine: the Dockerfile's stages are replayed in temporary folders (each
 * stage's WORKDIR a folder, COPY from the build context minus .dockerignore or from an earlier stage, RUN in a
 * shell), then the runtime stage's ENTRYPOINT and CMD start the server from production dependencies only, as the
 * image's non-root USER where this test runs as root, with STATE_DIR and TMPDIR the only writable places. The
 * image's HEALTHCHECK command is run against it.
 *
 * Two departures, both so the host is left as it was: `npm ci` gets `--prefer-offline` (the host's npm cache
 * stands in for the registry), and `npm cache clean --force` (which would empty that cache) is not run. The build
 * and deps stages run in parallel, as BuildKit runs independent stages.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, lastOf, readDockerfile, stageEnv, type Stage } from './dockerfile';

const stages = readDockerfile();
const runtime = stages.at(-1)!;

/** .dockerignore as predicates over context-relative paths (the forms it uses: names and `*` globs). */
function dockerIgnored(): (relative: string) => boolean {
  const patterns = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/|$)`));
  return (relative) => patterns.some((p) => p.test(relative));
}

/** Runs one stage in `dir` (its WORKDIR), given the folders of the stages before it. */
async function runStage(stage: Stage, dir: string, built: ReadonlyMap<string, { dir: string; workdir: string }>): Promise<string> {
  const ignored = dockerIgnored();
  let workdir = '/';
  const log: string[] = [];
  const hostPath = (containerPath: string) => path.join(dir, path.relative(workdir, path.resolve(workdir, containerPath)));
  for (const { op, args } of stage.instructions) {
    switch (op) {
      case 'WORKDIR':
        workdir = args;
        mkdirSync(dir, { recursive: true });
        break;
      case 'COPY': {
        const words = args.split(' ');
        const from = words[0]!.startsWith('--from=') ? built.get(words.shift()!.slice('--from='.length)) : undefined;
        const destination = words.pop()!;
        for (const source of words) {
          const origin = from ? path.join(from.dir, path.relative(from.workdir, source)) : path.join(ROOT, source);
          const target = destination.endsWith('/') || words.length > 1 ? path.join(hostPath(destination), path.basename(source)) : hostPath(destination);
          cpSync(origin, target, {
            recursive: true,
            verbatimSymlinks: true,
            filter: (file) => from !== undefined || !ignored(path.relative(ROOT, file)),
          });
        }
        break;
      }
      case 'RUN': {
        if (stage === runtime) break; // creating and chowning STATE_DIR: the test makes its own (below)
        const command = args.replace(/npm ci /g, 'npm ci --prefer-offline ').replace(/ && npm cache clean --force/, '');
        const started = Date.now();
        const result = await shell(command, dir);
        log.push(`${stage.name}: ${command} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        if (result.code !== 0) throw new Error(`${stage.name}: \`${command}\` failed (${result.code}):\n${result.output.slice(-4000)}`);
        break;
      }
      case 'ENV':
      case 'USER':
      case 'VOLUME':
      case 'EXPOSE':
      case 'HEALTHCHECK':
      case 'ENTRYPOINT':
      case 'CMD':
        break; // read from the stage where they matter
      default:
        throw new Error(`the replay does not know ${op}`);
    }
  }
  process.stdout.write(log.length ? `${log.join('\n')}\n` : '');
  return workdir;
}

function shell(command: string, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    // Jest's NODE_ENV=test must not reach npm (NODE_ENV=production would make `npm ci` omit the toolchain).
    const { NODE_ENV: _jestEnv, ...env } = process.env;
    const child = spawn('sh', ['-c', command], { cwd, env: { ...env, npm_config_update_notifier: 'false' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

/** Every file under a folder with its size and mtime, to show nothing was written there. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => {
      const stat = statSync(path.join(dir, f), { throwIfNoEntry: false });
      return stat ? `${f} ${stat.size} ${stat.mtimeMs}` : `${f} (dangling)`;
    })
    .sort();
}

describe('the image, built and started without Docker', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'xero-scim-image-'));
  let server: ChildProcess | undefined;
  afterAll(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('builds, starts from production dependencies as the image user, passes its HEALTHCHECK and stops on SIGTERM', async () => {
    // ---- build: the stages before the runtime one, independent ones in parallel ----
    const built = new Map<string, { dir: string; workdir: string }>();
    const dependsOn = (stage: Stage) => stage.instructions.flatMap((i) => i.args.match(/--from=(\S+)/)?.[1] ?? []);
    const pending = stages.slice(0, -1);
    while (pending.length > 0) {
      const ready = pending.filter((s) => dependsOn(s).every((d) => built.has(d)));
      expect(ready.length).toBeGreaterThan(0);
      await Promise.all(
        ready.map(async (stage) => {
          const dir = path.join(root, stage.name);
          built.set(stage.name, { dir, workdir: await runStage(stage, dir, built) });
        }),
      );
      for (const stage of ready) pending.splice(pending.indexOf(stage), 1);
    }
    const app = path.join(root, 'runtime');
    await runStage(runtime, app, built);

    // Production dependencies only: nothing of the toolchain or the test suite.
    for (const dev of ['typescript', 'jest', 'ts-jest', '@redocly/cli', 'eslint', 'supertest']) expect(`${dev}: ${existsSync(path.join(app, 'node_modules', dev))}`).toBe(`${dev}: false`);
    expect(existsSync(path.join(app, 'node_modules', 'express'))).toBe(true);
    expect(existsSync(path.join(app, 'src'))).toBe(false);

    // ---- run: the image's environment, its STATE_DIR and /tmp the only writable places ----
    const env = stageEnv(runtime);
    const [uid, gid] = lastOf(runtime, 'USER')!.split(':').map(Number) as [number, number];
    const stateDir = path.join(root, 'state');
    const tmp = path.join(root, 'tmp');
    mkdirSync(stateDir);
    mkdirSync(tmp);
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      // The image user can read the image and write only its volumes.
      chmodSync(root, 0o755);
      chownSync(stateDir, uid, gid);
      chownSync(tmp, uid, gid);
    }
    if (asRoot) {
      // What a read-only root file system enforces in the cluster: the image user cannot write the image.
      const attempt = (dir: string) =>
        spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', process.execPath, '-e', `require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'probe'))}, 'x')`]).status;
      expect({ image: attempt(app), state: attempt(stateDir), tmp: attempt(tmp) }).toEqual({ image: 1, state: 0, tmp: 0 });
      rmSync(path.join(stateDir, 'probe'));
      rmSync(path.join(tmp, 'probe'));
    }
    const before = listing(app);
    const entrypoint = JSON.parse(lastOf(runtime, 'ENTRYPOINT')!) as string[];
    const command = [...entrypoint, ...(JSON.parse(lastOf(runtime, 'CMD')!) as string[]), '--demo'];
    const argv = asRoot ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...command] : command;
    const started = Date.now();
    server = spawn(argv[0]!, argv.slice(1), {
      cwd: app,
      // HOST: loopback here, where the image listens on 0.0.0.0; PORT 0: a free port, read from the banner.
      env: { PATH: process.env.PATH, ...env, STATE_DIR: stateDir, TMPDIR: tmp, HOST: '127.0.0.1', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    server.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    server.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => server!.on('exit', (code) => resolve(code)));
    const banner = await new Promise<{ url: string; token: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner within 30 s:\n${output}`)), 30_000);
      const check = () => {
        const url = output.match(/SCIM 2\.0 on (http:\/\/\S+)\/scim\/v2/)?.[1];
        const token = output.match(/Bearer token: (\S+)/)?.[1];
        if (url && token) {
          clearTimeout(timer);
          resolve({ url, token });
        }
      };
      server!.stdout!.on('data', check);
      void exited.then((code) => reject(new Error(`the server exited (${code}) before listening:\n${output}`)));
    });
    process.stdout.write(`image replay: server answering ${((Date.now() - started) / 1000).toFixed(1)} s after start\n`);

    // The image's own HEALTHCHECK command, pointed at the port the server chose.
    const healthcheck = JSON.parse(lastOf(runtime, 'HEALTHCHECK')!.replace(/^.*?CMD /, '')) as string[];
    const port = new URL(banner.url).port;
    const runHealthcheck = () => spawnSync(healthcheck[0]!, healthcheck.slice(1), { env: { PATH: process.env.PATH, PORT: port }, timeout: 10_000 }).status;
    expect(runHealthcheck()).toBe(0);
    // The ENTRYPOINT gives Node the V8 flags, so the server is the process started (PID 1 in the container), not a
    // child it re-ran itself as.
    if (process.platform === 'linux') expect(readFileSync(`/proc/${server.pid}/task/${server.pid}/children`, 'utf8').trim()).toBe('');

    const users = await fetch(`${banner.url}/scim/v2/Users?count=1`, { headers: { Authorization: `Bearer ${banner.token}` } });
    expect(users.status).toBe(200);
    expect(((await users.json()) as { totalResults: number }).totalResults).toBeGreaterThan(0);
    const document = await fetch(`${banner.url}/openapi.yaml`);
    expect(await document.text()).toBe(readFileSync(path.join(ROOT, 'openapi', 'scim.yaml'), 'utf8'));
    expect((await fetch(`${banner.url}/readyz`)).status).toBe(200);

    // SIGTERM (what Kubernetes and `docker stop` send) ends it cleanly; then the health check fails.
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(runHealthcheck()).toBe(1);
    expect(listing(app)).toEqual(before);
  }, 240_000);
});
