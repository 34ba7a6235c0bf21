/**
 * The connection to the shared Redis (7.x, or Valkey) that replicas coordinate through, with ioredis.
 *
 * ioredis because it reconnects on its own with a strategy we choose, runs Lua scripts by SHA with a fallback to
 * EVAL, speaks TLS for `rediss://`, and fails a command at once while disconnected (`enableOfflineQueue: false`)
 * instead of queueing it: every caller here would rather know now that a write did not happen (a rotated token that
 * cannot be stored must not be used) than have it replayed later.
 *
 * The connection never throws at start and never crashes the process: an unreachable Redis is retried with capped,
 * jittered backoff for ever, and `health()` says what is going on (`/readyz`, `/metrics`, the status page). Nothing
 * it logs or reports carries the URL's password.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../log';

export interface RedisSettings {
  /** REDIS_URL: `redis://[user:password@]host[:port][/db]` or `rediss://…`. */
  readonly url: string;
  /** REDIS_PASSWORD, used when the URL carries none. */
  readonly password?: string | undefined;
  /** REDIS_KEY_PREFIX: every key this deployment uses starts with it. */
  readonly keyPrefix: string;
}

export interface RedisHealth {
  /** `connecting` until the first connection, then `up` or `down`. */
  readonly state: 'connecting' | 'up' | 'down';
  /** Where it connects, without credentials: `host:port/db`. */
  readonly endpoint: string;
  /** ISO instant of the last change of state. */
  readonly since: string;
  /** The last connection error, without credentials. */
  readonly lastError?: string;
}

/** Backoff between reconnection attempts: 100 ms doubling to 5 s, ±50% jitter so replicas do not retry in step. */
export function reconnectDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(100 * 2 ** Math.min(attempt - 1, 10), 5_000);
  return Math.round(base * (0.5 + random()));
}

/** `host:port/db` of a Redis URL: what logs and the status page may show. */
export function redisEndpoint(url: string): string {
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '') || '0';
  return `${parsed.protocol === 'rediss:' ? 'rediss' : 'redis'}://${parsed.hostname}:${parsed.port || '6379'}/${db}`;
}

/** Settings that keep what replicas share safe: without them Redis may evict a token or lose a second of writes. */
export const REQUIRED_SETTINGS: readonly (readonly [name: string, expected: string, why: string])[] = [
  ['maxmemory-policy', 'noeviction', 'an evicting policy may drop the refresh token or the directory under memory pressure'],
  ['appendonly', 'yes', 'without the append-only file a Redis restart loses every write since its last snapshot'],
];

export class RedisConnection {
  /** Commands (and Lua scripts). */
  readonly client: Redis;
  readonly endpoint: string;
  private state: RedisHealth['state'] = 'connecting';
  private since: string;
  private lastError: string | undefined;
  private readonly subscribers: Redis[] = [];
  private closed = false;

  constructor(
    private readonly settings: RedisSettings,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.endpoint = redisEndpoint(settings.url);
    this.since = new Date(now()).toISOString();
    this.client = new Redis(settings.url, this.options());
    this.client.on('ready', () => this.setState('up'));
    this.client.on('error', (err: Error) => this.onError(err));
    this.client.on('end', () => this.setState('down'));
    this.client.on('close', () => {
      if (this.state === 'up') this.setState('down');
    });
  }

  /** The key `name` under this deployment's prefix. */
  key(name: string): string {
    return `${this.settings.keyPrefix}${name}`;
  }

