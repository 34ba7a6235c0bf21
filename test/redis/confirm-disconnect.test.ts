/**
 * `xero-scim confirm-disconnect` with REDIS_URL, against a real redis-server and a leader syncing from the sandbox:
 * the command reads the removals held back from the newest published state (no STATE_DIR anywhere), leaves its
 * confirmation in Redis, and the leader's next sync that still gets the removing answer applies it, then deletes it
 * once that sync's state is published.
 */
import pino from 'pino';
import { main } from '../../src/cli';
import { directoryOptions } from '../../src/commands/directory-options';
import { type XeroDirectory, createXeroDirectory } from '../../src/directory/sync';
import { RedisConfirmationStore } from '../../src/redis/confirmations';
import { RedisConnection } from '../../src/redis/connection';
import { KEYS } from '../../src/redis/keys';
import { RedisReplication } from '../../src/redis/replication';
import { systemClock } from '../../src/xero/clock';
import { MemoryTokenStore } from '../../src/xero/tokens';
import { type World, world } from '../directory/helpers';
import { describeWithRedis, RedisServer } from '../support/redis-server';
import { until } from '../xero/helpers/clocks';

const PREFIX = 'confirm-test:';

describeWithRedis('confirm-disconnect with REDIS_URL', () => {
  let redis: RedisServer;
  let w: World;
  let connection: RedisConnection;
  let directory: XeroDirectory;

  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  afterAll(async () => {
    await redis.destroy();
  });

  beforeEach(async () => {
    w = await world({ clock: systemClock, data: { seed: 16, organisations: 3, usersPerOrganisation: 4, partnerShare: 0 } });
    const logger = pino({ level: 'silent' });
    connection = new RedisConnection({ url: redis.url, keyPrefix: PREFIX }, logger);
    await connection.ready();
    const replication = new RedisReplication(connection, { replicaId: 'leader-1', leaseMs: 2_000, logger });
    directory = createXeroDirectory(directoryOptions(w.config), {
      policy: { timeoutMs: 5000 },
      replication,
      tokenStore: new MemoryTokenStore(),
      confirmationStore: new RedisConfirmationStore(connection),
    });
    await directory.start();
    await until(() => replication.leading() && directory.status().replication?.sequence !== undefined, 10_000);
  });

  afterEach(async () => {
    await directory.stop();
    await connection.client.flushall();
    await connection.close();
    await w.close();
  });

  async function confirm(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    // No STATE_DIR it could use: the command must not need one with REDIS_URL.
    const env = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: PREFIX, STATE_DIR: '/proc/xero-scim-has-no-state-here' };
    const code = await main(['confirm-disconnect', ...args], { out: (t) => out.push(t), err: (t) => err.push(t), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it('reads the held removals from the published state, and the leader applies the confirmation it leaves in Redis', async () => {
    const ids = w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());
    expect((await confirm('--all')).out).toContain('Nothing to confirm');

    w.sandbox.data.scriptFault({ path: 'connections', count: 3, kind: 'empty' }); // a mass drop: held for an operator
    await directory.syncOnce();
    const refused = await confirm('not-a-held-tenant');
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`(${ids[0]}): suspect-disconnect since`);

    const confirmed = await confirm('--all');
    expect(confirmed).toMatchObject({ code: 0, err: '' });
    expect(confirmed.out).toContain(`Confirmed the removal of ${ids.length} organisations`);
    expect(confirmed.out).toContain(`Recorded in Redis at ${connection.endpoint}`);
    expect(await connection.client.hlen(`${PREFIX}${KEYS.confirmations}`)).toBe(1);

    await directory.syncOnce(); // Xero still answers [] : the confirmation applies, and is consumed once published
    expect(directory.current()!.organisations).toHaveLength(0);
    expect(await connection.client.hlen(`${PREFIX}${KEYS.confirmations}`)).toBe(0);
    expect((await confirm('--all')).out).toContain('Nothing to confirm');
  });

  it('says so when Redis holds no published state', async () => {
    await directory.stop();
    await connection.client.flushall();
    const none = await confirm('--all');
    expect(none.code).toBe(1);
    expect(none.err).toContain('no published directory state in Redis');
    expect(none.err).toContain(connection.endpoint);
  });
});
