/**
 * `Replication` on a shared Redis: the lease that elects the one replica syncing from Xero, the fenced publish of each
 * sync's result, its announcement to the followers, and the heartbeats the status page lists.
 *
 * - The lease is the key `KEYS.leader`, `<replicaId>#<fence>` with a TTL of `leaseMs`; the fence comes from
 *   `KEYS.leaderFence` (INCR), so a newer lease always carries a larger number. The leader renews it every
 *   `leaseMs / 3` with a compare-and-PEXPIRE, and counts itself leading only until `leaseMs` minus a safety margin
 *   after the last renewal it *sent* (local clock): a paused or partitioned leader stops believing it leads before
 *   its key can expire in Redis and another replica can take it.
 * - A publish is one Lua script that checks the lease value is still ours, so a leader that lost its lease while
 *   paused cannot overwrite its successor's publish: the check and the write are atomic in Redis, whatever the local
 *   clock believed.
 * - Followers hear of a publish by pub/sub, and by polling the sequence as a fallback (a subscriber that was
 *   reconnecting misses messages).
 * - Sequences and fences never go backwards from what this replica has seen, even after Redis lost its data
 *   (FLUSHALL, a restart without persistence): the scripts take the replica's highest known number as a floor.
 *
 * Nothing here throws at start or crashes the process: every round catches its errors and tries again next round;
 * `status().store` says when Redis cannot be reached.
 *
 * The guarantee and its tests: RELIABILITY.md, "7. One leader, fenced publishes".
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, brotliDecompress, constants as zlibConstants, gunzip, gzip } from 'node:zlib';
import type { Redis } from 'ioredis';
import type { Logger } from '../log';
import { PERSISTED_SCHEMA_ID, parseOwnPersisted, parsePersisted } from '../directory/persistence';
import type { PublishedState, ReplicaInfo, Replication, ReplicationEvents, ReplicationStatus } from '../directory/replication';
import { type RedisConnection, quit } from './connection';
import { KEYS } from './keys';

export interface RedisReplicationOptions {
  /** Unique per process (e.g. the pod name plus a random suffix). */
  readonly replicaId: string;
  /** Lease TTL (LEADER_LEASE_SECONDS × 1000). */
  readonly leaseMs: number;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Jitter of the acquisition and heartbeat rounds. */
  readonly random?: () => number;
}

/** How the published body is compressed (the `encoding` field says which, so either can be read). */
export type BodyEncoding = 'gzip' | 'br';

/**
 * gzip at level 1. At 100,000 users (1,000 organisations, a 30 MB state) it writes 6.2 MB in about 0.3 s and reads
 * back in about 0.14 s; level 6 saves 0.5 MB for a third more time, brotli at quality 4 writes 5.2 MB but takes
 * 0.67 s and 0.25 s, and its better ratios cost seconds (quality 9: 4.8 MB in 4.3 s). A publish is on the path from
 * the leader's sync to every follower serving it, so time matters more than 10% of Redis memory (random ids keep
 * every setting near a fifth of the JSON).
 * The body stays JSON rather than STATE_DIR's binary format (`state-file.ts`). At 100,000 users that format
 * publishes in about 0.3 s against 0.37 to 0.57 s and adopts in 0.1 s against 0.3 to 0.6 s (`bench/state-file.ts`),
 * but a follower of an older version cannot read it: during a rolling update the old followers would ignore every
 * publish and serve stale data until they are replaced, where JSON keeps every version following.
 * Figures: RELIABILITY.md, "7. One leader, fenced publishes".
 */
export const PUBLISH_ENCODING: BodyEncoding = 'gzip';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const brotliAsync = promisify(brotliCompress);
const unbrotliAsync = promisify(brotliDecompress);

export async function compressBody(json: string, encoding: BodyEncoding = PUBLISH_ENCODING): Promise<Buffer> {
  if (encoding === 'br') return brotliAsync(json, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: json.length } });
  return gzipAsync(json, { level: 1 });
}

export async function decompressBody(body: Buffer, encoding: string): Promise<string> {
  if (encoding === 'gzip') return String(await gunzipAsync(body));
  if (encoding === 'br') return String(await unbrotliAsync(body));
  throw new Error(`unknown encoding ${JSON.stringify(encoding)}`);
}

