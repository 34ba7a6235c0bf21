/**
 * A deployment of xero-scim replicas for the replica campaigns: a real `redis-server`, the sandbox listening in the
 * test process, and N real `node dist/cli.js serve` processes with `REDIS_URL`, each in its own process group (so a
 * SIGKILL, SIGSTOP or SIGCONT reaches exactly that replica).
 *
 * Each replica slot reaches the sandbox through a port of its own (XERO_API_URL and XERO_IDENTITY_URL point at it),
 * so every Xero call is attributed to the replica that made it without asking the replicas anything: "the followers
 * make no Xero calls" and "only the new leader redeems" are read from the sandbox's side. Each answer passes a hook
 * before it leaves, where a campaign can arm a kill or a pause at an exact point (after a refresh token rotated but
 * before the answer reached the process, after the last organisation's users arrived, …).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { personId } from '../../src/directory/ids';
import { DEFAULT_CLIENTS, type GenerateOptions, type Sandbox, createSandbox } from '../../src/sandbox';
import { V8_FLAGS } from '../../src/runtime';
import { RedisServer, type RedisServerOptions } from '../support/redis-server';
import { CLI, waitFor } from './support';

export const SCIM_TOKEN = 'replica-campaign-scim-token-7f3a';
const CURSOR_SECRET = 'replica-campaign-cursor-secret-91c2';

/** One Xero call as the sandbox answered it. */
export interface XeroCall {
  readonly slot: number;
  readonly at: number;
  readonly method: string;
  readonly route: string;
  readonly status: number;
  /** `token`, `connections`, `Users`, `Organisation` or `other`. */
  readonly kind: 'token' | 'connections' | 'Users' | 'Organisation' | 'other';
}

/**
 * Sees every answer before it leaves the sandbox. `send` delivers it; a hook that does not call it at once holds
 * the answer (it must call it later).
 */
export type AnswerHook = (call: XeroCall, send: () => void) => void;

export interface ClusterOptions {
  readonly replicas: number;
  readonly data: GenerateOptions;
  /** Short access tokens make every sync redeem the refresh token. */
  readonly accessTokenTtlSeconds: number;
  /** Short grace: a replica that redeemed a stale refresh token would meet invalid_grant within the campaign. */
  readonly refreshGraceSeconds: number;
  readonly leaseSeconds: number;
  readonly syncIntervalSeconds: number;
  readonly redis?: RedisServerOptions;
  readonly latency?: { fixedMs: number; jitterMs: number };
}

/** What `/readyz` says of replication. */
export interface Readiness {
  status: number;
  body: {
    status: string;
    replication?: {
      role: 'leader' | 'follower';
      leader?: string;
      replicaId?: string;
      store: { state: string };
      replicas: { replicaId: string; role: string; version?: string }[];
      sequence?: number;
    };
  };
}

export interface ScimAnswer {
  status: number;
  etag: string | null;
  text: string;
  body: Record<string, unknown>;
}

/** One `serve` process in a slot; a restart puts a new process in the same slot (and behind the same Xero port). */
export class Replica {
  /** The last 64 KiB of its log, for failure messages. */
  private log = '';
  stopped = false;
  /** Set by the first 200 it answers: a replica that has served must keep serving. */
  served = false;

