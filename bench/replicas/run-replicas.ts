/**
 * The replicas benchmark (BENCH_PARTS=replicas): real `xero-scim serve` processes sharing a real redis-server, syncing
 * from the sandbox (in a process of its own, Xero's limits enforced, BENCH_LATENCY_MS on every call, as the sync
 * benchmark runs it) at BENCH_REPLICA_USERS users.
 *
 * - Xero calls per sync with 1, 2 and 3 replicas, counted by the sandbox between quiet moments (a sync is one
 *   `/connections` call, whoever makes it), with the number of replicas that called at all (each reaches the sandbox
 *   through a port of its own): followers call nothing, so the three must be equal and one replica calls.
 * - Follower lag: the leader's sync changes the data (a person joins before each sync); every replica's `/readyz`
 *   (the snapshot version it serves) is polled every 20 ms, and the lag is when a follower first serves the new
 *   version minus when the leader's publish of it was stored (`publishedAt`, Redis's clock, on this machine), and
 *   also minus when the leader first served it (which adds the publish itself: serialising and compressing).
 * - RSS of the leader and of the followers (from /proc) once they have served a few versions.
 * - Failover: the leader SIGKILLed at a random point of its sync cycle, with a change made at that instant; the
 *   time until another replica leads (/readyz) and until a survivor serves the change (the successor's first
 *   published sync).
 * - How long a new replica takes from start to serving the current version (it loads the published state).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataFor } from '../dataset';
import { Child } from '../ipc';
import type { BenchOptions } from '../options';
import { type Memory, memory, round } from '../proc';
import type { SandboxInfo } from '../servers/sandbox-process';
import type { SandboxCounters } from '../../src/sandbox';
import { V8_FLAGS } from '../../src/runtime';
import { Redis } from 'ioredis';
// The tests' redis-server launcher, run as a deployment's Redis is (appendonly yes, fsync every second, noeviction).
import { RedisServer } from '../../test/support/redis-process';

/** The bench's own build of the CLI (bench/tsconfig.json includes src/cli.ts). */
const CLI = path.resolve(__dirname, '..', '..', 'src', 'cli.js');
const TOKEN = 'bench-replicas-token-3c9e1f07a2d4';
const SYNC_INTERVAL_SECONDS = 5;
/** Syncs counted per replica count. */
const COUNTED_SYNCS = 2;

export interface CallsPerSync {
  replicas: number;
  /** Syncs the sandbox saw (one `/connections` call each), whichever replica made them. */
  syncs: number;
  xeroCalls: number;
  callsPerSync: number;
  tokenCallsPerSync: number;
  /** How many replicas made any Xero call in the window (each reaches the sandbox through a port of its own). */
  replicasCallingXero: number;
}

export interface Failover {
  /** Leader SIGKILLed → another replica's /readyz says leader. */
  leadershipMs: number;
  /** Leader SIGKILLed → a survivor serves the data changed at the kill (the successor's first sync published). */
  publishedMs: number;
}