/** A Lua script, run by SHA with a fallback to EVAL when Redis does not know it yet (new, restarted, flushed). */
class LuaScript {
  readonly sha: string;
  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

/** KEYS: leader, fence. ARGV: replicaId, leaseMs, fence floor, the value this replica held last (or ''). */
const ACQUIRE = new LuaScript(`
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[4] then return {0, current, redis.call('PTTL', KEYS[1])} end
local fence = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if fence <= floor then fence = floor + 1; redis.call('SET', KEYS[2], fence) end
local value = ARGV[1] .. '#' .. fence
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return {1, value}
`);

/** KEYS: leader. ARGV: our value, leaseMs. 1 when renewed, 0 when the lease is no longer ours. */
const RENEW = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`);

/** KEYS: leader. ARGV: our value. */
const RELEASE = new LuaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

/**
 * KEYS: leader, sequence, directory, channel. ARGV: our lease value, sequence floor, version, builtAt, publishedBy,
 * fence, encoding, body. The new sequence, or 0 (storing nothing) when the lease is not ours.
 */
const PUBLISH = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local sequence = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[2])
if sequence <= floor then sequence = floor + 1; redis.call('SET', KEYS[2], sequence) end
redis.call('DEL', KEYS[3])
local now = redis.call('TIME')
redis.call('HSET', KEYS[3], 'sequence', sequence, 'version', ARGV[3], 'builtAt', ARGV[4], 'publishedBy', ARGV[5],
  'fence', ARGV[6], 'encoding', ARGV[7], 'body', ARGV[8], 'publishedAt', now[1] * 1000 + math.floor(now[2] / 1000),
  'schema', ARGV[9])
redis.call('PUBLISH', KEYS[4], sequence)
return sequence
`);

const META_FIELDS = ['sequence', 'version', 'builtAt', 'publishedBy', 'fence', 'encoding', 'body', 'schema'] as const;

/** The lease this replica holds: its value and until when (local clock) it counts as leading. */
interface HeldLease {
  readonly value: string;
  readonly fence: number;
  validUntil: number;
}

interface Heartbeat {
  readonly role: 'leader' | 'follower';
  readonly version?: string;
  readonly sequence?: number;
  readonly seenAt: string;
}

/** The replica id of a lease value `<replicaId>#<fence>`. */
export function leaseHolder(value: string): string {
  const at = value.lastIndexOf('#');
  return at < 0 ? value : value.slice(0, at);
}

function fenceOf(value: string): number {
  return Number(value.slice(value.lastIndexOf('#') + 1));
}

export class RedisReplication implements Replication {
  readonly replicaId: string;
  private readonly leaseMs: number;
  /** Renewals stop counting this long before the lease's TTL would run out (clock drift, slow replies). */
  private readonly safetyMarginMs: number;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly random: () => number;

  private events: ReplicationEvents | undefined;
  private running = false;
  private held: HeldLease | undefined;
  /** The last lease value this replica held: it may take it back (with a new fence) while it has not expired. */
  private previousValue = '';
  /** Whether `onLeadership(true)` was the last leadership event. */
  private toldLeading = false;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private subscriber: Redis | undefined;
  /** Settles when the publish in flight has; announcements wait for it, so a leader does not load its own publish. */
  private publishing: Promise<unknown> = Promise.resolve();

  /** Highest numbers this replica has seen: floors for the next publish and lease. */
  private highestSequence = 0;
  private highestFence = 0;
  /** Highest sequence announced to `onPublished`. */
  private announced = 0;
  private servingVersion: string | undefined;
  private servingSequence: number | undefined;
  /** Read on the heartbeat round. */
  private leaderSeen: string | undefined;
  private replicasSeen: ReplicaInfo[] = [];

  constructor(
    private readonly connection: RedisConnection,
    options: RedisReplicationOptions,
  ) {
    if (!(options.leaseMs > 0)) throw new Error('leaseMs must be positive');
    this.replicaId = options.replicaId;
    this.leaseMs = options.leaseMs;
    this.safetyMarginMs = Math.max(Math.round(options.leaseMs / 5), 50);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
  }

  start(events: ReplicationEvents): void {
    if (this.running) return;
    this.running = true;
    this.events = events;
    this.subscribe();
    // The first rounds wait for the connection (ready() never rejects): a round sent before it would only fail.
    void this.connection.ready().then(() => {
      if (!this.running) return;
      this.loop('lease', () => this.leaseRound());
      this.loop('heartbeat', () => this.heartbeatRound());
      this.loop('poll', () => this.pollRound());
    });
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    const held = this.held;
    this.held = undefined;
    this.tellLeadership(false);
    const client = this.connection.client;
    if (held) {
      await RELEASE.run(client, [this.connection.key(KEYS.leader)], [held.value]).catch((err: Error) =>
        this.logger.warn({ error: err.message }, 'could not release the leader lease; it expires on its own'),
      );
    }
    await client.hdel(this.connection.key(KEYS.replicas), this.replicaId).catch(() => undefined);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    if (subscriber) await quit(subscriber);
  }

