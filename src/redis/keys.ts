/**
 * Every key and channel replicas share, under REDIS_KEY_PREFIX (`RedisConnection.key`). One table, so a reader sees
 * at once what a deployment keeps in Redis, and two parts of the code never disagree on a name.
 */
export const KEYS = {
  /** The Xero token chain (JSON: the stored token set, its previous refresh token and rotation time). */
  tokens: 'tokens',
  /** The lock around one refresh-token redemption: `<replicaId>#<fence>`, with a TTL. */
  tokensLock: 'tokens:lock',
  /** Fencing numbers of token locks (INCR). */
  tokensFence: 'tokens:fence',
  /** A custom connection's client-credentials access token (JSON), with a TTL until it expires. */
  tokensClientCredentials: 'tokens:client-credentials',
  /** The leader lease: `<replicaId>#<fence>`, with a TTL (LEADER_LEASE_SECONDS), renewed by the leader. */
  leader: 'leader',
  /** Fencing numbers of leases (INCR): a newer lease has a larger one. */
  leaderFence: 'leader:fence',
  /** The last published sync result (compressed), and its sequence number (a string, polled as a fallback). */
  directory: 'directory',
  directorySequence: 'directory:sequence',
  /** Pub/sub: a new sequence was published (message: the sequence). */
  directoryChannel: 'directory:published',
  /** Pub/sub (live mode): a follower asks the leader for a sync. */
  syncRequestChannel: 'sync:requested',
  /** Hash: replica id → JSON heartbeat (role, version served, time). */
  replicas: 'replicas',
  /** Hash: confirmation id → JSON operator confirmation (`xero-scim confirm-disconnect`). */
  confirmations: 'confirm-disconnect',
  /** An index crawl's pin: `pins:<crawl key>` → the snapshot version it reads, with a TTL. */
  pinPrefix: 'pins:',
} as const;
