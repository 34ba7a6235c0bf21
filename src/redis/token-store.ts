/**
 * The Xero token chain kept in Redis, shared by every replica (RELIABILITY.md, "8. One token chain across replicas").
 *
 * A refresh token redeemed twice, or redeemed and then lost, breaks the chain for everyone, so each renewal runs
 * under a lock carrying a fencing value (`<replicaId>#<INCR tokens:fence>`, with a TTL), and a rotated set is stored
 * by a compare-and-set script that checks, in one step, that the stored refresh token is still the one redeemed, the
 * lock still carries this renewal's fencing value and (with a lease) this replica still leads. The stored JSON is
 * the token set the file store keeps, plus the refresh token it replaced and when.
 *
 * Every Redis failure becomes `XERO_TOKEN_STORE_UNAVAILABLE`, naming Redis and never a token or password: the
 * provider then redeems nothing, since a token it could not store would be lost.
 */
import type { RedisConnection } from './connection';
import { KEYS } from './keys';
import { z } from 'zod';
import { XeroError } from '../xero/errors';
import {
  type SharedAccessToken,
  type SharedTokenStore,
  type StoredTokens,
  type TokenLock,
  type TokenStore,
  TokenStoreError,
  storedTokensSchema,
} from '../xero/tokens';

export interface RedisTokenStoreOptions {
  /** This replica's name, written into the lock (who holds it). */
  readonly replicaId: string;
  /**
   * The leader lease, when one decides who may redeem: the full Redis key and the value this replica holds there,
   * or undefined while it holds none. Without it, any replica may redeem (under the lock).
   */
  readonly lease?: () => { key: string; value: string } | undefined;
  /** How long a lock lives if its holder dies; a renewal that outlives it cannot store (the fence moved). Default 30 s. */
  readonly lockMs?: number;
  /** How long to wait for a lock another replica holds. Default `lockMs`. */
  readonly waitMs?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What Redis holds under `KEYS.tokens`. */
const chainSchema = storedTokensSchema.extend({
  /** The refresh token this set's replaced, and when: Xero accepts it again within its grace period. */
  previous: z.object({ refreshToken: z.string(), rotatedAt: z.string() }).optional(),
});

const clientTokenSchema = z.object({ clientId: z.string(), accessToken: z.string().min(1), expiresAt: z.number() });

/**
 * KEYS[1] lock, KEYS[2] fence, KEYS[3] lease key or ''; ARGV replicaId, lockMs, lease value. {1, value} | {0} held |
 * {-1} no lease. Under a lease the lock's value ends with `|<lease value>`, and a lock taken under an older lease is
 * taken over: its holder no longer leads (killed or paused mid-redemption), its compare-and-set can no longer store
 * (the lock and the lease both moved), so waiting out its lockMs would only stop the chain for the new leader.
 */
const LOCK = `
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[3] then return {-1} end
local held = redis.call('GET', KEYS[1])
if held then
  local bar = string.find(held, '|', 1, true)
  if KEYS[3] == '' or not bar or string.sub(held, bar + 1) == ARGV[3] then return {0} end
end
local value = ARGV[1] .. '#' .. redis.call('INCR', KEYS[2])
if KEYS[3] ~= '' then value = value .. '|' .. ARGV[3] end
redis.call('SET', KEYS[1], value, 'PX', tonumber(ARGV[2]))
return {1, value}
`;

/** KEYS[1] lock; ARGV the lock's value. Deletes the lock only if it is still ours. */
const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS[1] chain, KEYS[2] lock, KEYS[3] lease key or ''; ARGV expected refresh token ('' for none usable), lock
 * value, new JSON, lease value. 1 stored, 0 refused.
 */
const COMPARE_AND_SAVE = `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
if KEYS[3] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[4] then return 0 end
local raw = redis.call('GET', KEYS[1])
local current = ''
if raw then
  local ok, decoded = pcall(cjson.decode, raw)
  if ok and type(decoded) == 'table' and type(decoded.refreshToken) == 'string' then current = decoded.refreshToken end
end
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[3])
return 1
`;

/** KEYS[1] client token, KEYS[2] lock; ARGV lock value, JSON, ttl ms. */
const SAVE_CLIENT_TOKEN = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', tonumber(ARGV[3]))
return 1
`;

export class RedisTokenStore implements TokenStore, SharedTokenStore {
  readonly shared: SharedTokenStore = this;
  private readonly lockMs: number;
  private readonly waitMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Locks of this store whose release failed (Redis was down): released at the next renewal, not left to expire. */
  private readonly unreleased = new Set<string>();

  constructor(
    private readonly connection: RedisConnection,
    private readonly options: RedisTokenStoreOptions,
  ) {
    this.lockMs = options.lockMs ?? 30_000;
    this.waitMs = options.waitMs ?? this.lockMs;
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Where the chain lives, for messages: endpoint and key, no password. */
  get location(): string {
    return `${this.connection.endpoint} (key ${this.connection.key(KEYS.tokens)})`;
  }

  async load(): Promise<StoredTokens | undefined> {
    const raw = await this.redis('read the Xero token chain', () => this.connection.client.get(this.connection.key(KEYS.tokens)));
    if (raw === null) return undefined;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw new TokenStoreError(`the Xero token chain in Redis (${this.location}) is not valid JSON: re-run \`xero-scim auth\``);
    }
    const parsed = chainSchema.safeParse(json);
    if (!parsed.success) throw new TokenStoreError(`the Xero token chain in Redis (${this.location}) is not one of this version: re-run \`xero-scim auth\``);
    const { previous: _previous, ...tokens } = parsed.data;
    return tokens;
  }

  /** Replaces the chain whatever is stored (a new consent, `xero-scim auth`). */
  async save(tokens: StoredTokens): Promise<void> {
    const json = JSON.stringify(storedTokensSchema.parse(tokens));
    await this.redis('store the Xero token chain', () => this.connection.client.set(this.connection.key(KEYS.tokens), json));
  }

  async exclusive<T>(work: (lock: TokenLock) => Promise<T>, options: { readonly redeem: boolean }): Promise<T> {
    const lease = options.redeem ? this.leaseOrRefuse() : undefined;
    for (const orphan of this.unreleased) await this.release(orphan);
    const value = await this.acquire(lease);
    try {
      return await work(this.lockHandle(value, lease));
    } finally {
      await this.release(value);
    }
  }

  /** Compare-and-delete: only a lock still carrying `value` goes. One that cannot be released now is tried again. */
  private async release(value: string): Promise<void> {
    try {
      await this.connection.client.eval(UNLOCK, 1, this.connection.key(KEYS.tokensLock), value);
      this.unreleased.delete(value);
    } catch {
      this.unreleased.add(value); // it expires anyway after lockMs
    }
  }

  async loadClientToken(clientId: string): Promise<SharedAccessToken | undefined> {
    const raw = await this.redis('read the shared Xero access token', () => this.connection.client.get(this.connection.key(KEYS.tokensClientCredentials)));
    if (raw === null) return undefined;
    try {
      const parsed = clientTokenSchema.parse(JSON.parse(raw));
      return parsed.clientId === clientId ? parsed : undefined;
    } catch {
      return undefined; // unreadable: fetched again and overwritten
    }
  }

  private leaseOrRefuse(): { key: string; value: string } | undefined {
    if (!this.options.lease) return undefined;
    const lease = this.options.lease();
    if (!lease) throw notLeader();
    return lease;
  }

  /** Takes the lock, waiting with backoff (25 ms doubling to 1 s, jittered) while another replica holds it. */
  private async acquire(lease: { key: string; value: string } | undefined): Promise<string> {
    const deadline = this.now() + this.waitMs;
    for (let attempt = 0; ; attempt++) {
      const reply = (await this.redis('take the token lock', () =>
        this.connection.client.eval(
          LOCK,
          3,
          this.connection.key(KEYS.tokensLock),
          this.connection.key(KEYS.tokensFence),
          lease?.key ?? '',
          this.options.replicaId,
          String(this.lockMs),
          lease?.value ?? '',
        ),
      )) as [number, string?];
      if (reply[0] === 1) return reply[1]!;
      if (reply[0] === -1) throw notLeader();
      if (this.now() >= deadline) {
        throw new XeroError('XERO_TOKEN_STORE_UNAVAILABLE', `another replica has held the Xero token lock in Redis for over ${Math.round(this.waitMs / 1000)} s; the next renewal tries again`);
      }
      await this.sleep(Math.min(1_000, 25 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random()));
    }
  }

  private lockHandle(value: string, lease: { key: string; value: string } | undefined): TokenLock {
    const { connection } = this;
    return {
      compareAndSave: async (expected, next) => {
        const json = JSON.stringify(
          chainSchema.parse({
            ...next,
            ...(expected !== undefined && expected !== next.refreshToken ? { previous: { refreshToken: expected, rotatedAt: next.receivedAt } } : {}),
          }),
        );
        const stored = await this.redis('store the rotated Xero token chain', () =>
          connection.client.eval(
            COMPARE_AND_SAVE,
            3,
            connection.key(KEYS.tokens),
            connection.key(KEYS.tokensLock),
            lease?.key ?? '',
            expected ?? '',
            value,
            json,
            lease?.value ?? '',
          ),
        );
        return stored === 1;
      },
      saveClientToken: async (token) => {
        const ttl = Math.floor(token.expiresAt - this.now());
        if (ttl <= 0) return;
        await this.redis('share the Xero access token', () =>
          connection.client.eval(SAVE_CLIENT_TOKEN, 2, connection.key(KEYS.tokensClientCredentials), connection.key(KEYS.tokensLock), value, JSON.stringify(token), String(ttl)),
        );
      },
    };
  }

  /** Runs one Redis command; a failure becomes the retryable error naming Redis (never the URL's password). */
  private async redis<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      const reason = this.connection.isUp() ? (err as Error).message.split('\n')[0] : `${this.connection.health().state}`;
      throw new XeroError('XERO_TOKEN_STORE_UNAVAILABLE', `cannot ${what}: Redis at ${this.connection.endpoint} is unreachable (${reason}); no refresh token is redeemed until it is back`, {
        cause: err,
      });
    }
  }
}

function notLeader(): XeroError {
  return new XeroError('XERO_NOT_LEADER', 'this replica does not hold the leader lease, so it does not redeem the Xero refresh token (the leader does)');
}