export interface ReplicaResults {
  users: number;
  organisations: number;
  memberships: number;
  latencyMs: number;
  leaseSeconds: number;
  syncIntervalSeconds: number;
  callsPerSync: CallsPerSync[];
  /** Leader's publish stored → a follower serves it. */
  lagMs: { samples: number[]; p50: number; p99: number; max: number };
  /** Leader serves a version → a follower serves it (the publish included). */
  lagFromLeaderMs: { samples: number[]; p50: number; p99: number; max: number };
  /** Once they have served BENCH_REPLICA_SYNCS versions. */
  memory: { leader: Memory; followers: Memory[] };
  failovers: Failover[];
  /** A new replica, from spawn to serving the version the others serve. */
  replicaStartMs: number[];
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`replicas bench: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** One `xero-scim serve` process. */
class ServeReplica {
  url = '';

  private constructor(
    readonly name: string,
    /** Which sandbox front (port) it calls Xero through. */
    readonly slot: number,
    readonly child: ChildProcess,
  ) {}

  static async start(name: string, slot: number, env: NodeJS.ProcessEnv): Promise<ServeReplica> {
    const child = spawn(process.execPath, [...V8_FLAGS, CLI, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const replica = new ServeReplica(name, slot, child);
    let out = '';
    // Read until the listening line, then drained: the pipe must never fill and block the server.
    const keep = (d: Buffer) => {
      if (out.length < 262_144) out += String(d);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    replica.url = await until(
      async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited at start:\n${out.slice(-4000)}`);
        return /"msg":"xero-scim listening".*?"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1] ?? /"url":"(http:\/\/127\.0\.0\.1:\d+)".*?"msg":"xero-scim listening"/.exec(out)?.[1];
      },
      120_000,
      `${name} to listen`,
      50,
    );
    return replica;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The list ETag, a function of the snapshot version; undefined while nothing is served. */
  async version(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.url}/scim/v2/Users?count=1&attributes=id`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(5_000) });
      await res.arrayBuffer();
      return res.status === 200 ? (res.headers.get('etag') ?? undefined) : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The snapshot version this replica serves, as its `/readyz` says (set the moment a snapshot is swapped in): cheap,
   * unlike a SCIM list, whose every call renders a page of the 100,000 users and would load the replicas it measures.
   */
  async servedVersion(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { replication?: { replicaId?: string; replicas?: { replicaId: string; version?: string }[] } };
      const self = body.replication?.replicas?.find((r) => r.replicaId === body.replication?.replicaId);
      return self?.version;
    } catch {
      return undefined;
    }
  }

  async role(): Promise<string | undefined> {
    try {
      const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(5_000) });
      const body = (await res.json()) as { replication?: { role?: string } };
      return body.replication?.role;
    } catch {
      return undefined;
    }
  }

  async kill(): Promise<void> {
    if (!this.alive) return;
    const gone = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGKILL');
    await gone;
  }
}

function connectionsOf(c: SandboxCounters): number {
  return Object.entries(c.byEndpoint)
    .filter(([k]) => k.includes('/connections'))
    .reduce((n, [, v]) => n + v, 0);
}

function tokensOf(c: SandboxCounters): number {
  return c.token.refresh_token + c.token.client_credentials + c.token.authorization_code + c.token.other;
}

export async function runReplicas(options: BenchOptions): Promise<ReplicaResults> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-replicas-bench-'));
  const replicas: ServeReplica[] = [];
  let sandbox: Child<SandboxInfo> | undefined;
  let redis: RedisServer | undefined;
  try {
    const data = dataFor(options.replicaUsers);
    log(`replicas: sandbox with ${data.organisations} organisations (~${options.replicaUsers} users), limits enforced, ${options.latencyMs} ms per call`);
    sandbox = await Child.start<SandboxInfo>('sandbox', {
      script: 'servers/sandbox-process.js',
      input: { data, limits: { enforce: true }, latency: { fixedMs: options.latencyMs }, fronts: 3 },
    });
    const s = sandbox;
    redis = await RedisServer.start({ appendFsync: 'everysec' });
    const counters = () => s.call<SandboxCounters>('counters');
    let joined = 0;
    const change = () => s.call('join', { n: joined++ });
    let started = 0;
    const env = (slot: number): NodeJS.ProcessEnv => ({
      PATH: process.env.PATH,
      XERO_CLIENT_ID: s.info.clientId,
      XERO_CLIENT_SECRET: s.info.clientSecret,
      XERO_REFRESH_TOKEN: s.info.refreshToken,
      XERO_API_URL: s.info.frontUrls[slot],
      XERO_IDENTITY_URL: s.info.frontUrls[slot],
      REDIS_URL: redis!.url,
      LEADER_LEASE_SECONDS: String(options.leaseSeconds),
      SYNC_INTERVAL_SECONDS: String(SYNC_INTERVAL_SECONDS),
      STATE_DIR: path.join(work, `replica-${started}`),
      SCIM_BEARER_TOKEN: TOKEN,
      SCIM_CURSOR_SECRET: 'bench-replicas-cursor-secret-5e2a',
      PUBLIC_URL: 'https://scim.bench.invalid',
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
    });
    const replicaStartMs: number[] = [];
    /** A new replica, timed from spawn until it serves `expected` (or anything, for the first). */
    const addReplica = async (slot: number, expected?: string): Promise<ServeReplica> => {
      const t0 = Date.now();
      const replica = await ServeReplica.start(`replica ${++started}`, slot, env(slot));
      replicas.push(replica);
      await until(async () => {
        const v = await replica.version();
        return v !== undefined && (expected === undefined || v === expected) ? v : undefined;
      }, 600_000, `${replica.name} to serve`, 50);
      if (expected !== undefined) replicaStartMs.push(Date.now() - t0);
      return replica;
    };
    /** No Xero call for 1.5 s: between syncs. */
    const quiet = async (): Promise<SandboxCounters> => {
      let last = await counters();
      let since = Date.now();
      for (;;) {
        await sleep(250);
        const now = await counters();
        if (now.total !== last.total) {
          last = now;
          since = Date.now();
        } else if (Date.now() - since >= 1_500) return now;
      }
    };
    const live = () => replicas.filter((r) => r.alive);
    const leaderOf = async (): Promise<ServeReplica> =>
      until(async () => {
        const roles = await Promise.all(live().map(async (r) => [r, await r.role()] as const));
        const leaders = roles.filter(([, role]) => role === 'leader');
        return leaders.length === 1 ? leaders[0]![0] : undefined;
      }, (options.leaseSeconds + 30) * 1000, 'one leader', 100);

    // Xero calls per sync with 1, 2 and 3 replicas.
    log('replicas: first replica, first sync');
    await addReplica(0);
    const callsPerSync: CallsPerSync[] = [];
    const frontCalls = () => s.call<number[]>('frontCalls');
    for (let n = 1; n <= 3; n++) {
      if (n > 1) {
        const current = await live()[0]!.version();
        await addReplica(n - 1, current);
      }
      const before = await quiet();
      const [beganAt, frontsBefore] = [Date.now(), await frontCalls()];
      await until(async () => (connectionsOf(await counters()) >= connectionsOf(before) + COUNTED_SYNCS ? true : undefined), COUNTED_SYNCS * 600_000, `${COUNTED_SYNCS} syncs`, 250);
      // Into the next quiet moment, then on until a whole sync interval has passed: a follower syncing on its own
      // schedule would be counted.
      let after = await quiet();
      while (Date.now() - beganAt < (COUNTED_SYNCS + 1) * SYNC_INTERVAL_SECONDS * 1000) after = await quiet();
      const windowMs = Date.now() - beganAt;
      const frontsAfter = await frontCalls();
      const syncs = connectionsOf(after) - connectionsOf(before);
      const calls = after.total - before.total;
      callsPerSync.push({
        replicas: n,
        syncs,
        xeroCalls: calls,
        callsPerSync: round(calls / syncs, 2),
        tokenCallsPerSync: round((tokensOf(after) - tokensOf(before)) / syncs, 2),
        replicasCallingXero: frontsAfter.filter((c, i) => c > frontsBefore[i]!).length,
      });
      log(`replicas: ${n} replica(s): ${calls} Xero calls over ${syncs} syncs in ${round(windowMs / 1000, 1)} s (${round(calls / syncs, 1)} per sync), from ${callsPerSync.at(-1)!.replicasCallingXero} replica(s)`);
    }

    // Follower lag: a change before each sync; the moment each replica first serves the new version.
    const lag: number[] = [];
    const lagFromLeader: number[] = [];
    const leader = await leaderOf();
    const published = new Redis(redis!.url, { lazyConnect: false });
    const publishKey = 'xero-scim:directory';
    for (let i = 0; i < options.replicaSyncs; i++) {
      await quiet();
      const baseline = await Promise.all(live().map((r) => r.servedVersion()));
      const baselineVersion = await published.hget(publishKey, 'version');
      await change();
      const firstServed = new Map<ServeReplica, number>();
      let publishedAt: number | undefined;
      await until(
        async () => {
          if (publishedAt === undefined) {
            const [version, at] = await published.hmget(publishKey, 'version', 'publishedAt');
            if (version !== baselineVersion && at) publishedAt = Number(at);
          }
          await Promise.all(
            live().map(async (r, k) => {
              if (firstServed.has(r)) return;
              const v = await r.servedVersion();
              if (v !== undefined && v !== baseline[k]) firstServed.set(r, Date.now());
            }),
          );
          return firstServed.size === live().length ? true : undefined;
        },
        (options.leaseSeconds + 120) * 1000,
        'every replica to serve the new version',
      );
      const at = firstServed.get(leader)!;
      const stored = publishedAt ?? Number(await published.hget(publishKey, 'publishedAt'));
      for (const [r, t] of firstServed) {
        if (r === leader) continue;
        lagFromLeader.push(t - at);
        lag.push(t - stored);
      }
      log(`replicas: sync ${i + 1}/${options.replicaSyncs}: follower lag after the publish ${[...firstServed].filter(([r]) => r !== leader).map(([, t]) => `${t - stored} ms`).join(', ')} (after the leader served it: ${[...firstServed].filter(([r]) => r !== leader).map(([, t]) => `${t - at} ms`).join(', ')})`);
    }
    published.disconnect();
    const mem = { leader: memory(leader.pid), followers: live().filter((r) => r !== leader).map((r) => memory(r.pid)) };
    log(`replicas: RSS leader ${mem.leader.rssMiB} MiB (peak ${mem.leader.peakRssMiB}), followers ${mem.followers.map((m) => `${m.rssMiB} MiB (peak ${m.peakRssMiB})`).join(', ')}`);

    // Failover: the leader SIGKILLed at a random point of its cycle; a change made at that instant.
    const failovers: Failover[] = [];
    for (let i = 0; i < options.failovers; i++) {
      const current = await leaderOf();
      const survivors = live().filter((r) => r !== current);
      await quiet();
      await sleep(Math.floor(Math.random() * SYNC_INTERVAL_SECONDS * 1000));
      const baseline = await Promise.all(survivors.map((r) => r.version()));
      await change();
      const killedAt = Date.now();
      await current.kill();
      replicas.splice(replicas.indexOf(current), 1);
      const slot = current.slot;
      let leadershipMs = NaN;
      const publishedMs = await until(
        async () => {
          if (Number.isNaN(leadershipMs) && (await Promise.all(survivors.map((r) => r.role()))).includes('leader')) leadershipMs = Date.now() - killedAt;
          const versions = await Promise.all(survivors.map((r) => r.version()));
          return versions.some((v, k) => v !== undefined && v !== baseline[k]) ? Date.now() - killedAt : undefined;
        },
        (options.leaseSeconds + 120) * 1000,
        'a survivor to publish the change',
        50,
      );
      failovers.push({ leadershipMs, publishedMs });
      log(`replicas: failover ${i + 1}/${options.failovers}: leader after ${leadershipMs} ms, change published after ${publishedMs} ms`);
      // Back to three: the new replica serves what the others serve.
      const serving = await until(async () => {
        const versions = await Promise.all(survivors.map((r) => r.version()));
        return versions.every((v) => v !== undefined && v === versions[0]) ? versions[0] : undefined;
      }, 120_000, 'the survivors to agree', 50);
      await addReplica(slot, serving);
    }

    const finalCounters = await counters();
    if (finalCounters.token.errors > 0) throw new Error(`replicas bench: the sandbox answered ${finalCounters.token.errors} token error(s): the shared chain broke`);
    return {
      users: options.replicaUsers,
      organisations: s.info.organisations,
      memberships: s.info.memberships,
      latencyMs: options.latencyMs,
      leaseSeconds: options.leaseSeconds,
      syncIntervalSeconds: SYNC_INTERVAL_SECONDS,
      callsPerSync,
      lagMs: { samples: lag, p50: percentile(lag, 50), p99: percentile(lag, 99), max: Math.max(...lag) },
      lagFromLeaderMs: { samples: lagFromLeader, p50: percentile(lagFromLeader, 50), p99: percentile(lagFromLeader, 99), max: Math.max(...lagFromLeader) },
      memory: mem,
      failovers,
      replicaStartMs,
    };
  } finally {
    await Promise.all(replicas.map((r) => r.kill()));
    await sandbox?.stop();
    await redis?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}