  constructor(
    readonly slot: number,
    readonly child: ChildProcess,
    readonly generation: number,
  ) {
    // Request lines (the watcher makes many) are dropped: what is kept is what the replica says of itself.
    const keep = (d: Buffer) => {
      const lines = String(d)
        .split('\n')
        .filter((line) => line !== '' && !line.includes('"msg":"request"'));
      if (lines.length > 0) this.log = `${this.log}${lines.join('\n')}\n`.slice(-65_536);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  url = '';

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Up and not paused: its answers count. */
  get serving(): boolean {
    return this.alive && !this.stopped && this.url !== '';
  }

  logTail(lines = 30): string {
    return this.log.split('\n').slice(-lines).join('\n');
  }

  async listening(): Promise<void> {
    await waitFor(() => /"msg":"xero-scim listening"/.test(this.log) || !this.alive, 30_000, `replica ${this.slot} to listen`);
    const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(this.log)?.[1];
    if (!url) throw new Error(`replica ${this.slot} did not start:\n${this.logTail()}`);
    this.url = url;
  }

  signal(signal: 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGTERM'): void {
    if (!this.alive) return;
    process.kill(-this.child.pid!, signal);
    if (signal === 'SIGSTOP') this.stopped = true;
    if (signal === 'SIGCONT') this.stopped = false;
  }

  exited(): Promise<void> {
    return this.alive ? new Promise((resolve) => this.child.once('exit', () => resolve())) : Promise.resolve();
  }

  async readiness(timeoutMs = 2_000): Promise<Readiness> {
    const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: (await res.json()) as Readiness['body'] };
  }

  async scim(route: string, timeoutMs = 5_000): Promise<ScimAnswer> {
    const res = await fetch(`${this.url}/scim/v2${route}`, { headers: { authorization: `Bearer ${SCIM_TOKEN}` }, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // not JSON: the status says what went wrong
    }
    return { status: res.status, etag: res.headers.get('etag'), text, body };
  }
}

export class ReplicaCluster {
  readonly replicas: Replica[] = [];
  readonly calls: XeroCall[] = [];
  hook: AnswerHook | undefined;
  private readonly fronts: http.Server[] = [];
  private readonly frontUrls: string[] = [];
  private readonly stateDirs: string[] = [];
  private readonly initialRefreshToken: string;
  private generations = 0;

  private constructor(
    readonly options: ClusterOptions,
    readonly sandbox: Sandbox,
    readonly redis: RedisServer,
  ) {
    this.initialRefreshToken = sandbox.data.issueRefreshToken(
      DEFAULT_CLIENTS.web.clientId,
      sandbox.data.organisations().map((o) => o.organisationId),
    );
  }

  static async start(options: ClusterOptions): Promise<ReplicaCluster> {
    const sandbox = createSandbox({
      data: options.data,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds,
      refreshGraceSeconds: options.refreshGraceSeconds,
    });
    if (options.latency) sandbox.data.setLatency(options.latency);
    const redis = await RedisServer.start(options.redis ?? {});
    const cluster = new ReplicaCluster(options, sandbox, redis);
    for (let slot = 0; slot < options.replicas; slot++) await cluster.openFront(slot);
    await Promise.all(Array.from({ length: options.replicas }, (_, slot) => cluster.startReplica(slot)));
    return cluster;
  }

  /** The sandbox behind a port of this slot's own, with the answer hook. */
  private async openFront(slot: number): Promise<void> {
    const front = http.createServer((req, res) => {
      const route = req.url ?? '';
      const end = res.end.bind(res) as (...args: unknown[]) => http.ServerResponse;
      res.end = ((...args: unknown[]) => {
        const call: XeroCall = { slot, at: Date.now(), method: req.method ?? 'GET', route, status: res.statusCode, kind: kindOf(route) };
        this.calls.push(call);
        const hook = this.hook;
        if (!hook) return end(...args);
        let sent = false;
        hook(call, () => {
          if (sent) return;
          sent = true;
          end(...args);
        });
        return res;
      }) as typeof res.end;
      this.sandbox.app(req, res);
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    this.fronts[slot] = front;
    this.frontUrls[slot] = `http://127.0.0.1:${(front.address() as { port: number }).port}`;
    this.stateDirs[slot] = mkdtempSync(path.join(tmpdir(), `xero-scim-replica-${slot}-`));
  }

  /** Starts a `serve` process in the slot (replacing a dead one); resolves once it listens. */
  async startReplica(slot: number): Promise<Replica> {
    const previous = this.replicas[slot];
    if (previous?.alive) throw new Error(`replica ${slot} is still running`);
    const xeroUrl = this.frontUrls[slot]!;
    const child = spawn(process.execPath, [...V8_FLAGS, CLI, 'serve'], {
      env: {
        PATH: process.env.PATH,
        XERO_CLIENT_ID: DEFAULT_CLIENTS.web.clientId,
        XERO_CLIENT_SECRET: DEFAULT_CLIENTS.web.clientSecret,
        // As an operator leaves it: the chain in Redis, newer, must win over it.
        XERO_REFRESH_TOKEN: this.initialRefreshToken,
        XERO_API_URL: xeroUrl,
        XERO_IDENTITY_URL: xeroUrl,
        REDIS_URL: this.redis.url,
        LEADER_LEASE_SECONDS: String(this.options.leaseSeconds),
        SYNC_INTERVAL_SECONDS: String(this.options.syncIntervalSeconds),
        STATE_DIR: this.stateDirs[slot]!,
        SCIM_BEARER_TOKEN: SCIM_TOKEN,
        SCIM_CURSOR_SECRET: CURSOR_SECRET,
        // Behind one load balancer: locations name it, so every replica's bytes are the same.
        PUBLIC_URL: 'https://scim.replicas.invalid',
        XERO_TIMEOUT_MS: '5000',
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
      },
      cwd: this.stateDirs[slot]!,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const replica = new Replica(slot, child, ++this.generations);
    this.replicas[slot] = replica;
    await replica.listening();
    return replica;
  }

  /** SIGKILLs the slot's process and waits until it is gone. */
  async kill(slot: number): Promise<void> {
    const replica = this.replicas[slot]!;
    replica.signal('SIGCONT'); // a paused process dies all the same, but be explicit
    replica.signal('SIGKILL');
    await replica.exited();
  }

  serving(): Replica[] {
    return this.replicas.filter((r) => r.serving);
  }

  /** The slots whose `/readyz` says they lead (among those serving). */
  async leaders(): Promise<number[]> {
    const roles = await Promise.all(
      this.serving().map(async (r) => {
        try {
          return (await r.readiness()).body.replication?.role === 'leader' ? [r.slot] : [];
        } catch {
          return [];
        }
      }),
    );
    return roles.flat();
  }

  /** Waits until exactly one serving replica says it leads; returns its slot. */
  async oneLeader(timeoutMs: number, what = 'one leader'): Promise<number> {
    let leader = -1;
    await waitFor(
      async () => {
        const leaders = await this.leaders();
        leader = leaders.length === 1 ? leaders[0]! : -1;
        return leader >= 0;
      },
      timeoutMs,
      what,
    );
    return leader;
  }

  /** Xero calls made since `since` (ms), by slot. */
  callsSince(since: number, filter: (c: XeroCall) => boolean = () => true): XeroCall[] {
    return this.calls.filter((c) => c.at >= since && filter(c));
  }

  /** The sandbox's memberships as the global SCIM Groups show them: `<organisation id>|<person id>`. */
  truth(): Set<string> {
    const out = new Set<string>();
    for (const org of this.sandbox.data.organisations()) {
      out.add(`group:${org.organisationId.toLowerCase()}`);
      for (const user of this.sandbox.data.users(org.organisationId)) {
        if (user.role !== 'REMOVED') out.add(`${org.organisationId.toLowerCase()}|${personId(user.email)}`);
      }
    }
    return out;
  }

  /** The last lines of every replica's log (for a failure's message). */
  logs(): string {
    const calls = this.calls.slice(-15).map((c) => `${new Date(c.at).toISOString().slice(11, 23)} slot ${c.slot} ${c.kind} ${c.status}`);
    return [
      ...this.replicas.map((r) => `--- replica ${r.slot} (generation ${r.generation}, ${r.alive ? (r.stopped ? 'paused' : 'up') : 'dead'}) ---\n${r.logTail()}`),
      `--- the sandbox's last answers (token errors so far: ${this.sandbox.data.counters().token.errors}) ---`,
      ...calls,
    ].join('\n');
  }

  async destroy(): Promise<void> {
    for (const r of this.replicas) {
      if (!r.alive) continue;
      r.signal('SIGCONT');
      r.signal('SIGKILL');
    }
    await Promise.all(this.replicas.map((r) => r.exited()));
    for (const front of this.fronts) {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
    await this.redis.destroy();
    for (const dir of this.stateDirs) rmSync(dir, { recursive: true, force: true });
  }
}

function kindOf(route: string): XeroCall['kind'] {
  if (route.startsWith('/connect/token')) return 'token';
  if (route.startsWith('/connections')) return 'connections';
  if (route.startsWith('/api.xro/2.0/Users')) return 'Users';
  if (route.startsWith('/api.xro/2.0/Organisation')) return 'Organisation';
  return 'other';
}

/** Memberships (and organisations) in a global `/Groups` answer: `<group id>|<member value>` and `group:<id>`. */
export function membershipsOf(body: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const group of (body.Resources ?? []) as { id: string; members?: { value: string }[] }[]) {
    const id = group.id.toLowerCase();
    out.add(`group:${id}`);
    for (const m of group.members ?? []) out.add(`${id}|${m.value.toLowerCase()}`);
  }
  return out;
}
