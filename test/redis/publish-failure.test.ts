/**
 * A publish Redis refuses (a full Redis with `maxmemory-policy noeviction`, as the README asks for, answers OOM)
 * is reported in the status and logged in one short line: the error names Redis's answer, and neither the log nor
 * the status carries the command's arguments (the compressed directory, megabytes at scale, and the lease value).
 * A real redis-server, a leader syncing from the sandbox, and the production logger (`createLogger`).
 */
import { directoryOptions } from '../../src/commands/directory-options';
import { type XeroDirectory, createXeroDirectory } from '../../src/directory/sync';
import { createLogger, silentLogger } from '../../src/log';
import { RedisConnection } from '../../src/redis/connection';
import { RedisReplication } from '../../src/redis/replication';
import { systemClock } from '../../src/xero/clock';
import { MemoryTokenStore } from '../../src/xero/tokens';
import { type World, world } from '../directory/helpers';
import { describeWithRedis, RedisServer } from '../support/redis-server';
import { until } from '../xero/helpers/clocks';

describeWithRedis('a publish Redis refuses', () => {
  let redis: RedisServer;
  let w: World;
  let connection: RedisConnection;
  let directory: XeroDirectory;
  const lines: string[] = [];

  beforeAll(async () => {
    redis = await RedisServer.start();
    w = await world({ clock: systemClock, data: { seed: 16, organisations: 3, usersPerOrganisation: 4, partnerShare: 0 } });
    connection = new RedisConnection({ url: redis.url, keyPrefix: 'publish-failure:' }, silentLogger);
    await connection.ready();
    const logger = createLogger({ destination: { write: (line: string) => void lines.push(line) } });
    const replication = new RedisReplication(connection, { replicaId: 'leader-1', leaseMs: 2_000, logger });
    directory = createXeroDirectory(directoryOptions(w.config), { policy: { timeoutMs: 5000 }, replication, tokenStore: new MemoryTokenStore(), logger });
    await directory.start();
    await until(() => directory.status().replication?.sequence !== undefined, 10_000);
  });

  afterAll(async () => {
    await redis.command('CONFIG', 'SET', 'maxmemory', '0');
    await directory.stop();
    await connection.close();
    await w.close();
    await redis.destroy();
  });

  it('is reported and logged by what Redis answered, without the body or the lease it was sent with', async () => {
    await redis.command('CONFIG', 'SET', 'maxmemory', '1'); // every write is now refused: OOM
    await directory.syncOnce();
    const persistence = directory.status().persistence;
    expect(persistence).toMatchObject({ ok: false, error: { code: 'STATE_NOT_PUBLISHED' } });
    expect(persistence?.error?.message).toMatch(/OOM/);
    expect(persistence?.error?.message).not.toMatch(/leader-1#/);

    const logged = lines.filter((l) => l.includes('cannot publish the directory state'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/OOM/);
    expect(logged[0]).not.toContain('"type":"Buffer"');
    expect(logged[0]).not.toMatch(/leader-1#\d/);
    expect(logged[0]!.length).toBeLessThan(4_000);
  });
});
