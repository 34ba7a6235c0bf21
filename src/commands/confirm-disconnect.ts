/**
 * `xero-scim confirm-disconnect <tenantId>… | --all`: an operator confirms removals the guard holds back
 * (`src/directory/guard.ts`). It reads the held suspicions from the server's STATE_DIR and leaves a confirmation
 * there; the server's next sync that still gets the removing answer from Xero applies it. With REDIS_URL (replicas)
 * both are in Redis: the suspicions of the newest published state, and a confirmation whichever replica leads reads.
 */
import type { Config } from '../config';
import { type ConfirmationStore, FileConfirmationStore } from '../directory/confirmations';
import { FileSnapshotStore, type PersistedDirectory } from '../directory/persistence';
import { silentLogger } from '../log';
import { RedisConfirmationStore } from '../redis/confirmations';
import type { RedisConnection } from '../redis/connection';
import { RedisReplication } from '../redis/replication';
import { isoTime } from '../xero/clock';
import { connectRedisFor } from './redis';

export interface ConfirmDisconnectOptions {
  readonly tenantIds: readonly string[];
  readonly all: boolean;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly now?: () => number;
}

/** Where the held suspicions are read and the confirmation is left: STATE_DIR, or the shared Redis. */
interface Place {
  readonly state: PersistedDirectory | undefined;
  readonly store: ConfirmationStore;
  /** Where the state would be, for the error without one; where the confirmation went, for the receipt. */
  readonly missing: string;
  readonly recorded: string;
}

async function fromRedis(config: Config, connection: RedisConnection): Promise<Place> {
  const replication = new RedisReplication(connection, { replicaId: 'confirm-disconnect', leaseMs: config.leaderLeaseSeconds * 1000, logger: silentLogger });
  const published = await replication.fetchPublished();
  return {
    state: published?.state,
    store: new RedisConfirmationStore(connection),
    missing: `no published directory state in Redis at ${connection.endpoint} (REDIS_KEY_PREFIX ${config.redisKeyPrefix}): run it with the servers' REDIS_URL and REDIS_KEY_PREFIX once a replica has synced`,
    recorded: `Redis at ${connection.endpoint}`,
  };
}

function fromStateDir(config: Config): Promise<Place> {
  const store = new FileConfirmationStore(config.stateDir);
  return new FileSnapshotStore(config.stateDir).load().then((state) => ({
    state,
    store,
    missing: `no directory state in ${config.stateDir}: run it with the server's STATE_DIR (e.g. inside its container)`,
    recorded: store.dir,
  }));
}

/** Exit codes: 0 recorded (or nothing held back with `--all`), 2 a tenant id that is not held back, 1 no state. */
export async function runConfirmDisconnect(config: Config, options: ConfirmDisconnectOptions): Promise<number> {
  const redis = await connectRedisFor(config);
  try {
    return await confirm(redis ? await fromRedis(config, redis) : await fromStateDir(config), options);
  } finally {
    await redis?.close();
  }
}

async function confirm(place: Place, options: ConfirmDisconnectOptions): Promise<number> {
  const { state } = place;
  if (!state) {
    options.err(`xero-scim confirm-disconnect: ${place.missing}`);
    return 1;
  }
  const held = state.suspicions ?? {};
  const names = new Map(state.tenants.map((t) => [t.organisation.id, t.organisation.name]));
  const describe = (id: string): string => {
    const s = held[id]!;
    return `  ${names.get(id) ?? id} (${id}): ${s.reason} since ${s.since}, ${s.answers} answer${s.answers === 1 ? '' : 's'}`;
  };
  const ids = options.all ? Object.keys(held).sort() : [...new Set(options.tenantIds.map((id) => id.trim().toLowerCase()))];
  const unknown = ids.filter((id) => held[id] === undefined);
  if (unknown.length > 0) {
    options.err(`xero-scim confirm-disconnect: not held back as of the last sync (${state.savedAt}): ${unknown.join(', ')}`);
    const all = Object.keys(held).sort();
    options.err(all.length > 0 ? ['Held back:', ...all.map(describe)].join('\n') : 'Nothing is held back.');
    return 2;
  }
  if (ids.length === 0) {
    options.out(`Nothing to confirm: no removal is held back as of the last sync (${state.savedAt}).`);
    return 0;
  }
  const at = isoTime((options.now ?? Date.now)());
  await place.store.add({ tenantIds: ids, at });
  options.out(
    [
      `Confirmed the removal of ${ids.length} organisation${ids.length === 1 ? '' : 's'}:`,
      ...ids.map(describe),
      `Recorded in ${place.recorded}. The server's next sync applies it if Xero still leaves them out (or their Users empty);`,
      'one that came back meanwhile stays, and its confirmation lapses.',
    ].join('\n'),
  );
  return 0;
}
