/**
 * Replicas on a real redis-server: one leader at a time, fenced publishes, announcements that reach followers even
 * when pub/sub misses one, and a store that loses its data or its process without anything throwing. Several
 * `RedisReplication`s share this process (small leases, so hand-overs take well under a second); the SIGSTOP test
 * runs one in a child process, from dist/.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import pino from 'pino';
import type { PublishedState, ReplicationEvents } from '../../src/directory/replication';
import { RedisConfirmationStore } from '../../src/redis/confirmations';
import { RedisConnection } from '../../src/redis/connection';
import { PERSISTED_SCHEMA_ID, type PersistedDirectory } from '../../src/directory/persistence';
import { KEYS } from '../../src/redis/keys';
import { leaseHolder, RedisReplication } from '../../src/redis/replication';
import { persistedDirectoryOf } from '../support/persisted-directory';
import { describeWithRedis, RedisServer } from '../support/redis-server';

const LEASE_MS = 600;
const silent = pino({ level: 'silent' });

async function until(condition: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A connection that hands the test the subscriber connections it creates, so one can be cut. */
class WatchedConnection extends RedisConnection {
  readonly subscriberConnections: Redis[] = [];
  override subscriber(): Redis {
    const subscriber = super.subscriber();
    this.subscriberConnections.push(subscriber);
    return subscriber;
  }
}

interface Replica {
  readonly id: string;
  readonly replication: RedisReplication;
  readonly connection: WatchedConnection;
  readonly leadership: boolean[];
  readonly published: number[];
  syncRequests: number;
}

function state(users: number, seed: number): PersistedDirectory {
  return persistedDirectoryOf(users, seed);
}

function publishInput(s: PersistedDirectory, version: string): Omit<PublishedState, 'sequence' | 'publishedBy' | 'fence'> {
  return { version, builtAt: s.savedAt, state: s };
}

