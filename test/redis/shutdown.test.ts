/**
 * A replica that stops leaves nothing running: once `RedisReplication.stop()` and `RedisConnection.close()` have
 * resolved, no timer or socket keeps the process alive (`serve` exits at once on SIGTERM, a one-shot command returns).
 * Run in a child process built from dist/, where nothing else (jest, the test's own Redis client) holds the loop.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ensureBuilt } from '../reliability/support';
import { describeWithRedis, RedisServer } from '../support/redis-server';

const CHILD = `
const path = require('node:path');
const pino = require('pino');
const dist = path.join(process.cwd(), 'dist', 'redis');
const { RedisConnection } = require(path.join(dist, 'connection.js'));
const { RedisReplication } = require(path.join(dist, 'replication.js'));
const logger = pino({ level: 'silent' });
(async () => {
  const connection = new RedisConnection({ url: process.argv[1], keyPrefix: 'shutdown-test:' }, logger);
  const replication = new RedisReplication(connection, { replicaId: 'stopping', leaseMs: 1000, logger });
  let leading = false;
  replication.start({ onLeadership: (l) => (leading ||= l), onPublished: () => undefined, onSyncRequested: () => undefined });
  for (let i = 0; i < 250 && !leading; i++) await new Promise((r) => setTimeout(r, 20));
  await replication.stop();
  await connection.close();
  process.stdout.write(JSON.stringify({ leading, alive: process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap' && r !== 'PipeWrap') }));
})();
`;

describeWithRedis('a stopped replica', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    ensureBuilt();
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.destroy();
  });

  it('keeps nothing alive once its replication is stopped and its connection closed', () => {
    const out = execFileSync(process.execPath, ['-e', CHILD, redis.url], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ leading: true, alive: [] });
  });
});
