/**
 * One Xero token chain shared by replicas through a real redis-server, renewed against the real sandbox over HTTP
 * (RELIABILITY.md, "8. One token chain across replicas"). Every redemption the sandbox answers is recorded from the
 * wire: which refresh token went out, which came back, and whether Xero said invalid_grant. A chain is sound when
 * nothing was refused, no refresh token was redeemed twice, and each redemption used the token the one before it
 * returned.
 */
import { runAuth } from '../../src/commands/auth';
import { loadConfig } from '../../src/config';
import { Credentials } from '../../src/directory/credentials';
import { silentLogger } from '../../src/log';
import { RedisConnection } from '../../src/redis/connection';
import { KEYS } from '../../src/redis/keys';
import { RedisTokenStore, type RedisTokenStoreOptions } from '../../src/redis/token-store';
import { DEFAULT_CLIENTS, type Sandbox, createSandbox } from '../../src/sandbox';
import { type Clock, systemClock } from '../../src/xero/clock';
import { XeroError } from '../../src/xero/errors';
import { IdentityClient } from '../../src/xero/identity';
import { type StoredTokens, TokenProvider, TokenStoreError, fingerprint } from '../../src/xero/tokens';
import { RedisServer, describeWithRedis } from '../support/redis-server';
import { freePort } from '../support/free-port';
import { tokenStoreContract } from '../support/token-store-contract';

jest.setTimeout(120_000);

/** Rotations in the race: 150, or 1,000 with SOAK set. */
const ROUNDS = process.env.SOAK ? 1_000 : 150;
/** The sandbox's grace period for a replaced refresh token, short so a test can step past it. */
const GRACE_SECONDS = 60;

/** The sandbox's time: real time plus whatever the test steps forward (past a grace period). */
class SteppedClock implements Clock {
  private offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }
  step(ms: number): void {
    this.offset += ms;
  }
}

interface Redemption {
  readonly sent: string;
  readonly received?: string;
  readonly status: number;
  readonly error?: string;
}

/** Every refresh_token call that reached the sandbox, in the order the answers came back. */
class Wire {
  readonly redemptions: Redemption[] = [];
  clientCredentials = 0;

  /** A fetch that records; `hold` may delay handing an answer back to the caller (not the sandbox's work). */
  fetch(hold?: () => Promise<void>): typeof fetch {
    return async (input, init) => {
      const form = new URLSearchParams(String(init?.body ?? ''));
      const response = await fetch(input, init);
      if (form.get('grant_type') === 'client_credentials') this.clientCredentials++;
      if (form.get('grant_type') === 'refresh_token') {
        const json = (await response
          .clone()
          .json()
          .catch(() => ({}))) as { refresh_token?: string; error?: string };
        this.redemptions.push({
          sent: form.get('refresh_token') ?? '',
          status: response.status,
          ...(json.refresh_token ? { received: json.refresh_token } : {}),
          ...(json.error ? { error: json.error } : {}),
        });
      }
      if (hold) await hold();
      return response;
    };
  }

  get invalidGrants(): number {
    return this.redemptions.filter((r) => r.error === 'invalid_grant').length;
  }

  /** Successful redemptions of a refresh token already redeemed successfully before. */
  get duplicateRedeems(): number {
    const seen = new Set<string>();
    let duplicates = 0;
    for (const r of this.redemptions.filter((x) => x.status === 200)) {
      if (seen.has(r.sent)) duplicates++;
      seen.add(r.sent);
    }
    return duplicates;
  }

  /** Each successful redemption used the token the previous successful one returned, starting from `first`. */
  brokenLinks(first: string): number {
    let expected = first;
    let broken = 0;
    for (const r of this.redemptions.filter((x) => x.status === 200)) {
      if (r.sent !== expected) broken++;
      expected = r.received ?? expected;
    }
    return broken;
  }