  leading(): boolean {
    return this.held !== undefined && this.now() < this.held.validUntil;
  }

  /** The lease key and this replica's value while it leads (the token store fences redemptions with it). */
  lease(): { key: string; value: string } | undefined {
    if (!this.leading() || !this.held) return undefined;
    return { key: this.connection.key(KEYS.leader), value: this.held.value };
  }

  async publish(input: Omit<PublishedState, 'sequence' | 'publishedBy' | 'fence'>): Promise<false | PublishedState> {
    if (!this.leading()) return false;
    const body = await compressBody(JSON.stringify(input.state));
    const held = this.held;
    if (!held || !this.leading()) return false;
    const keys = [KEYS.leader, KEYS.directorySequence, KEYS.directory, KEYS.directoryChannel].map((k) => this.connection.key(k));
    const floor = this.highestSequence;
    const attempt = PUBLISH.run(this.connection.client, keys, [held.value, floor, input.version, input.builtAt, this.replicaId, held.fence, PUBLISH_ENCODING, body, PERSISTED_SCHEMA_ID]);
    this.publishing = attempt.catch(() => undefined);
    // ioredis attaches the command's arguments to a reply error: here the lease value and the whole compressed
    // state, which a logged error would then carry. The caller gets Redis's answer alone.
    const sequence = Number(
      await attempt.catch((err: unknown) => {
        throw new Error(`publishing to Redis at ${this.connection.endpoint} failed: ${String((err as Error).message).split('\n')[0]}`);
      }),
    );
    if (!(sequence > 0)) {
      if (this.held === held) this.lose('Redis refused a publish: another replica holds the lease');
      return false;
    }
    this.highestSequence = Math.max(this.highestSequence, sequence);
    this.announced = Math.max(this.announced, sequence);
    return { sequence, version: input.version, builtAt: input.builtAt, publishedBy: this.replicaId, fence: held.fence, state: input.state };
  }

  /** Rejects when Redis cannot be reached; a body that cannot be read is logged and answers undefined. */
  async fetchPublished(after = 0): Promise<PublishedState | undefined> {
    const client = this.connection.client;
    const key = this.connection.key(KEYS.directory);
    const newest = Number(await client.hget(key, 'sequence'));
    if (!(newest > after)) return undefined;
    const fields = await client.hmgetBuffer(key, [...META_FIELDS]);
    const [sequenceText, version, builtAt, publishedBy, fenceText, encoding, body, schema] = fields.map((f) => f ?? undefined);
    const sequence = Number(sequenceText);
    const fence = Number(fenceText);
    if (!(sequence > after)) return undefined; // replaced meanwhile by nothing newer (a flush)
    try {
      if (!version || !builtAt || !publishedBy || !encoding || !body || !Number.isSafeInteger(sequence) || !Number.isSafeInteger(fence)) {
        throw new Error('incomplete published state');
      }
      const json: unknown = JSON.parse(await decompressBody(body, String(encoding)));
      // Written by code with this schema: its outline suffices; by another (a rolling update): validated in full.
      const parse = schema !== undefined && String(schema) === PERSISTED_SCHEMA_ID ? parseOwnPersisted : parsePersisted;
      const state = parse(json, `published state ${sequence}`);
      this.highestSequence = Math.max(this.highestSequence, sequence);
      this.highestFence = Math.max(this.highestFence, fence);
      return { sequence, version: String(version), builtAt: String(builtAt), publishedBy: String(publishedBy), fence, state };
    } catch (err) {
      this.logger.error({ sequence, error: (err as Error).message }, 'ignoring a published directory state that cannot be read');
      return undefined;
    }
  }

  async requestSync(): Promise<void> {
    await this.connection.client.publish(this.connection.key(KEYS.syncRequestChannel), this.replicaId);
  }

  serving(version: string | undefined, sequence: number | undefined): void {
    this.servingVersion = version;
    this.servingSequence = sequence;
    if (sequence !== undefined) this.highestSequence = Math.max(this.highestSequence, sequence);
  }

