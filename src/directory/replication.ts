/**
 * What the directory needs of a shared store to run as one of several replicas (`REDIS_URL`; `src/redis/`
 * implements it): a lease that elects the one replica that talks to Xero, and a place where that leader publishes
 * each sync's result for the others (followers) to load.
 *
 * Without a `Replication` the directory is what it always was: one process, its state in STATE_DIR.
 *
 * The rules it lets the directory keep:
 * - only the lease holder syncs (calls Xero, redeems refresh tokens); a follower makes no Xero call;
 * - a publish carries the lease's fencing number, and the store refuses it once another replica holds a newer
 *   lease, so a paused leader that wakes up cannot overwrite what its successor published;
 * - a follower builds its snapshot from exactly what the leader published (the same tenants, health and `builtAt`),
 *   so every replica serves the same bytes, and the same ETags, for one version;
 * - nothing empty is ever taken from the store as the truth: a store without a published state (flushed, new)
 *   leaves each replica serving what it holds until the next sync publishes.
 */
import type { PersistedDirectory } from './persistence';

/** One sync's result as the leader publishes it. */
export interface PublishedState {
  /** Increases with every publish (followers load a state once, in order); survives leader changes. */
  readonly sequence: number;
  /** `DirectorySnapshot.version` of the snapshot built from `state`. */
  readonly version: string;
  /** `DirectorySnapshot.builtAt` of the leader's snapshot: followers build theirs with the same instant. */
  readonly builtAt: string;
  /** Which replica published it, and under which lease (fencing number). */
  readonly publishedBy: string;
  readonly fence: number;
  /** The per-organisation data, health and guard state: the same form STATE_DIR keeps. */
  readonly state: PersistedDirectory;
}

export interface ReplicaInfo {
  readonly replicaId: string;
  readonly role: 'leader' | 'follower';
  /** The snapshot version this replica serves, if any. */
  readonly version?: string;
  /** ISO instant of its last heartbeat. */
  readonly seenAt: string;
}

export interface ReplicationStatus {
  readonly replicaId: string;
  readonly role: 'leader' | 'follower';
  /** The replica holding the lease, when known. */
  readonly leader?: string;
  /** The store's connection: `up`, `down` (serving what is held), or `connecting` (not reached yet). */
  readonly store: { readonly state: 'connecting' | 'up' | 'down'; readonly endpoint: string; readonly since: string; readonly lastError?: string };
  /** The replicas seen recently (heartbeats), this one included. */
  readonly replicas: readonly ReplicaInfo[];
  /** The published sequence this replica serves, loaded or published by it (as it last told `serving`). */
  readonly sequence?: number;
}

export interface ReplicationEvents {
  /** This replica gained (true) or lost (false) the lease. Lost also when it cannot renew it within the TTL. */
  onLeadership(leading: boolean): void;
  /** A publish was announced (pub/sub, or seen by polling the sequence): `fetchPublished` loads it. */
  onPublished(sequence: number): void;
  /** Live mode: a follower asks the leader for a sync (a read needed fresher data). */
  onSyncRequested(): void;
}

export interface Replication {
  readonly replicaId: string;
  /** Starts campaigning for the lease, heartbeating and listening for publishes. Never throws. */
  start(events: ReplicationEvents): void;
  /** Gives the lease up (if held) and stops. */
  stop(): Promise<void>;
  /** True while this replica holds an unexpired lease it has renewed. */
  leading(): boolean;
  /**
   * Stores and announces a sync's result, fenced: resolves false (storing nothing) when this replica no longer
   * holds the lease, and rejects when the store cannot be reached.
   */
  publish(state: Omit<PublishedState, 'sequence' | 'publishedBy' | 'fence'>): Promise<false | PublishedState>;
  /** The newest published state if its sequence is above `after`; undefined when there is none (or none newer). */
  fetchPublished(after?: number): Promise<PublishedState | undefined>;
  /** Live mode, on a follower: asks the leader for a sync; resolves once the request is sent. */
  requestSync(): Promise<void>;
  /** Tells the others which version this replica serves (shown on the status page). */
  serving(version: string | undefined, sequence: number | undefined): void;
  status(): ReplicationStatus;
}
