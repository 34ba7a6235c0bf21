/**
 * One replica in its own process, for the test that SIGSTOPs a real leader: the built `RedisReplication` from
 * dist/ (`npm run build`), driven over the IPC channel. Arguments: Redis URL, key prefix, replica id, lease in ms.
 * It reports each leadership change and answers `publish` and `status` requests.
 */
const path = require('node:path');
const pino = require('pino');
const dist = path.join(__dirname, '..', '..', 'dist', 'redis');
const { RedisConnection } = require(path.join(dist, 'connection.js'));
const { RedisReplication } = require(path.join(dist, 'replication.js'));

const [url, keyPrefix, replicaId, leaseMs] = process.argv.slice(2);
const logger = pino({ level: 'silent' });
const connection = new RedisConnection({ url, keyPrefix }, logger);
const replication = new RedisReplication(connection, { replicaId, leaseMs: Number(leaseMs), logger });

replication.start({
  onLeadership: (leading) => process.send({ type: 'leadership', leading }),
  onPublished: () => undefined,
  onSyncRequested: () => undefined,
});

process.on('message', async (message) => {
  if (message.type === 'publish') {
    const result = await replication.publish(message.input).catch((err) => ({ error: err.message }));
    process.send({ type: 'published', result: result === false ? false : result.error ? result : { sequence: result.sequence, fence: result.fence } });
  } else if (message.type === 'status') {
    process.send({ type: 'status', leading: replication.leading(), role: replication.status().role });
  } else if (message.type === 'stop') {
    await replication.stop();
    await connection.close();
    process.exit(0);
  }
});
