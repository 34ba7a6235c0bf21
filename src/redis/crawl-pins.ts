/**
 * Index crawls' pins in Redis, shared by every replica: `pins:<crawl key>` → the snapshot version the crawl's first
 * page was read from, expiring `ttlMs` after its last page (`GETEX … PX` extends it on every read). The crawl key is
 * already a hash of the credentials and the query (`CrawlPins.key`), so Redis holds nothing secret.
 *
 * It has the shape of `SharedCrawlPins` (`src/http/crawl-pins.ts`), which `commands/` hands to the app: the redis
 * layer does not import the HTTP one. Its calls reject while Redis is unreachable (the connection queues nothing);
 * the list pages then fall back to the replica's own pins.
 */
import { KEYS } from './keys';
import type { RedisConnection } from './connection';

export class RedisCrawlPins {
  constructor(private readonly connection: RedisConnection) {}

  async get(key: string, ttlMs: number): Promise<string | undefined> {
    const version = await this.connection.client.getex(this.keyOf(key), 'PX', positive(ttlMs));
    return version ?? undefined;
  }

  async set(key: string, version: string, ttlMs: number): Promise<void> {
    await this.connection.client.set(this.keyOf(key), version, 'PX', positive(ttlMs));
  }

  private keyOf(crawlKey: string): string {
    return this.connection.key(`${KEYS.pinPrefix}${crawlKey}`);
  }
}

/** Redis refuses a PX of 0 or less. */
const positive = (ttlMs: number): number => Math.max(1, Math.round(ttlMs));