describeWithRedis('replicas sharing a real redis-server', () => {
  let server: RedisServer;
  let prefixCount = 0;
  let prefix: string;
  const replicas: Replica[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

  beforeAll(async () => {
    server = await RedisServer.start();
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled);
    await server.destroy();
  });
  beforeEach(() => {
    prefix = `t${++prefixCount}:`;
  });
  afterEach(async () => {
    for (const replica of replicas.splice(0)) {
      await replica.replication.stop();
      await replica.connection.close();
    }
    expect(unhandled).toEqual([]);
  });

  function startReplica(id: string, leaseMs = LEASE_MS, logger = silent): Replica {
    const connection = new WatchedConnection({ url: server.url, keyPrefix: prefix }, silent);
    const replication = new RedisReplication(connection, { replicaId: id, leaseMs, logger });
    const replica: Replica = { id, replication, connection, leadership: [], published: [], syncRequests: 0 };
    const events: ReplicationEvents = {
      onLeadership: (leading) => replica.leadership.push(leading),
      onPublished: (sequence) => replica.published.push(sequence),
      onSyncRequested: () => (replica.syncRequests += 1),
    };
    replication.start(events);
    replicas.push(replica);
    return replica;
  }

  const leaders = (): Replica[] => replicas.filter((r) => r.replication.leading());
  const fenceOf = (r: Replica): number => Number(r.replication.lease()!.value.split('#')[1]);

  async function oneLeader(): Promise<Replica> {
    await until(() => leaders().length === 1, 5_000, 'one leader');
    return leaders()[0]!;
  }

  /** Samples leadership every 5 ms for `ms`: never two at once. */
  async function neverTwoLeaders(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      expect(leaders().length).toBeLessThanOrEqual(1);
      await sleep(5);
    }
  }

  it('elects exactly one of three; a stopped leader hands over at once, a silent one within a lease; fences grow', async () => {
    const [a] = ['a', 'b', 'c'].map((id) => startReplica(id));
    const readKey = (key: string) => a!.connection.client.get(key);
    const first = await oneLeader();
    await neverTwoLeaders(3 * LEASE_MS);
    expect(leaders()).toEqual([first]);
    const firstFence = fenceOf(first);
    expect(first.leadership).toEqual([true]);

    // Everyone sees the same leader and the three replicas on the heartbeat round.
    await until(() => replicas.every((r) => r.replication.status().leader === first.id && r.replication.status().replicas.length === 3), 5_000, 'status');
    expect(first.replication.status().role).toBe('leader');

    // A rolling update: stop() releases the lease, so another takes it on its next attempt, not after the TTL.
    let since = Date.now();
    const firstLease = first.replication.lease()!;
    await first.replication.stop();
    expect(first.leadership).toEqual([true, false]);
    expect(await readKey(firstLease.key)).not.toBe(firstLease.value); // released, not left to expire
    const second = await oneLeader();
    expect(Date.now() - since).toBeLessThan(LEASE_MS);
    expect(fenceOf(second)).toBeGreaterThan(firstFence);
    await until(() => !second.replication.status().replicas.some((r) => r.replicaId === first.id), 5_000, 'the stopped replica leaves the list');

    // A leader that goes silent (its connection cut, no release): it stops leading, another takes over once the TTL runs out.
    const secondFence = fenceOf(second);
    since = Date.now();
    second.connection.client.disconnect();
    await until(() => !second.replication.leading() && second.leadership.length === 2, LEASE_MS, 'the silent leader to step down');
    expect(second.leadership).toEqual([true, false]);
    const third = await oneLeader();
    expect(third).not.toBe(second);
    expect(Date.now() - since).toBeLessThan(LEASE_MS + LEASE_MS / 2);
    expect(fenceOf(third)).toBeGreaterThan(secondFence);
  });

  it('lists the replicas that heartbeat, with the version each serves, and the leader drops ones long silent', async () => {
    const a = startReplica('a');
    const b = startReplica('b');
    const leader = await oneLeader();
    const follower = leader === a ? b : a;
    const replicasKey = `${prefix}${KEYS.replicas}`;
    await a.connection.ready();
    await a.connection.client.hset(replicasKey, 'gone', JSON.stringify({ role: 'follower', seenAt: new Date(Date.now() - 4 * LEASE_MS).toISOString() }));
    follower.replication.serving('v9', 9);
    await until(async () => (await a.connection.client.hexists(replicasKey, 'gone')) === 0, 3_000, 'the silent entry to go');
    await until(() => leader.replication.status().replicas.some((r) => r.replicaId === follower.id && r.version === 'v9'), 3_000, 'the served version');
    expect(leader.replication.status()).toMatchObject({ replicaId: leader.id, role: 'leader', leader: leader.id, store: { state: 'up' } });
    expect(follower.replication.status()).toMatchObject({ role: 'follower', leader: leader.id, sequence: 9 });
    const roles = JSON.stringify([
      ['a', a === leader ? 'leader' : 'follower'],
      ['b', b === leader ? 'leader' : 'follower'],
    ]);
    // Roles as of each replica's last heartbeat: the leader's first may have gone out before it took the lease.
    await until(() => JSON.stringify(follower.replication.status().replicas.map((r) => [r.replicaId, r.role])) === roles, 3_000, 'the roles');
  });

  it('refuses, in Redis, a publish by a replica whose lease another took, and changes nothing', async () => {
    // A long lease: the old leader neither renews nor lets its clock expire during the test, so only Redis can refuse.
    const old = startReplica('old', 60_000);
    await until(() => old.replication.leading(), 5_000, 'old to lead');
    const before = state(200, 1);
    const kept = await old.replication.publish(publishInput(before, 'v1'));
    expect(kept).toMatchObject({ sequence: 1, publishedBy: 'old' });

    // Its lease ends in Redis (as after a pause longer than the TTL) and a new replica takes it.
    await old.connection.client.del(`${prefix}${KEYS.leader}`);
    const successor = startReplica('new');
    await until(() => successor.replication.leading(), 5_000, 'the successor to lead');
    expect(old.replication.leading()).toBe(true); // it has not noticed yet

    expect(await old.replication.publish(publishInput(state(200, 2), 'v2'))).toBe(false);
    expect(old.replication.leading()).toBe(false);
    expect(old.leadership).toEqual([true, false]);
    const reader = startReplica('reader');
    await reader.connection.ready();
    expect(await old.connection.client.get(`${prefix}${KEYS.directorySequence}`)).toBe('1');
    const stored = await reader.replication.fetchPublished();
    expect(stored).toEqual({ sequence: 1, version: 'v1', builtAt: before.savedAt, publishedBy: 'old', fence: (kept as PublishedState).fence, state: before });
  });

  it('announces a publish to followers, by pub/sub or, when that misses it, by polling; they fetch exactly what was published', async () => {
    const replicaList = ['a', 'b', 'c'].map((id) => startReplica(id));
    const leader = await oneLeader();
    const followers = replicaList.filter((r) => r !== leader);
    await until(() => followers.every((f) => f.connection.subscriberConnections[0]?.status === 'ready'), 5_000, 'subscribers');
    await sleep(50); // SUBSCRIBE is sent on ready

    const first = state(1_000, 3);
    const published = await leader.replication.publish(publishInput(first, 'v1'));
    if (!published) throw new Error('the leader could not publish');
    await until(() => followers.every((f) => f.published.includes(published.sequence)), 1_000, 'the announcement');
    for (const follower of followers) {
      expect(await follower.replication.fetchPublished()).toEqual(published);
      expect(await follower.replication.fetchPublished(published.sequence)).toBeUndefined();
    }
    expect(leader.published).toEqual([]); // the leader is not told of its own publish

    // One follower's subscriber is cut for good: the next publish reaches it by polling the sequence.
    const deaf = followers[0]!;
    deaf.connection.subscriberConnections[0]!.disconnect();
    const second = await leader.replication.publish(publishInput(state(1_000, 4), 'v2'));
    if (!second) throw new Error('the leader could not publish');
    expect(second.sequence).toBeGreaterThan(published.sequence);
    await until(() => deaf.published.includes(second.sequence), 4_000, 'the polled announcement');
    expect(deaf.published).toEqual([published.sequence, second.sequence]); // once each
    expect(await deaf.replication.fetchPublished(published.sequence)).toEqual(second);
    deaf.replication.serving('v2', second.sequence);

    // Live mode: a follower asks for a sync; only the leader hears it.
    await followers[1]!.replication.requestSync();
    await until(() => leader.syncRequests === 1, 2_000, 'the sync request');
    expect(followers.map((f) => f.syncRequests)).toEqual([0, 0]);
  });

  it('after FLUSHALL answers no state rather than an empty one, takes the lease back with a larger fence, and keeps sequences growing', async () => {
    const a = startReplica('a');
    const b = startReplica('b');
    const leader = await oneLeader();
    const follower = leader === a ? b : a;
    const before = await leader.replication.publish(publishInput(state(300, 5), 'v1'));
    if (!before) throw new Error('the leader could not publish');
    await until(() => follower.published.includes(before.sequence), 4_000, 'the announcement');
    const loaded = await follower.replication.fetchPublished();
    follower.replication.serving(loaded!.version, loaded!.sequence);
    const fenceBefore = fenceOf(leader);

    await server.command('FLUSHALL');
    expect(await follower.replication.fetchPublished()).toBeUndefined();
    expect(await follower.replication.fetchPublished(0)).toBeUndefined();

    await until(async () => leaders().length === 1 && fenceOf(leaders()[0]!) > fenceBefore, 5_000, 'a new lease');
    const now = leaders()[0]!;
    const after = await now.replication.publish(publishInput(state(300, 6), 'v2'));
    if (!after) throw new Error('the new leader could not publish');
    expect(after.sequence).toBeGreaterThan(before.sequence); // followers that loaded the old one still take it
    const other = now === a ? b : a;
    await until(() => other.published.includes(after.sequence), 4_000, 'the announcement after the flush');
    expect(await other.replication.fetchPublished(before.sequence)).toEqual(after);
  });

  it('ignores a published body that is corrupt or of another format, with an error in the log', async () => {
    const leader = startReplica('a');
    await oneLeader();
    const lines: string[] = [];
    const reader = startReplica('b', LEASE_MS, pino({ level: 'info' }, { write: (line: string) => void lines.push(line) }));
    await reader.connection.ready();
    const key = `${prefix}${KEYS.directory}`;
    await leader.connection.client.hset(key, { sequence: 7, version: 'v', builtAt: 'x', publishedBy: 'z', fence: 1, encoding: 'gzip', body: 'not gzip' });
    expect(await reader.replication.fetchPublished()).toBeUndefined();
    expect(lines.join('')).toContain('ignoring a published directory state that cannot be read');
    const { gzipSync } = await import('node:zlib');
    await leader.connection.client.hset(key, { encoding: 'gzip', body: gzipSync(JSON.stringify({ format: 2, tenants: [] })) });
    expect(await reader.replication.fetchPublished()).toBeUndefined();
    expect(lines.join('')).toContain('not a directory state of this version (format');
    await leader.connection.client.hset(key, { body: gzipSync(JSON.stringify({ format: 1, savedAt: 'x', tenants: [], health: [], organisationsFetchedAt: {} })) });
    expect(await reader.replication.fetchPublished()).toMatchObject({ sequence: 7, state: { tenants: [] } }); // a valid body reads

    // From a replica with another schema (a rolling update), every field is checked; from one with this schema, the outline.
    const badUser = { format: 1, savedAt: 'x', tenants: [{ organisation: { id: 'o' }, users: [{ role: 'OWNER' }], syncedAt: 'x' }], health: [], organisationsFetchedAt: {} };
    await leader.connection.client.hset(key, { sequence: 8, schema: 'another-schema', body: gzipSync(JSON.stringify(badUser)) });
    expect(await reader.replication.fetchPublished()).toBeUndefined();
    await leader.connection.client.hset(key, { sequence: 9, schema: PERSISTED_SCHEMA_ID, body: gzipSync(JSON.stringify({ format: 1, tenants: {} })) });
    expect(await reader.replication.fetchPublished()).toBeUndefined();
    const published = await leader.replication.publish({ version: 'v2', builtAt: '2026-01-01T00:00:00.000Z', state: { format: 1, savedAt: 'y', tenants: [], health: [], organisationsFetchedAt: {} } });
    expect(published).not.toBe(false);
    expect(await leader.connection.client.hget(key, 'schema')).toBe(PERSISTED_SCHEMA_ID);
    expect(await reader.replication.fetchPublished()).toMatchObject({ version: 'v2', state: { savedAt: 'y' } });
  });

  it('when Redis is SIGKILLed and restarted, the leader steps down and one leads again, with nothing thrown', async () => {
    const a = startReplica('a');
    const b = startReplica('b');
    const first = await oneLeader();
    const fence = fenceOf(first);
    await server.kill();
    await until(() => leaders().length === 0 && first.leadership.length === 2, LEASE_MS, 'the leader to step down');
    expect(first.leadership).toEqual([true, false]);
    await until(() => [a, b].every((r) => r.replication.status().store.state === 'down'), 5_000, 'store down');
    await expect(first.replication.publish(publishInput(state(10, 1), 'v'))).resolves.toBe(false);
    await sleep(LEASE_MS); // rounds keep failing meanwhile, and must not throw
    await server.restart();
    const again = await oneLeader();
    expect(fenceOf(again)).toBeGreaterThan(fence); // appendfsync always kept the counter
    const subscribed = async () => ((await again.connection.client.pubsub('NUMSUB', `${prefix}${KEYS.directoryChannel}`)) as [string, number])[1];
    await until(async () => (await subscribed()) === 2, 5_000, 'both to subscribe again');
    expect(again.replication.status().store.state).toBe('up');
    await expect(again.replication.publish(publishInput(state(10, 1), 'v'))).resolves.toMatchObject({ publishedBy: again.id });
  });

  it('a leader whose renewals hang (Redis paused) steps down by its own clock before its lease can expire', async () => {
    startReplica('a');
    startReplica('b');
    const first = await oneLeader();
    server.pause();
    try {
      const since = Date.now();
      await until(() => !first.replication.leading(), LEASE_MS, 'the leader to step down');
      expect(Date.now() - since).toBeLessThan(LEASE_MS); // the TTL in Redis cannot have run out before it stopped
      await until(() => first.leadership.length === 2, 100, 'onLeadership(false)');
      expect(first.leadership).toEqual([true, false]);
      expect(first.replication.lease()).toBeUndefined();
    } finally {
      server.resume();
    }
    await oneLeader();
  });

  it('a SIGSTOPped leader in another process is replaced, and once resumed it does not lead and cannot publish', async () => {
    const childScript = path.join(__dirname, 'replica-child.js');
    if (!existsSync(path.join(__dirname, '..', '..', 'dist', 'redis', 'replication.js'))) throw new Error('dist/ is missing: `npm test` builds it (npm run build)');
    const child: ChildProcess = fork(childScript, [server.url, prefix, 'child', String(LEASE_MS)], { stdio: 'ignore' });
    const messages: { type: string; [k: string]: unknown }[] = [];
    child.on('message', (m) => messages.push(m as (typeof messages)[number]));
    const ask = async (message: object, type: string) => {
      const from = messages.length;
      child.send(message);
      await until(() => messages.slice(from).some((m) => m.type === type), 5_000, type);
      return messages.slice(from).find((m) => m.type === type)!;
    };
    try {
      await until(() => messages.some((m) => m.type === 'leadership' && m.leading === true), 5_000, 'the child to lead');
      const local = startReplica('local');
      await sleep(LEASE_MS);
      expect(local.replication.leading()).toBe(false);

      child.kill('SIGSTOP');
      const since = Date.now();
      await until(() => local.replication.leading(), 3 * LEASE_MS, 'the local replica to take over');
      expect(Date.now() - since).toBeLessThan(LEASE_MS + LEASE_MS / 2);
      const successor = await local.replication.publish(publishInput(state(50, 1), 'from-local'));
      if (!successor) throw new Error('the successor could not publish');
      await sleep(LEASE_MS); // the child stays paused well past its lease

      child.kill('SIGCONT');
      expect(await ask({ type: 'publish', input: publishInput(state(50, 2), 'from-child') }, 'published')).toMatchObject({ result: false });
      expect(await ask({ type: 'status' }, 'status')).toMatchObject({ leading: false, role: 'follower' });
      expect(messages.filter((m) => m.type === 'leadership').map((m) => m.leading)).toEqual([true, false]);
      expect(await local.replication.fetchPublished()).toMatchObject({ sequence: successor.sequence, version: 'from-local', publishedBy: 'local' });
      expect(leaseHolder((await local.connection.client.get(`${prefix}${KEYS.leader}`))!)).toBe('local');
    } finally {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
  });

  it('keeps operator confirmations until exactly the consumed ones are deleted', async () => {
    const connection = new RedisConnection({ url: server.url, keyPrefix: prefix }, silent);
    try {
      await connection.ready();
      const store = new RedisConfirmationStore(connection);
      expect(await store.pending()).toEqual([]);
      await store.add({ tenantIds: ['ABC-1'], at: '2026-01-01T00:00:00.000Z' });
      await store.add({ tenantIds: ['def-2', 'ghi-3'], at: '2026-01-02T00:00:00.000Z' });
      await connection.client.hset(`${prefix}${KEYS.confirmations}`, 'garbage', '{"format":1}');
      const unreadable: string[] = [];
      const pending = await store.pending((key) => unreadable.push(key));
      expect(pending.map((p) => p.confirmation)).toEqual([
        { tenantIds: ['abc-1'], at: '2026-01-01T00:00:00.000Z' },
        { tenantIds: ['def-2', 'ghi-3'], at: '2026-01-02T00:00:00.000Z' },
      ]);
      expect(unreadable).toEqual(['garbage']);

      await store.add({ tenantIds: ['jkl-4'], at: '2026-01-03T00:00:00.000Z' }); // arrives while a sync runs
      await store.consume(pending.map((p) => p.key));
      expect((await store.pending()).map((p) => p.confirmation.tenantIds)).toEqual([['jkl-4']]);
    } finally {
      await connection.close();
    }
  });
});