  /** What breaks a chain, counted: every one is 0 for a chain that held (`CHAIN_HELD`). */
  breaks(first: string): { invalidGrants: number; duplicateRedeems: number; brokenLinks: number } {
    return { invalidGrants: this.invalidGrants, duplicateRedeems: this.duplicateRedeems, brokenLinks: this.brokenLinks(first) };
  }

  get lastReceived(): string | undefined {
    return this.redemptions.filter((x) => x.status === 200).at(-1)?.received;
  }
}

const CHAIN_HELD = { invalidGrants: 0, duplicateRedeems: 0, brokenLinks: 0 };

/** Holds the next answer handed to one replica until released (that replica paused mid-redemption). */
class Gate {
  private armed: Promise<void> | undefined;
  private open: () => void = () => undefined;

  arm(): void {
    this.armed = new Promise<void>((resolve) => (this.open = resolve));
  }

  readonly pass = (): Promise<void> => {
    const held = this.armed ?? Promise.resolve();
    this.armed = undefined;
    return held;
  };

  release(): void {
    this.open();
  }
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describeWithRedis('one Xero token chain shared by replicas through Redis', () => {
  let redis: RedisServer;
  let sandbox: Sandbox;
  let xero: { url: string; close(): Promise<void> };
  let sandboxClock: SteppedClock;
  let prefixCount = 0;
  const open: RedisConnection[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    sandboxClock = new SteppedClock();
    sandbox = createSandbox({ clock: sandboxClock, refreshGraceSeconds: GRACE_SECONDS, data: { seed: 5, organisations: 2, usersPerOrganisation: 2 }, autoApprove: true });
    xero = await sandbox.listen(0, '127.0.0.1');
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await xero.close();
    await redis.destroy();
  });

  const web = DEFAULT_CLIENTS.web;
  const custom = DEFAULT_CLIENTS.custom;

  function consent(): string {
    return sandbox.data.issueRefreshToken(web.clientId, sandbox.data.organisations().map((o) => o.organisationId));
  }

  function identity(kind: 'web' | 'custom', fetchImpl: typeof fetch): IdentityClient {
    const client = kind === 'web' ? web : custom;
    return new IdentityClient(
      { identityUrl: xero.url, apiUrl: xero.url, loginUrl: xero.url, clientId: client.clientId, clientSecret: client.clientSecret, timeoutMs: 5_000 },
      { fetch: fetchImpl },
    );
  }

  function connect(server: RedisServer, prefix: string): RedisConnection {
    const connection = new RedisConnection({ url: server.url, keyPrefix: prefix }, silentLogger);
    open.push(connection);
    return connection;
  }

  interface Replica {
    readonly provider: TokenProvider;
    readonly store: RedisTokenStore;
    readonly connection: RedisConnection;
    readonly warnings: string[];
    token?: string;
  }

  function replica(
    server: RedisServer,
    prefix: string,
    fetchImpl: typeof fetch,
    options: { initial?: string; store?: Partial<RedisTokenStoreOptions>; kind?: 'web' | 'custom'; name?: string } = {},
  ): Replica {
    const connection = connect(server, prefix);
    const store = new RedisTokenStore(connection, { replicaId: options.name ?? `replica-${Math.random().toString(36).slice(2, 8)}`, ...options.store });
    const warnings: string[] = [];
    const kind = options.kind ?? 'web';
    const provider = new TokenProvider(
      {
        clientId: kind === 'web' ? web.clientId : custom.clientId,
        grant: kind === 'web' ? { kind: 'refresh_token', ...(options.initial ? { initialRefreshToken: options.initial } : {}) } : { kind: 'client_credentials', scope: 'accounting.settings.read' },
        maxAttempts: 1,
      },
      { identity: identity(kind, fetchImpl), store, onWarning: (w) => warnings.push(w) },
    );
    return { provider, store, connection, warnings };
  }

  function freshPrefix(): string {
    return `chain${++prefixCount}:`;
  }

  /** Every replica drops the access token Xero "refused", then all renew at once. */
  async function raceRound(replicas: Replica[]): Promise<string[]> {
    return Promise.all(
      replicas.map(async (r) => {
        if (r.token) r.provider.invalidate(r.token);
        r.token = await r.provider.getAccessToken();
        return r.token;
      }),
    );
  }

  /** Three web replicas on `server` sharing one new chain from a fresh consent, connected. */
  async function threeReplicas(server: RedisServer): Promise<{ wire: Wire; first: string; prefix: string; replicas: Replica[] }> {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    const replicas = [0, 1, 2].map((i) => replica(server, prefix, wire.fetch(), { initial: first, name: `r${i}` }));
    await ready(...replicas);
    return { wire, first, prefix, replicas };
  }

  /** A new chain whose redemptions are fenced by the leader lease, held in Redis by `holder` (`<replica>#<fence>`). */
  async function leasedChain(holder: string): Promise<{ wire: Wire; first: string; prefix: string; leaseKey: string; raw: RedisConnection }> {
    const prefix = freshPrefix();
    const raw = connect(redis, prefix);
    await raw.ready();
    const leaseKey = raw.key(KEYS.leader);
    await raw.client.set(leaseKey, holder);
    return { wire: new Wire(), first: consent(), prefix, leaseKey, raw };
  }

  async function raceRounds(replicas: Replica[], rounds: number): Promise<void> {
    for (let round = 0; round < rounds; round++) await raceRound(replicas);
  }

  async function ready(...replicas: Replica[]): Promise<void> {
    for (const r of replicas) {
      const deadline = Date.now() + 20_000;
      while (!r.connection.isUp()) {
        if (Date.now() > deadline) throw new Error('Redis connection did not come back');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  }

  async function storedChain(server: RedisServer, prefix: string): Promise<StoredTokens | undefined> {
    const connection = connect(server, prefix);
    await connection.ready();
    return new RedisTokenStore(connection, { replicaId: 'reader' }).load();
  }

  it(`three replicas racing to renew for ${ROUNDS} rounds: one redemption per rotation, no invalid_grant, an unbroken chain`, async () => {
    const { wire, first, prefix, replicas } = await threeReplicas(redis);
    for (let round = 1; round <= ROUNDS; round++) {
      const tokens = await raceRound(replicas);
      expect({ round, distinct: new Set(tokens).size }).toEqual({ round, distinct: 1 }); // access tokens are shared
    }
    const tokenCalls = replicas.reduce((n, r) => n + r.provider.status().tokenCalls, 0);
    const figures = { rotations: wire.redemptions.length, tokenCalls, ...wire.breaks(first) };
    console.info(`token chain race: ${JSON.stringify(figures)}`);
    expect(figures).toEqual({ rotations: ROUNDS, tokenCalls: ROUNDS, ...CHAIN_HELD });
    const stored = await storedChain(redis, prefix);
    expect(stored?.refreshToken).toBe(wire.lastReceived);
    expect(stored?.lineage[0]).toBe(fingerprint(first)); // the consent's token is kept: XERO_REFRESH_TOKEN stays recognised
    expect(sandbox.data.counters().token.errors).toBe(0);
  });

  it("a renewal that outlived its lock cannot store its token: the next holder's chain stands and continues past the grace period", async () => {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let holdNext = false;
    // A's answer reaches A only after B has renewed (A paused mid-redemption, its lock expired meanwhile).
    const slow = replica(redis, prefix, wire.fetch(() => (holdNext ? ((holdNext = false), held) : Promise.resolve())), { initial: first, name: 'slow', store: { lockMs: 300 } });
    const fast = replica(redis, prefix, wire.fetch(), { initial: first, name: 'fast' });
    await ready(slow, fast);
    await raceRound([slow, fast]); // both know the chain
    holdNext = true;
    slow.provider.invalidate(slow.token!);
    fast.provider.invalidate(fast.token!);
    const slowRenewal = slow.provider.getAccessToken();
    while (wire.redemptions.length < 2) await new Promise((resolve) => setTimeout(resolve, 5)); // A redeemed
    await new Promise((resolve) => setTimeout(resolve, 400)); // A's lock expires
    const fastToken = await fast.provider.getAccessToken(); // B redeems the same token (within grace) and stores
    release();
    slow.token = await slowRenewal;
    expect(slow.token).toBe(fastToken); // A adopts B's chain: its own answer is never used
    fast.token = fastToken;
    expect((await storedChain(redis, prefix))?.refreshToken).toBe(wire.lastReceived);

    sandboxClock.step((GRACE_SECONDS + 5) * 1000); // A's orphaned token (and the one both redeemed) are now dead
    for (let round = 0; round < 3; round++) await raceRound([slow, fast]);
    expect({ invalidGrants: wire.invalidGrants, renewals: wire.redemptions.length }).toEqual({ invalidGrants: 0, renewals: 6 });
  });

  it('a renewal that outlived its lock cannot store even before the next holder has: the fence decides, and the chain continues past the grace period', async () => {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    const [slowGate, fastGate] = [new Gate(), new Gate()];
    const slow = replica(redis, prefix, wire.fetch(slowGate.pass), { initial: first, name: 'slow', store: { lockMs: 300 } });
    const fast = replica(redis, prefix, wire.fetch(fastGate.pass), { initial: first, name: 'fast' });
    await ready(slow, fast);
    await raceRound([slow, fast]);
    slowGate.arm();
    fastGate.arm();
    slow.provider.invalidate(slow.token!);
    fast.provider.invalidate(fast.token!);
    const slowRenewal = slow.provider.getAccessToken().catch((err: unknown) => err);
    await until(() => wire.redemptions.length === 2); // A redeemed; its answer is held
    await new Promise((resolve) => setTimeout(resolve, 400)); // A's lock expires
    const fastRenewal = fast.provider.getAccessToken();
    await until(() => wire.redemptions.length === 3); // B redeemed the same token (within grace); its answer is held
    slowGate.release();
    expect(await slowRenewal).toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE' }); // the lock is no longer A's
    fastGate.release();
    fast.token = await fastRenewal;
    expect((await storedChain(redis, prefix))?.refreshToken).toBe(wire.redemptions[2]!.received);
    slow.token = await slow.provider.getAccessToken(); // B's token, with no redemption
    expect(slow.token).toBe(fast.token);
    expect(wire.redemptions).toHaveLength(3);

    sandboxClock.step((GRACE_SECONDS + 5) * 1000); // A's orphaned token is dead now (B's redemption replaced it)
    for (let round = 0; round < 3; round++) await raceRound([slow, fast]);
    expect({ invalidGrants: wire.invalidGrants, renewals: wire.redemptions.length }).toEqual({ invalidGrants: 0, renewals: 6 });
  });

  it('a consent `xero-scim auth` stores during a renewal is not overwritten by that renewal', async () => {
    const wire = new Wire();
    const prefix = freshPrefix();
    const gate = new Gate();
    const r = replica(redis, prefix, wire.fetch(gate.pass), { initial: consent() });
    await ready(r);
    await raceRound([r]);
    gate.arm();
    r.provider.invalidate(r.token!);
    const renewal = r.provider.getAccessToken().catch((err: unknown) => err);
    await until(() => wire.redemptions.length === 2);
    const fresh = consent();
    await r.store.save({ clientId: web.clientId, refreshToken: fresh, receivedAt: new Date().toISOString(), lineage: [fingerprint(fresh)] });
    gate.release();
    expect(await renewal).toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE' });
    expect((await storedChain(redis, prefix))?.refreshToken).toBe(fresh);
    await r.provider.getAccessToken();
    expect(wire.redemptions.at(-1)).toMatchObject({ sent: fresh, status: 200 }); // the new consent's chain goes on
  });

  it('Redis SIGKILLed and restarted with its append-only file: the chain continues', async () => {
    const { wire, first, replicas } = await threeReplicas(redis);
    await raceRounds(replicas, 5);
    await redis.kill();
    await redis.restart();
    await ready(...replicas);
    sandboxClock.step((GRACE_SECONDS + 5) * 1000); // any replayed token would now be refused
    await raceRounds(replicas, 5);
    expect({ ...wire.breaks(first), rotations: wire.redemptions.length }).toEqual({ ...CHAIN_HELD, rotations: 10 });
    expect(replicas.flatMap((r) => r.warnings)).toEqual([]); // nothing was lost, so nothing reseeded
  });

  it('Redis restarted without its data: a replica reseeds the chain from its own newest copy, with no invalid_grant', async () => {
    const volatile = await RedisServer.start({ appendOnly: false });
    try {
      const { wire, first, prefix, replicas } = await threeReplicas(volatile);
      await raceRounds(replicas, 5);
      await volatile.kill();
      await volatile.restart();
      await ready(...replicas);
      expect(await storedChain(volatile, prefix)).toBeUndefined(); // the data is gone
      sandboxClock.step((GRACE_SECONDS + 5) * 1000); // XERO_REFRESH_TOKEN and every old token are dead now
      await raceRounds(replicas, 5);
      expect(wire.breaks(first)).toEqual(CHAIN_HELD);
      expect(replicas.flatMap((r) => r.warnings).filter((w) => w.includes('Redis held no Xero token chain'))).toHaveLength(1);
      expect((await storedChain(volatile, prefix))?.lineage[0]).toBe(fingerprint(first));
    } finally {
      await volatile.destroy();
    }
  });

  it('Redis holding an older chain (its last write lost): a replica stores its newer copy again; one without a copy redeems the previous token within grace', async () => {
    const { wire, first, prefix, replicas } = await threeReplicas(redis);
    const raw = connect(redis, prefix);
    await raw.ready();
    await raceRounds(replicas, 3);
    const older = await raw.client.get(raw.key(KEYS.tokens));
    await raceRound(replicas);
    await raw.client.set(raw.key(KEYS.tokens), older!); // Redis lost the last rotation
    sandboxClock.step((GRACE_SECONDS + 5) * 1000); // the older chain's token is past its grace period
    await raceRounds(replicas, 3);
    expect(wire.breaks(first)).toEqual(CHAIN_HELD);
    expect(replicas.flatMap((r) => r.warnings).filter((w) => w.includes('older Xero token chain'))).toHaveLength(1);

    // No replica remembers the newer chain (all restarted): the previous token is still inside Xero's grace period.
    const before = await raw.client.get(raw.key(KEYS.tokens));
    await raceRound(replicas);
    await raw.client.set(raw.key(KEYS.tokens), before!);
    const restarted = replica(redis, prefix, wire.fetch(), { initial: first, name: 'restarted' });
    await ready(restarted);
    restarted.provider.invalidate(JSON.parse(before!).accessToken as string);
    await expect(restarted.provider.getAccessToken()).resolves.toEqual(expect.any(String));
    expect(wire.redemptions.at(-1)).toMatchObject({ sent: JSON.parse(before!).refreshToken, status: 200 });
    expect(wire.invalidGrants).toBe(0);
  });

  it('Redis down: the renewal fails with a retryable error naming Redis and makes no token call; once Redis is back it renews', async () => {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    const r = replica(redis, prefix, wire.fetch(), { initial: first });
    await ready(r);
    await raceRound([r]);
    await redis.kill();
    const deadline = Date.now() + 10_000;
    while (r.connection.isUp() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const calls = wire.redemptions.length;
    r.provider.invalidate(r.token!);
    const failure = await r.provider.getAccessToken().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(XeroError);
    expect(failure).toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE', retryable: true, message: expect.stringContaining('Redis') });
    expect((failure as Error).message).not.toContain(r.token!);
    expect(wire.redemptions.length).toBe(calls); // nothing redeemed that could not be stored
    expect(r.provider.status().ready).toBe(true); // not terminal

    await redis.restart();
    await ready(r);
    await expect(r.provider.getAccessToken()).resolves.not.toBe(r.token);
    expect({ invalidGrants: wire.invalidGrants, brokenLinks: wire.brokenLinks(first) }).toEqual({ invalidGrants: 0, brokenLinks: 0 });
  });

  it('a rotated token Redis could not store is never used, and is stored first once Redis is back', async () => {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    let onAnswer: (() => Promise<void>) | undefined;
    const r = replica(redis, prefix, wire.fetch(() => (onAnswer ? onAnswer() : Promise.resolve())), { initial: first });
    await ready(r);
    await raceRound([r]);
    // Redis dies between the redemption and the compare-and-set.
    onAnswer = async () => {
      onAnswer = undefined;
      await redis.kill();
      while (r.connection.isUp()) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    r.provider.invalidate(r.token!);
    await expect(r.provider.getAccessToken()).rejects.toMatchObject({ code: 'XERO_STATE_NOT_WRITABLE', message: expect.stringContaining('Redis') });
    const unsavedToken = wire.lastReceived!;
    await redis.restart();
    await ready(r);
    sandboxClock.step((GRACE_SECONDS + 5) * 1000); // the token Redis still holds is dead: only the unsaved one works
    const other = replica(redis, prefix, wire.fetch(), { initial: first });
    await ready(other);
    const access = await r.provider.getAccessToken(); // stores the unsaved set first, then uses it
    expect((await storedChain(redis, prefix))?.refreshToken).toBe(unsavedToken);
    other.provider.invalidate(access);
    await expect(other.provider.getAccessToken()).resolves.toEqual(expect.any(String)); // the chain continues from it
    expect({ invalidGrants: wire.invalidGrants, brokenLinks: wire.brokenLinks(first) }).toEqual({ invalidGrants: 0, brokenLinks: 0 });
  });

  it('a replica without the leader lease never redeems; the leader does', async () => {
    const { wire, first, prefix, leaseKey } = await leasedChain('leader#7');
    const stale = replica(redis, prefix, wire.fetch(), { initial: first, store: { lease: () => ({ key: leaseKey, value: 'paused#6' }) } }); // lost its lease
    const none = replica(redis, prefix, wire.fetch(), { initial: first, store: { lease: () => undefined } });
    await ready(stale, none);
    for (const r of [stale, none]) await expect(r.provider.getAccessToken()).rejects.toMatchObject({ code: 'XERO_NOT_LEADER' });
    expect(wire.redemptions).toHaveLength(0);
    expect(sandbox.data.counters().token.refresh_token).toBe(sandboxRefreshCalls);

    const leader = replica(redis, prefix, wire.fetch(), { initial: first, store: { lease: () => ({ key: leaseKey, value: 'leader#7' }) } });
    await ready(leader);
    const token = await leader.provider.getAccessToken();
    expect(wire.redemptions).toHaveLength(1);
    await expect(stale.provider.getAccessToken()).resolves.toBe(token); // a follower may use the leader's access token
    expect(wire.redemptions).toHaveLength(1);
  });

  it('a leader that loses its lease mid-renewal (paused past it) stores nothing; the new leader continues the chain', async () => {
    const { wire, first, prefix, leaseKey, raw } = await leasedChain('old#1');
    const gate = new Gate();
    const old = replica(redis, prefix, wire.fetch(gate.pass), { initial: first, store: { lease: () => ({ key: leaseKey, value: 'old#1' }) } });
    const next = replica(redis, prefix, wire.fetch(), { initial: first, store: { lease: () => ({ key: leaseKey, value: 'next#2' }) } });
    await ready(old, next);
    await raceRound([old]);
    const before = await storedChain(redis, prefix);
    gate.arm();
    old.provider.invalidate(old.token!);
    const renewal = old.provider.getAccessToken().catch((err: unknown) => err);
    await until(() => wire.redemptions.length === 2); // redeemed while it still led
    await raw.client.set(leaseKey, 'next#2'); // the lease moved on while its answer was in flight
    gate.release();
    expect(await renewal).toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE' });
    expect((await storedChain(redis, prefix))?.refreshToken).toBe(before?.refreshToken);
    next.provider.invalidate(old.token!);
    await next.provider.getAccessToken(); // redeems the stored token within its grace period
    expect(wire.redemptions.at(-1)).toMatchObject({ sent: before?.refreshToken, status: 200 });
    expect(wire.invalidGrants).toBe(0);
  });

  it('a token lock left by a leader that lost its lease (killed mid-redemption) is taken over by the new leader at once; one taken under the current lease is waited for', async () => {
    const wire = new Wire();
    const first = consent();
    const prefix = freshPrefix();
    const raw = connect(redis, prefix);
    await raw.ready();
    const leaseKey = raw.key(KEYS.leader);
    const lockKey = raw.key(KEYS.tokensLock);
    await raw.client.set(leaseKey, 'next#2');
    // The dead leader's lock, taken under its own lease and left to a TTL far longer than this test waits.
    await raw.client.set(lockKey, 'dead#5|dead#1', 'PX', 60_000);
    const next = replica(redis, prefix, wire.fetch(), { initial: first, store: { lease: () => ({ key: leaseKey, value: 'next#2' }), waitMs: 1_000 } });
    await ready(next);
    const token = await next.provider.getAccessToken();
    expect(wire.redemptions).toMatchObject([{ sent: first, status: 200 }]);
    // A lock held under the lease that is current belongs to a redemption that may still store: it is waited for.
    await raw.client.set(lockKey, 'other#9|next#2', 'PX', 60_000);
    next.provider.invalidate(token);
    await expect(next.provider.getAccessToken()).rejects.toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE' });
    expect(wire.redemptions).toHaveLength(1);
  });

  it('a follower keeps its copy of the chain current, so leading after Redis lost its data it reseeds the newest chain, with no invalid_grant', async () => {
    const volatile = await RedisServer.start({ appendOnly: false });
    try {
      const wire = new Wire();
      const first = consent();
      const prefix = freshPrefix();
      const leader = replica(volatile, prefix, wire.fetch(), { initial: first, name: 'leader' });
      const follower = replica(volatile, prefix, wire.fetch(), { initial: first, name: 'follower' });
      await ready(leader, follower);
      let token = '';
      for (let round = 0; round < 3; round++) [token] = (await raceRound([leader])) as [string];
      await follower.provider.followShared(); // what a follower does on each publish it adopts
      follower.provider.invalidate(token); // its copy holds the leader's access token: make it redeem
      await volatile.kill();
      await volatile.restart();
      await ready(follower);
      sandboxClock.step((GRACE_SECONDS + 5) * 1000); // XERO_REFRESH_TOKEN and every replaced token are dead now
      await follower.provider.getAccessToken();
      expect(wire.redemptions.at(-1)).toMatchObject({ sent: wire.redemptions.at(-2)?.received, status: 200 });
      expect({ invalidGrants: wire.invalidGrants, duplicateRedeems: wire.duplicateRedeems, brokenLinks: wire.brokenLinks(first) }).toEqual({ invalidGrants: 0, duplicateRedeems: 0, brokenLinks: 0 });
    } finally {
      await volatile.destroy();
    }
  });

  let sandboxRefreshCalls = 0;
  beforeEach(() => {
    sandboxRefreshCalls = sandbox.data.counters().token.refresh_token;
  });

  it('client credentials: three replicas share one access token, fetched once', async () => {
    const wire = new Wire();
    const prefix = freshPrefix();
    const replicas = [0, 1, 2].map((i) => replica(redis, prefix, wire.fetch(), { kind: 'custom', name: `c${i}` }));
    await ready(...replicas);
    const tokens = await Promise.all(replicas.map((r) => r.provider.getAccessToken()));
    expect(new Set(tokens).size).toBe(1);
    expect(wire.clientCredentials).toBe(1);
    // Refused by Xero: one replica fetches a new one, the others take it.
    const renewed = await raceRound(replicas.map((r, i) => Object.assign(r, { token: tokens[i] })));
    expect(new Set(renewed).size).toBe(1);
    expect(renewed[0]).not.toBe(tokens[0]);
    expect(wire.clientCredentials).toBe(2);
  });

  describe('TokenStore contract: RedisTokenStore', () =>
    tokenStoreContract(async () => {
      const connection = connect(redis, freshPrefix());
      await connection.ready();
      return new RedisTokenStore(connection, { replicaId: 'contract' });
    }));

  it('a corrupt chain in Redis is refused with a message that shows no content; a replica with XERO_REFRESH_TOKEN stores a good chain over it', async () => {
    const wire = new Wire();
    const prefix = freshPrefix();
    const raw = connect(redis, prefix);
    await raw.ready();
    await raw.client.set(raw.key(KEYS.tokens), '{"refreshToken":"secret-value"');
    const store = new RedisTokenStore(raw, { replicaId: 'reader' });
    const refused = await store.load().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TokenStoreError);
    expect((refused as Error).message).toMatch(/re-run `xero-scim auth`/);
    expect((refused as Error).message).not.toMatch(/secret-value/);
    const first = consent();
    const r = replica(redis, prefix, wire.fetch(), { initial: first });
    await ready(r);
    await r.provider.getAccessToken();
    expect(wire.redemptions).toMatchObject([{ sent: first, status: 200 }]);
    expect((await store.load())?.refreshToken).toBe(wire.lastReceived);
  });

  it('Credentials read the chain from the Redis store, and a Redis outage is not final', async () => {
    const wire = new Wire();
    const prefix = freshPrefix();
    const connection = connect(redis, prefix);
    await connection.ready();
    const store = new RedisTokenStore(connection, { replicaId: 'only' });
    const first = consent();
    await store.save({ clientId: web.clientId, refreshToken: first, receivedAt: new Date().toISOString(), lineage: [fingerprint(first)] });
    const credentials = new Credentials(
      { clientId: web.clientId, clientSecret: web.clientSecret, refreshToken: undefined, accessToken: undefined, scopes: undefined },
      { identity: identity('web', wire.fetch()), store, clock: systemClock, random: Math.random, logger: silentLogger },
    );
    await redis.kill();
    while (connection.isUp()) await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(credentials.begin()).rejects.toMatchObject({ code: 'XERO_TOKEN_STORE_UNAVAILABLE' });
    expect(credentials.terminal()).toBeUndefined();
    await redis.restart();
    await connection.ready();
    await credentials.begin();
    expect(wire.redemptions).toMatchObject([{ sent: first, status: 200 }]); // the stored chain, not client credentials
  });

  it('xero-scim auth with REDIS_URL stores the consent in Redis and says so', async () => {
    const port = await freePort();
    const prefix = freshPrefix();
    const lines: string[] = [];
    const config = loadConfig({
      XERO_CLIENT_ID: web.clientId,
      XERO_CLIENT_SECRET: web.clientSecret,
      XERO_API_URL: xero.url,
      XERO_IDENTITY_URL: xero.url,
      XERO_LOGIN_URL: xero.url,
      XERO_REDIRECT_URI: `http://127.0.0.1:${port}/callback`,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: prefix,
      STATE_DIR: redis.dir,
    });
    const result = await runAuth(config, { out: (line) => lines.push(line), onConsentUrl: (url) => void fetch(url).catch(() => undefined), timeoutSeconds: 20 });
    const stored = await storedChain(redis, prefix);
    expect(stored).toMatchObject({ clientId: web.clientId, refreshToken: result.refreshToken, lineage: [fingerprint(result.refreshToken)] });
    expect(lines.join('\n')).toContain(`Refresh token stored in Redis at redis://127.0.0.1:${redis.port}/0`);
    expect(lines.join('\n')).not.toContain(result.refreshToken);
  });
});
