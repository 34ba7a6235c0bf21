/**
 * Three `xero-scim serve` processes on one real redis-server, syncing from the sandbox in this process, as a
 * Deployment of three pods runs them (the V8 flags of the image, REDIS_URL, no STATE_DIR they could write). One
 * leads and alone calls Xero; every replica answers `/scim/v2/Users` with the same body and ETag for one version;
 * `/readyz` names the roles; SIGKILLing the leader lets another take the lease within LEADER_LEASE_SECONDS and sync.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { V8_FLAGS } from '../../src/runtime';
import { createSandbox } from '../../src/sandbox';
import { CLI, ensureBuilt, waitFor } from '../reliability/support';
import { RedisServer, describeWithRedis } from '../support/redis-server';
import { webAppEnvironment } from '../support/sandbox';

const TOKEN = 'replicas-e2e-token-0123456789abcdef';
const PUBLIC_URL = 'https://scim.example.com';
const LEASE_SECONDS = 3;

interface Replica {
  readonly child: ChildProcess;
  readonly url: string;
  logs: string;
}

interface Readiness {
  status: string;
  replication: { replicaId: string; role: 'leader' | 'follower'; leader: string | null; store: { state: string }; sequence: number | null; replicas: { replicaId: string; version: string | null }[] };
}

const auth = { authorization: `Bearer ${TOKEN}` };

async function readyz(r: Replica): Promise<Readiness> {
  return (await (await fetch(`${r.url}/readyz`)).json()) as Readiness;
}

/** Xero calls this process made, from its own /metrics. */
async function xeroCalls(r: Replica): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('xero_scim_xero_calls_total{'))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describeWithRedis('replicas over a real Redis (the CLI, three processes)', () => {
  jest.setTimeout(120_000);
  let redis: RedisServer;
  const sandbox = createSandbox({ data: { seed: 16, organisations: 3, usersPerOrganisation: 5, partnerShare: 0 } });
  let xero: { url: string; close(): Promise<void> };
  const replicas: Replica[] = [];

  beforeAll(async () => {
    ensureBuilt();
    redis = await RedisServer.start();
    xero = await sandbox.listen(0, '127.0.0.1');
  }, 120_000);

  afterAll(async () => {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) process.kill(-r.child.pid!, 'SIGKILL');
    await xero?.close();
    await redis?.destroy();
  });

  async function start(environment: Record<string, string>): Promise<Replica> {
    const child = spawn(process.execPath, [...V8_FLAGS, CLI, 'serve'], {
      env: { PATH: process.env.PATH, ...environment },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const replica = { child, url: '', logs: '' };
    const keep = (d: Buffer) => {
      if (replica.logs.length < 262_144) replica.logs += String(d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    await waitFor(() => /"msg":"xero-scim listening"/.test(replica.logs) || child.exitCode !== null, 30_000, 'a replica to listen');
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(replica.logs)?.[1];
    if (!url) throw new Error(`the replica did not start:\n${replica.logs}`);
    const started = { ...replica, url };
    child.stdout!.on('data', (d: Buffer) => (started.logs += String(d)));
    replicas.push(started);
    return started;
  }

  it('one leader calls Xero, every replica serves the same bytes and ETags, and a killed leader is replaced within the lease', async () => {
    const environment = {
      ...webAppEnvironment(sandbox, xero.url),
      XERO_LOGIN_URL: xero.url,
      REDIS_URL: redis.url,
      LEADER_LEASE_SECONDS: String(LEASE_SECONDS),
      SCIM_BEARER_TOKEN: TOKEN,
      PUBLIC_URL,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      // Nothing may be written here: with REDIS_URL the replicas keep no state on disk (a read-only root filesystem).
      STATE_DIR: '/proc/xero-scim-has-no-state-here',
    };
    const all = await Promise.all([start(environment), start(environment), start(environment)]);

    // Converged: every replica ready, one leader named by all, every one serving the newest published version.
    await waitFor(
      async () => {
        const views = await Promise.all(all.map(readyz));
        const leaders = views.filter((v) => v.replication.role === 'leader');
        return (
          views.every((v) => v.status === 'ready' && v.replication.store.state === 'up') &&
          leaders.length === 1 &&
          views.every((v) => v.replication.leader === leaders[0]!.replication.replicaId) &&
          new Set(views.map((v) => v.replication.sequence)).size === 1
        );
      },
      60_000,
      'the replicas to agree on a leader and a published state',
    );
    const views = await Promise.all(all.map(readyz));
    const leaderIndex = views.findIndex((v) => v.replication.role === 'leader');
    const leader = all[leaderIndex]!;
    const followers = all.filter((r) => r !== leader);
    expect(views.map((v) => v.replication.role).sort()).toEqual(['follower', 'follower', 'leader']);
    // Each replica lists the others, with the version each serves, once their heartbeats have been read.
    const ids = views.map((v) => v.replication.replicaId).sort();
    const served = (v: Readiness) => JSON.stringify(v.replication.replicas.map((r) => [r.replicaId, r.version]).sort());
    const expected = JSON.stringify(ids.map((id) => [id, views[leaderIndex]!.replication.replicas.find((r) => r.replicaId === views[leaderIndex]!.replication.replicaId)!.version]));
    await waitFor(async () => (await Promise.all(all.map(readyz))).every((v) => served(v) === expected), 30_000, 'every replica to list the three, serving one version');

    // Only the leader called Xero.
    expect(await xeroCalls(leader)).toBeGreaterThan(0);
    for (const f of followers) expect(await xeroCalls(f)).toBe(0);
    const connectionsBefore = sandbox.data.counters().byEndpoint['GET /connections'] ?? 0;
    expect(connectionsBefore).toBeGreaterThanOrEqual(1);

    // The same bytes and ETags for one version, whichever replica answers.
    const answers = await Promise.all(
      all.map(async (r) => {
        const res = await fetch(`${r.url}/scim/v2/Users?count=100`, { headers: auth });
        return { status: res.status, etag: res.headers.get('etag'), body: await res.text() };
      }),
    );
    expect(answers[0]!.status).toBe(200);
    expect(answers[0]!.etag).toBeTruthy();
    expect(JSON.parse(answers[0]!.body).totalResults).toBeGreaterThan(0);
    for (const a of answers.slice(1)) expect(a).toEqual(answers[0]);

    // The leader dies without a word: another takes the lease once it expires, and syncs.
    const killedAt = Date.now();
    process.kill(-leader.child.pid!, 'SIGKILL');
    const deposed = views[leaderIndex]!.replication.replicaId;
    await waitFor(
      async () => {
        const survivors = await Promise.all(followers.map(readyz));
        return survivors.some((v) => v.replication.role === 'leader') && survivors.every((v) => v.replication.leader !== deposed && v.replication.leader !== null);
      },
      30_000,
      'a surviving replica to take the lease',
    );
    const takeover = Date.now() - killedAt;
    if (process.env.SHOW_FIGURES) console.log(`takeover after SIGKILL: ${takeover} ms`);
    expect(takeover).toBeLessThan(3 * LEASE_SECONDS * 1000); // the lease's TTL and a renewal round or two
    await waitFor(() => (sandbox.data.counters().byEndpoint['GET /connections'] ?? 0) > connectionsBefore, 30_000, 'the new leader to sync');
    const survivors = await Promise.all(followers.map(readyz));
    const successor = followers[survivors.findIndex((v) => v.replication.role === 'leader')]!;
    expect(await xeroCalls(successor)).toBeGreaterThan(0);
    expect(survivors.every((v) => v.status === 'ready')).toBe(true);
    // Nothing of the chain was lost on the way: the new leader's token came from Redis, not from the first consent.
    expect(sandbox.data.counters().token.errors).toBe(0);
  });
});