  health(): RedisHealth {
    return { state: this.state, endpoint: this.endpoint, since: this.since, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  isUp(): boolean {
    return this.state === 'up';
  }

  /** Resolves once connected (at once if already); never rejects. False if the connection was closed first. */
  async ready(signal?: AbortSignal): Promise<boolean> {
    if (this.closed) return false;
    if (this.state === 'up') return true;
    return new Promise<boolean>((resolve) => {
      const done = (up: boolean): void => {
        this.client.off('ready', onReady);
        this.client.off('end', onEnd);
        signal?.removeEventListener('abort', onEnd);
        resolve(up);
      };
      const onReady = (): void => done(true);
      const onEnd = (): void => done(false);
      this.client.once('ready', onReady);
      this.client.once('end', onEnd);
      signal?.addEventListener('abort', onEnd, { once: true });
    });
  }

  /**
   * A second connection for SUBSCRIBE (a subscribed connection can run no other command), with the same settings;
   * closed with this one.
   */
  subscriber(): Redis {
    const connection = new Redis(this.settings.url, this.options());
    connection.on('error', () => undefined); // reported through the command connection's health
    this.subscribers.push(connection);
    return connection;
  }

  /**
   * Warnings for settings that differ from `REQUIRED_SETTINGS` (one per setting), or one saying they cannot be
   * read (a managed Redis may refuse CONFIG): the operator's to check, never a reason to stop.
   */
  async checkSettings(): Promise<string[]> {
    const warnings: string[] = [];
    for (const [name, expected, why] of REQUIRED_SETTINGS) {
      let actual: string | undefined;
      try {
        const reply = (await this.client.config('GET', name)) as unknown as string[];
        actual = reply[1];
      } catch (err) {
        warnings.push(`cannot read the Redis setting ${name} (${(err as Error).message}): make sure it is ${expected} (${why})`);
        continue;
      }
      if (actual !== expected) warnings.push(`Redis has ${name} ${actual ?? '(unset)'}, not ${expected}: ${why}`);
    }
    return warnings;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const connection of [this.client, ...this.subscribers]) await quit(connection);
  }

  private options(): RedisOptions {
    const password = new URL(this.settings.url).password;
    return {
      ...(password === '' && this.settings.password ? { password: this.settings.password } : {}),
      lazyConnect: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      // A Redis that stops answering (paused, partitioned) must not hold a sync or a request for ever.
      commandTimeout: 5_000,
      retryStrategy: (attempt: number) => (this.closed ? null : reconnectDelayMs(attempt)),
    };
  }

  private onError(err: Error): void {
    const message = this.redact(err.message);
    if (message !== this.lastError) this.logger.warn({ redis: this.endpoint, error: message }, 'Redis connection error; retrying with backoff');
    this.lastError = message;
    if (this.state === 'up') this.setState('down');
  }

  private setState(state: RedisHealth['state']): void {
    if (state === this.state) return;
    const was = this.state;
    this.state = state;
    this.since = new Date(this.now()).toISOString();
    if (state === 'up') {
      this.lastError = undefined;
      this.logger.info({ redis: this.endpoint }, was === 'connecting' ? 'connected to Redis' : 'reconnected to Redis');
    } else if (state === 'down' && !this.closed) this.logger.warn({ redis: this.endpoint }, 'lost the connection to Redis; serving what this replica holds');
  }

  /** Error texts never carry the password (ioredis does not put it there, but a URL in a message might). */
  private redact(text: string): string {
    const secrets = [new URL(this.settings.url).password, this.settings.password].filter((s): s is string => !!s);
    return secrets.reduce((t, secret) => t.split(secret).join('***').split(encodeURIComponent(secret)).join('***'), text);
  }
}

/** Connections being closed, so a second `quit` (the connection closing a subscriber its user quit) waits on the first. */
const closing = new WeakMap<Redis, Promise<void>>();

/**
 * QUIT, resolving once the socket has closed; a plain disconnect if QUIT fails (Redis down). Called again for the
 * same connection it waits on the first call: a second QUIT on a closing socket fails, and the disconnect that
 * followed armed a timer that held the process for seconds after shutdown.
 */
export function quit(connection: Redis): Promise<void> {
  if (connection.status === 'end') return Promise.resolve();
  let closed = closing.get(connection);
  if (!closed) {
    closed = connection.quit().then(
      () => (connection.status === 'end' ? undefined : new Promise<void>((resolve) => connection.once('end', () => resolve()))),
      () => {
        if (connection.status !== 'end') connection.disconnect();
      },
    );
    closing.set(connection, closed);
  }
  return closed;
}
