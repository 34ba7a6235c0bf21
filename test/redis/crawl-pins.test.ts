/**
 * Index crawls' pins in a real redis-server: where they live, how long, and that a dead Redis rejects at once
 * (the list pages then fall back to the replica's own pins) rather than queueing.
 */
import pino from 'pino';
import { RedisConnection } from '../../src/redis/connection';
import { RedisCrawlPins } from '../../src/redis/crawl-pins';
import { describeWithRedis, RedisServer } from '../support/redis-server';

describeWithRedis('RedisCrawlPins', () => {
  let server: RedisServer;
  let connection: RedisConnection;
  beforeAll(async () => {
    server = await RedisServer.start();
    connection = new RedisConnection({ url: server.url, keyPrefix: 'dep:' }, pino({ level: 'silent' }));
    await connection.ready();
  });
  afterAll(async () => {
    await connection.close();
    await server.destroy();
  });

  it('keeps pins:<crawl key> → version under the prefix, expiring ttl after the last page, which each read extends', async () => {
    const pins = new RedisCrawlPins(connection);
    expect(await pins.get('crawl-1', 60_000)).toBeUndefined();
    await pins.set('crawl-1', 'v1', 1_000);
    expect(await connection.client.get('dep:pins:crawl-1')).toBe('v1');
    const ttl = await connection.client.pttl('dep:pins:crawl-1');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000);
    expect(await pins.get('crawl-1', 600_000)).toBe('v1');
    expect(await connection.client.pttl('dep:pins:crawl-1')).toBeGreaterThan(1_000);
    await pins.set('crawl-1', 'v2', 600_000); // a newer crawl of the same query re-pins it
    expect(await pins.get('crawl-1', 600_000)).toBe('v2');
  });

  it('rejects at once while Redis is down', async () => {
    const redis = await RedisServer.start();
    const down = new RedisConnection({ url: redis.url, keyPrefix: 'dep:' }, pino({ level: 'silent' }));
    try {
      await down.ready();
      await redis.kill();
      const pins = new RedisCrawlPins(down);
      const deadline = Date.now() + 10_000;
      while (down.isUp() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      await expect(pins.get('crawl-1', 1_000)).rejects.toThrow();
      await expect(pins.set('crawl-1', 'v1', 1_000)).rejects.toThrow();
    } finally {
      await down.close();
      await redis.destroy();
    }
  });
});
