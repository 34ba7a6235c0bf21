/**
 * Guarantee 2 — no lost credentials. The real CLI (`node dist/cli.js serve`) runs against a sandbox in this process
 * whose access tokens outlive nothing (every sync rotates the refresh token), and is SIGKILLed at random points:
 * right after the sandbox rotated the refresh token but before the answer reached the process, just after the answer
 * arrived (while the new token is being stored), while the directory snapshot is being written, and anywhere at all.
 * After every kill the files in STATE_DIR are readable, and the restarted process comes back authorised (a fresh
 * successful sync, /readyz 200) with its snapshot; the sandbox never answers a token error (invalid_grant), so the
 * rotation chain was never broken.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileSnapshotStore } from '../../src/directory/persistence';
import { DEFAULT_CLIENTS, createSandbox } from '../../src/sandbox';
import { FileTokenStore } from '../../src/xero/tokens';
import { CLI, Dice, campaignSeed, ensureBuilt, replayable, reportFigures, size, waitFor } from './support';

const KILLS = size(5, 80);
const TOKEN = 'crash-recovery-scim-token';
const ORGANISATIONS = 12;
type KillPoint = 'after-rotation-before-answer' | 'while-storing-token' | 'while-writing-snapshot' | 'anywhere';
const KILL_POINTS: readonly KillPoint[] = ['after-rotation-before-answer', 'while-storing-token', 'while-writing-snapshot', 'anywhere'];

beforeAll(ensureBuilt, 120_000);

interface Armed {
  point: KillPoint;
  delayMs: number;
}

describe('Guarantee 2: no lost credentials when the process is killed at any moment', () => {
  jest.setTimeout(size(55_000, 1_800_000));
  const children = new Set<ChildProcess>();

  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
  });

  it('comes back authorised with a readable snapshot after every SIGKILL, and the refresh chain is never broken', async () => {
    const seed = campaignSeed(0xdeadbeef);
    const dice = new Dice(seed);
    // A grace period long enough for one restart after a lost answer (what Xero's 30 minutes are for), short enough
    // that a process which did not store its rotated token would hit invalid_grant within the campaign.
    const sandbox = createSandbox({
      data: { seed: 3, organisations: ORGANISATIONS, usersPerOrganisation: 40 },
      accessTokenTtlSeconds: 2,
      refreshGraceSeconds: 10,
    });
    // Latency widens every window between a call and what the process does with its answer.
    sandbox.data.setLatency({ fixedMs: 5, jitterMs: 25 });
    const stateDir = mkdtempSync(path.join(tmpdir(), 'xero-scim-crash-'));
    const figures = { seed, kills: 0, byPoint: {} as Record<string, number>, restarts: 0, refreshes: 0, tokenErrors: 0, violations: 0 };

    let child: ChildProcess | undefined;
    let armed: Armed | undefined;
    let usersAnswered = 0;
    const kill = (why: KillPoint) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      armed = undefined;
      process.kill(-child.pid!, 'SIGKILL');
      figures.kills++;
      figures.byPoint[why] = (figures.byPoint[why] ?? 0) + 1;
    };
    const exited = (c: ChildProcess) => (c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => c.once('exit', () => r())));

    // The sandbox behind a hook that sees each answer leave: where the kills are aimed.
    const xero = http.createServer((req, res) => {
      const route = req.url ?? '';
      if (route.startsWith('/connections')) usersAnswered = 0;
      const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.end = ((...args: unknown[]) => {
        const a = armed;
        if (route.startsWith('/connect/token') && res.statusCode === 200 && a?.point === 'after-rotation-before-answer' && child) {
          // Rotated at the sandbox; the process dies before a byte of the answer reaches it.
          const dying = child;
          kill(a.point);
          void exited(dying).then(() => end(...args));
          return res;
        }
        const sent = end(...args);
        if (route.startsWith('/connect/token') && res.statusCode === 200) figures.refreshes++;
        if (a?.point === 'while-storing-token' && route.startsWith('/connect/token') && res.statusCode === 200) setTimeout(() => kill(a.point), a.delayMs);
        if (route.includes('/api.xro/2.0/Users') && res.statusCode === 200 && ++usersAnswered === ORGANISATIONS && a?.point === 'while-writing-snapshot') {
          setTimeout(() => kill(a.point), a.delayMs);
        }
        return sent;
      }) as typeof res.end;
      sandbox.app(req, res);
    });
    await new Promise<void>((resolve) => xero.listen(0, '127.0.0.1', resolve));
    const xeroUrl = `http://127.0.0.1:${(xero.address() as { port: number }).port}`;
    const initialRefreshToken = sandbox.data.issueRefreshToken(
      DEFAULT_CLIENTS.web.clientId,
      sandbox.data.organisations().map((o) => o.organisationId),
    );

    const start = async (): Promise<string> => {
      const env: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        XERO_CLIENT_ID: DEFAULT_CLIENTS.web.clientId,
        XERO_CLIENT_SECRET: DEFAULT_CLIENTS.web.clientSecret,
        XERO_REFRESH_TOKEN: initialRefreshToken, // as an operator leaves it: the stored, newer token must win
        XERO_API_URL: xeroUrl,
        XERO_IDENTITY_URL: xeroUrl,
        STATE_DIR: stateDir,
        SCIM_BEARER_TOKEN: TOKEN,
        SYNC_MODE: 'live', // every read older than a second syncs (and so rotates): many kill points per second
        LIVE_MIN_FRESHNESS_SECONDS: '1',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
      };
      const c = spawn(process.execPath, [CLI, 'serve'], { env, cwd: stateDir, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(c);
      child = c;
      let out = '';
      c.stdout!.on('data', (d) => (out += String(d)));
      c.stderr!.on('data', (d) => (out += String(d)));
      await waitFor(() => /"msg":"xero-scim listening"/.test(out) || c.exitCode !== null, 20_000, 'the CLI to listen');
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
      if (!url) throw new Error(`the CLI did not start:\n${out}`);
      return url;
    };
    const readiness = async (url: string) => {
      const res = await fetch(`${url}/readyz`);
      return { status: res.status, body: (await res.json()) as { lastSyncAt: string | null; lastSyncOutcome: string | null; reason?: string } };
    };
    /** Authorised again: a sync that began after this restart succeeded, so the token it holds works. */
    const comesBack = async (url: string, restartedAt: string) => {
      await waitFor(
        async () => {
          await fetch(`${url}/scim/v2/Groups?count=1`, { headers: { authorization: `Bearer ${TOKEN}` } }); // drives a live sync
          const r = await readiness(url);
          if (r.body.reason?.includes('invalid_grant')) throw new Error(`not authorised after restart: ${r.body.reason}`);
          return r.status === 200 && r.body.lastSyncOutcome === 'ok' && (r.body.lastSyncAt ?? '') > restartedAt;
        },
        20_000,
        'the restarted process to sync successfully',
      );
    };
    const filesReadable = async () => {
      // A torn or half-written file would throw here (and would make the next start fail or serve nothing).
      const tokens = await new FileTokenStore(stateDir).load();
      const snapshot = await new FileSnapshotStore(stateDir).load();
      if (tokens) expect(tokens.clientId).toBe(DEFAULT_CLIENTS.web.clientId);
      if (snapshot) expect(snapshot.tenants).toHaveLength(ORGANISATIONS);
    };

    try {
      for (let round = 1; round <= KILLS; round++) {
        await replayable(seed, `kill ${round}`, async () => {
          const restartedAt = new Date().toISOString();
          const url = await start();
          if (round > 1) {
            figures.restarts++;
            await comesBack(url, restartedAt);
          }
          const point = dice.pick(KILL_POINTS);
          armed = { point, delayMs: dice.int(0, point === 'while-writing-snapshot' ? 60 : 15) };
          const dying = child!;
          if (point === 'anywhere') setTimeout(() => kill('anywhere'), dice.int(0, 1500));
          // Keep reads coming so live syncs (and rotations) happen until the kill lands.
          const deadline = Date.now() + 15_000;
          while (dying.exitCode === null && dying.signalCode === null && Date.now() < deadline) {
            await fetch(`${url}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${TOKEN}` } }).catch(() => undefined);
            await new Promise((r) => setTimeout(r, 150));
          }
          await exited(dying);
          expect(dying.signalCode).toBe('SIGKILL');
          await filesReadable();
        });
      }
      // The last restart: authorised, serving, and the chain intact at the sandbox.
      const restartedAt = new Date().toISOString();
      const url = await start();
      await comesBack(url, restartedAt);
      figures.restarts++;
      const users = await fetch(`${url}/scim/v2/Users?count=1`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(users.status).toBe(200);
      process.kill(-child!.pid!, 'SIGTERM');
      await exited(child!);
      // Crashes mid-write leave temporary files behind; the writes after a restart clear them, so STATE_DIR does
      // not fill up over many crashes.
      expect(readdirSync(stateDir).sort()).toEqual(['directory.state', 'xero-tokens.json']);
      figures.tokenErrors = sandbox.data.counters().token.errors;
      expect(sandbox.data.counters().token.errors).toBe(0);
      expect(figures.kills).toBe(KILLS);
    } catch (err) {
      figures.violations++;
      throw err;
    } finally {
      reportFigures('crash-recovery', figures);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) process.kill(-c.pid!, 'SIGKILL');
      await Promise.all([...children].map(exited));
      xero.closeAllConnections();
      await new Promise((resolve) => xero.close(resolve));
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
