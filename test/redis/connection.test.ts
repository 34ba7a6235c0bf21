import pino from 'pino';
import { RedisConnection, reconnectDelayMs, redisEndpoint } from '../../src/redis/connection';
import { freePort } from '../support/free-port';
import { describeWithRedis, RedisServer } from '../support/redis-server';

/** A logger whose lines the test reads. */
function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
  return { logger, lines };
}

async function until(condition: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the Redis endpoint and backoff', () => {
  it('shows a URL without its credentials', () => {
    expect(redisEndpoint('redis://user:s3cret@redis.example:6380/2')).toBe('redis://redis.example:6380/2');
    expect(redisEndpoint('rediss://:pw@cache')).toBe('rediss://cache:6379/0');
  });

  it('backs off from about 100 ms to at most 7.5 s, jittered', () => {
    expect(reconnectDelayMs(1, () => 0.5)).toBe(100);
    expect(reconnectDelayMs(4, () => 0.5)).toBe(800);
    expect(reconnectDelayMs(50, () => 0.5)).toBe(5_000);
    expect(reconnectDelayMs(50, () => 0.999)).toBeLessThanOrEqual(7_500);
    expect(reconnectDelayMs(1, () => 0)).toBe(50);
  });
});

describeWithRedis('a connection to a real redis-server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start({ password: 'correct horse battery staple' });
  });
  afterAll(() => server.destroy());

  it('connects, reports down while Redis is gone and up again when it returns, without ever throwing', async () => {
    const { logger, lines } = capturingLogger();
    const connection = new RedisConnection({ url: `redis://:${encodeURIComponent('correct horse battery staple')}@127.0.0.1:${server.port}`, keyPrefix: 't:' }, logger);
    try {
      expect(await connection.ready()).toBe(true);
      expect(connection.health()).toMatchObject({ state: 'up', endpoint: `redis://127.0.0.1:${server.port}/0` });
      await connection.client.set(connection.key('k'), 'v');
      expect(await connection.client.get('t:k')).toBe('v');

      await server.kill();
      await until(() => connection.health().state === 'down');
      await expect(connection.client.get('t:k')).rejects.toThrow();
      await server.restart();
      await until(() => connection.isUp());
      expect(await connection.client.get('t:k')).toBe('v'); // appendfsync always: nothing lost to the kill
      expect(lines.join('')).not.toContain('correct horse');
    } finally {
      await connection.close();
    }
  });

  it('takes the password from REDIS_PASSWORD when the URL has none, and a wrong one never appears in what it reports', async () => {
    const good = new RedisConnection({ url: `redis://127.0.0.1:${server.port}`, password: 'correct horse battery staple', keyPrefix: '' }, capturingLogger().logger);
    const { logger, lines } = capturingLogger();
    const bad = new RedisConnection({ url: `redis://127.0.0.1:${server.port}`, password: 'wrong-password-123', keyPrefix: '' }, logger);
    try {
      expect(await good.ready()).toBe(true);
      await until(() => bad.health().lastError !== undefined);
      expect(bad.isUp()).toBe(false);
      expect(JSON.stringify(bad.health())).not.toContain('wrong-password-123');
      expect(lines.join('')).not.toContain('wrong-password-123');
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it('warns about settings that put shared state at risk, and is quiet when they are right', async () => {
    const connection = new RedisConnection({ url: `redis://127.0.0.1:${server.port}`, password: 'correct horse battery staple', keyPrefix: '' }, capturingLogger().logger);
    try {
      await connection.ready();
      expect(await connection.checkSettings()).toEqual([]);
      await connection.client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await connection.client.config('SET', 'appendonly', 'no');
      const warnings = await connection.checkSettings();
      expect(warnings).toHaveLength(2);
      expect(warnings[0]).toMatch(/maxmemory-policy allkeys-lru, not noeviction/);
      expect(warnings[1]).toMatch(/appendonly no, not yes/);
    } finally {
      await connection.client.config('SET', 'maxmemory-policy', 'noeviction');
      await connection.client.config('SET', 'appendonly', 'yes');
      await connection.close();
    }
  });
});

describe('a Redis that is not there at start', () => {
  it('is retried in the background and reported as connecting, never thrown', async () => {
    const port = await freePort();
    const connection = new RedisConnection({ url: `redis://127.0.0.1:${port}`, keyPrefix: '' }, capturingLogger().logger);
    try {
      await until(() => connection.health().lastError !== undefined);
      expect(connection.health().state).toBe('connecting');
      expect(connection.health().lastError).toMatch(/ECONNREFUSED/);
    } finally {
      await connection.close();
    }
  });
});