  status(): ReplicationStatus {
    const role = this.leading() ? 'leader' : 'follower';
    const self: ReplicaInfo = { replicaId: this.replicaId, role, ...(this.servingVersion ? { version: this.servingVersion } : {}), seenAt: new Date(this.now()).toISOString() };
    const others = this.replicasSeen.filter((r) => r.replicaId !== this.replicaId);
    const leader = role === 'leader' ? this.replicaId : this.leaderSeen;
    return {
      replicaId: this.replicaId,
      role,
      ...(leader ? { leader } : {}),
      store: this.connection.health(),
      replicas: [self, ...others].sort((a, b) => a.replicaId.localeCompare(b.replicaId)),
      ...(this.servingSequence ? { sequence: this.servingSequence } : {}),
    };
  }

  // --- the lease ---

  private async leaseRound(): Promise<number> {
    this.checkExpiry();
    if (this.held) {
      await this.renew(this.held);
      return this.leaseMs / 3;
    }
    const leaseLeftMs = await this.acquire();
    if (this.held) return this.leaseMs / 3;
    // Another replica leads: try again just after its lease would run out (a dead leader's is not renewed), so a
    // successor takes over within one lease TTL, not up to a third of one later; the jitter spreads the replicas.
    const untilExpiry = leaseLeftMs !== undefined && leaseLeftMs >= 0 ? leaseLeftMs + 20 + Math.round(80 * this.random()) : Infinity;
    return Math.min(this.jittered(this.leaseMs / 3), untilExpiry);
  }

  /** Takes the lease if it is free (or still ours); answers the milliseconds left of another replica's lease. */
  private async acquire(): Promise<number | undefined> {
    const sentAt = this.now();
    const reply = (await ACQUIRE.run(this.connection.client, [this.connection.key(KEYS.leader), this.connection.key(KEYS.leaderFence)], [
      this.replicaId,
      this.leaseMs,
      this.highestFence,
      this.previousValue,
    ])) as [number, string, number?];
    const [acquired, value, leaseLeftMs] = reply;
    if (!this.running) {
      if (acquired === 1) await RELEASE.run(this.connection.client, [this.connection.key(KEYS.leader)], [value]);
      return undefined;
    }
    this.leaderSeen = leaseHolder(value);
    if (acquired !== 1) return leaseLeftMs;
    const fence = fenceOf(value);
    this.highestFence = Math.max(this.highestFence, fence);
    this.previousValue = value;
    this.held = { value, fence, validUntil: sentAt + this.leaseMs - this.safetyMarginMs };
    this.logger.info({ replica: this.replicaId, fence }, 'this replica leads: it syncs from Xero and publishes');
    this.armExpiry();
    this.tellLeadership(true);
    return undefined;
  }

  private async renew(held: HeldLease): Promise<void> {
    const sentAt = this.now();
    let renewed: unknown;
    try {
      renewed = await RENEW.run(this.connection.client, [this.connection.key(KEYS.leader)], [held.value, this.leaseMs]);
    } catch (err) {
      if (this.held === held) this.lose(`the lease could not be renewed (${(err as Error).message})`);
      return;
    }
    if (this.held !== held) return;
    if (renewed !== 1) return this.lose('another replica holds the lease');
    held.validUntil = sentAt + this.leaseMs - this.safetyMarginMs;
    this.checkExpiry(); // the reply may have come back too late to count
    if (this.held) this.armExpiry();
  }

  private checkExpiry(): void {
    if (this.held && this.now() >= this.held.validUntil) this.lose('the lease was not renewed in time');
  }

  /** Leadership ends on the local clock even when no renewal round runs in time (a blocked event loop). */
  private armExpiry(): void {
    if (!this.held) return;
    this.schedule('expiry', Math.max(0, this.held.validUntil - this.now()) + 1, () => this.checkExpiry());
  }

  private lose(reason: string): void {
    if (!this.held) return;
    this.held = undefined;
    this.logger.warn({ replica: this.replicaId, reason }, 'this replica no longer leads');
    const expiry = this.timers.get('expiry');
    if (expiry) clearTimeout(expiry);
    this.timers.delete('expiry');
    this.tellLeadership(false);
  }

  private tellLeadership(leading: boolean): void {
    if (leading === this.toldLeading) return;
    this.toldLeading = leading;
    this.emit(() => this.events?.onLeadership(leading));
  }

  // --- announcements ---

