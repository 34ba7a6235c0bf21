/**
 * What `serve` builds when REDIS_URL is set: the connection to the shared Redis, this replica's `RedisReplication`
 * (the lease and the published directory), the token chain every replica shares (`RedisTokenStore`, whose
 * redemptions are fenced by the lease), the operator confirmations (`RedisConfirmationStore`) and the index crawls'
 * pins (`RedisCrawlPins`). The directory and the app take them as dependencies and STATE_DIR is not used. One
 * place composes them, so `serve` only asks for them and closes them.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config';
import type { XeroDirectoryDeps } from '../directory/sync';
import type { Logger } from '../log';
import { RedisConfirmationStore } from '../redis/confirmations';
import { RedisConnection } from '../redis/connection';
import { RedisCrawlPins } from '../redis/crawl-pins';
import { RedisReplication } from '../redis/replication';
import { RedisTokenStore } from '../redis/token-store';
import { redisSettingsOf } from './redis';

export interface Replicas {
  readonly replicaId: string;
  readonly connection: RedisConnection;
  /** What the directory takes: the replication, and the token and confirmation stores in Redis. */
  readonly deps: Required<Pick<XeroDirectoryDeps, 'replication' | 'tokenStore' | 'confirmationStore'>>;
  /** What the app takes: index crawls' pins every replica reads, so a crawl's pages agree whichever one answers. */
  readonly sharedPins: RedisCrawlPins;
  /**
   * Resolves once Redis answered (true) or after `ms` (false): the directory then loads the newest published state
   * before it serves, and a Redis still out of reach is retried in the background.
   */
  connected(ms: number): Promise<boolean>;
  /** Closes the connections; the directory's `stop` has given the lease up before. */
  close(): Promise<void>;
}

/**
 * The host name (a pod's name in Kubernetes, so an operator recognises it) and a short random suffix: a restarted
 * pod keeps its name, and must not be taken for the process it replaces.
 */
export function replicaIdOf(host: string = hostname(), suffix: string = randomBytes(3).toString('hex')): string {
  const name = host.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 63) || 'xero-scim';
  return `${name}-${suffix}`;
}

/** The replicas' parts for `config` (REDIS_URL set), or undefined without REDIS_URL. Never connects synchronously. */
export function replicasFor(config: Config, logger: Logger, replicaId: string = replicaIdOf()): Replicas | undefined {
  const settings = redisSettingsOf(config);
  if (!settings) return undefined;
  const connection = new RedisConnection(settings, logger);
  const replication = new RedisReplication(connection, { replicaId, leaseMs: config.leaderLeaseSeconds * 1000, logger });
  const tokenStore = new RedisTokenStore(connection, { replicaId, lease: () => replication.lease() });
  // Settings that would let Redis lose the token chain are said once, when it first answers (it never blocks start).
  void connection.ready().then(async (up) => {
    if (!up) return;
    for (const warning of await connection.checkSettings()) logger.warn({ endpoint: connection.endpoint }, warning);
  });
  return {
    replicaId,
    connection,
    deps: { replication, tokenStore, confirmationStore: new RedisConfirmationStore(connection) },
    sharedPins: new RedisCrawlPins(connection),
    connected: (ms) => connection.ready(AbortSignal.timeout(ms)),
    close: () => connection.close(),
  };
}
