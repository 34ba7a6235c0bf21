/**
 * REDIS_URL for the commands: the settings a `RedisConnection` takes, and a connection for a one-shot command
 * (`auth`, `confirm-disconnect`) that fails with a clear message when Redis does not answer.
 */
import type { Config } from '../config';
import { type Logger, silentLogger } from '../log';
import { RedisConnection } from '../redis/connection';

/** The Redis settings of `config` (REDIS_URL set), for `new RedisConnection`. */
export function redisSettingsOf(config: Pick<Config, 'redisUrl' | 'redisPassword' | 'redisKeyPrefix'>): { url: string; password?: string; keyPrefix: string } | undefined {
  if (!config.redisUrl) return undefined;
  return { url: config.redisUrl, keyPrefix: config.redisKeyPrefix, ...(config.redisPassword ? { password: config.redisPassword } : {}) };
}

/**
 * A connection to REDIS_URL for a one-shot command, once connected; throws, naming the endpoint (never the
 * password), if Redis does not answer within `timeoutMs`.
 */
export async function connectRedisFor(
  config: Pick<Config, 'redisUrl' | 'redisPassword' | 'redisKeyPrefix'>,
  logger: Logger = silentLogger,
  timeoutMs = 10_000,
): Promise<RedisConnection | undefined> {
  const settings = redisSettingsOf(config);
  if (!settings) return undefined;
  const connection = new RedisConnection(settings, logger);
  const up = await connection.ready(AbortSignal.timeout(timeoutMs));
  if (!up) {
    const { lastError } = connection.health();
    await connection.close();
    throw new Error(`cannot reach Redis at ${connection.endpoint} within ${timeoutMs / 1000} s${lastError ? ` (${lastError})` : ''}: check REDIS_URL and REDIS_PASSWORD`);
  }
  return connection;
}