  private subscribe(): void {
    const subscriber = this.connection.subscriber();
    this.subscriber = subscriber;
    const published = this.connection.key(KEYS.directoryChannel);
    const syncRequested = this.connection.key(KEYS.syncRequestChannel);
    // Subscribed on every (re)connection: with no offline queue, a SUBSCRIBE sent while down is not replayed.
    subscriber.on('ready', () => {
      subscriber.subscribe(published, syncRequested).catch((err: Error) => this.logger.debug({ error: err.message }, 'could not subscribe; retrying on reconnection'));
      void this.pollRound().catch(() => undefined);
    });
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === published) void this.publishing.then(() => this.announce(Number(message)));
      else if (channel === syncRequested && this.leading()) this.emit(() => this.events?.onSyncRequested());
    });
  }

  private async pollRound(): Promise<number> {
    const sequence = Number(await this.connection.client.get(this.connection.key(KEYS.directorySequence)));
    await this.publishing;
    this.announce(sequence);
    return Math.min(2_000, this.leaseMs);
  }

  private announce(sequence: number): void {
    if (!this.running || !Number.isSafeInteger(sequence) || sequence <= this.announced) return;
    this.announced = sequence;
    this.emit(() => this.events?.onPublished(sequence));
  }

  // --- heartbeats ---

  private async heartbeatRound(): Promise<number> {
    const now = this.now();
    const beat: Heartbeat = {
      role: this.leading() ? 'leader' : 'follower',
      ...(this.servingVersion ? { version: this.servingVersion } : {}),
      ...(this.servingSequence !== undefined ? { sequence: this.servingSequence } : {}),
      seenAt: new Date(now).toISOString(),
    };
    const replicasKey = this.connection.key(KEYS.replicas);
    const replies = await this.connection.client
      .multi()
      .hset(replicasKey, this.replicaId, JSON.stringify(beat))
      .hgetall(replicasKey)
      .get(this.connection.key(KEYS.leader))
      .exec();
    const failed = replies?.find(([err]) => err);
    if (!replies || failed) throw failed?.[0] ?? new Error('heartbeat transaction aborted');
    const all = (replies[1]?.[1] ?? {}) as Record<string, string>;
    const leader = replies[2]?.[1] as string | null;
    this.leaderSeen = leader ? leaseHolder(leader) : undefined;
    const { recent, stale } = this.readHeartbeats(all, now);
    this.replicasSeen = recent;
    if (this.leading() && stale.length > 0) await this.connection.client.hdel(replicasKey, ...stale);
    return this.jittered(this.leaseMs / 3);
  }

  private readHeartbeats(all: Record<string, string>, now: number): { recent: ReplicaInfo[]; stale: string[] } {
    const recent: ReplicaInfo[] = [];
    const stale: string[] = [];
    for (const [replicaId, text] of Object.entries(all)) {
      let beat: Partial<Heartbeat> | undefined;
      try {
        beat = JSON.parse(text) as Partial<Heartbeat>;
      } catch {
        beat = undefined;
      }
      const seenAt = beat?.seenAt ? Date.parse(beat.seenAt) : NaN;
      if (!beat || !(now - seenAt <= 3 * this.leaseMs)) {
        stale.push(replicaId);
        continue;
      }
      recent.push({ replicaId, role: beat.role === 'leader' ? 'leader' : 'follower', ...(typeof beat.version === 'string' ? { version: beat.version } : {}), seenAt: beat.seenAt! });
    }
    return { recent, stale };
  }

  // --- rounds ---

  /** Runs `round` now and again after the delay it returns; a failed round is retried after a short pause. */
  private loop(name: string, round: () => Promise<number>): void {
    const run = async (): Promise<void> => {
      let next: number;
      try {
        next = await round();
      } catch (err) {
        this.logger.debug({ round: name, error: (err as Error).message }, 'replication round failed; retrying');
        next = this.jittered(Math.min(this.leaseMs / 3, 1_000));
      }
      if (this.running) this.schedule(name, next, () => void run());
    };
    void run();
  }

  private schedule(name: string, ms: number, fn: () => void): void {
    const previous = this.timers.get(name);
    if (previous) clearTimeout(previous);
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.timers.delete(name);
      fn();
    }, ms);
    timer.unref();
    this.timers.set(name, timer);
  }

  /** `ms` ±25%, so replicas started together do not campaign in step. */
  private jittered(ms: number): number {
    return Math.round(ms * (0.75 + 0.5 * this.random()));
  }

  /** An event handler's exception is logged, never allowed to stop a round. */
  private emit(call: () => void): void {
    try {
      call();
    } catch (err) {
      this.logger.error({ err }, 'a replication event handler threw');
    }
  }
}
