/**
 * An in-memory `Replication` (src/directory/replication.ts) for tests of the directory's replicated rules without
 * Redis: a hub that elects one leader among in-process replicas, keeps the published states, and announces
 * publishes, leadership and sync requests asynchronously, as pub/sub would.
 *
 * It keeps the contract's hard parts: a replica believes it leads until it is told otherwise (`leading()` is its
 * own view, as a renewed lease is), and a publish carries the fence of the lease it was granted, so a replica
 * deposed without knowing it (`depose({ tell: false })`) is refused. `down` makes every store call reject, as an
 * unreachable Redis does; `flush()` loses every published state and restarts the sequence.
 */
import type { PublishedState, Replication, ReplicationEvents, ReplicationStatus, ReplicaInfo } from '../../src/directory/replication';

const later = (fn: () => void): void => void setImmediate(fn);

export class ReplicationHub {
  /** The lease: who holds it and its fencing number. */
  private lease: { holder: string; fence: number } | undefined;
  private fences = 0;
  private sequence = 0;
  private newest: PublishedState | undefined;
  private readonly members = new Map<string, HubReplica>();
  /** Every store call rejects while true. */
  down = false;
  /** Every accepted publish, in order. */
  readonly publishes: PublishedState[] = [];
  /** Sync requests the leader was told of. */
  syncRequests = 0;

  replica(replicaId: string): HubReplica {
    const replica = new HubReplica(replicaId, this);
    this.members.set(replicaId, replica);
    return replica;
  }

  leader(): string | undefined {
    return this.lease?.holder;
  }

  /** The newest published state (what a new replica would load). */
  published(): PublishedState | undefined {
    return this.newest;
  }

  /** Moves the lease to `to` (default: the next started replica), telling the old holder unless `tell` is false. */
  depose(options: { to?: string; tell?: boolean } = {}): void {
    const old = this.lease ? this.members.get(this.lease.holder) : undefined;
    this.lease = undefined;
    if (old && options.tell !== false) old.told(false, 0);
    this.elect(options.to, old?.replicaId);
  }

  /** Tells every started replica of `sequence` (as a polling fallback would), whatever the store holds. */
  announce(sequence: number): void {
    for (const m of this.members.values()) if (m.started) later(() => m.events?.onPublished(sequence));
  }

  /** The store lost its data: no published state, and the sequence counts from 0 again. */
  flush(): void {
    this.newest = undefined;
    this.sequence = 0;
  }

  /** @internal */
  join(replica: HubReplica): void {
    if (!this.lease) this.elect(replica.replicaId);
  }

  /** @internal */
  leave(replica: HubReplica): void {
    replica.started = false;
    if (this.lease?.holder === replica.replicaId) {
      this.lease = undefined;
      this.elect(undefined, replica.replicaId);
    }
  }

  /** @internal */
  publish(replica: HubReplica, fence: number, state: Omit<PublishedState, 'sequence' | 'publishedBy' | 'fence'>): false | PublishedState {
    this.check();
    if (!this.lease || this.lease.holder !== replica.replicaId || this.lease.fence !== fence) return false;
    const published: PublishedState = { ...overTheWire(state), sequence: ++this.sequence, publishedBy: replica.replicaId, fence };
    this.newest = published;
    this.publishes.push(published);
    for (const m of this.members.values()) if (m.started) later(() => m.events?.onPublished(published.sequence));
    return overTheWire(published);
  }

  /** @internal */
  fetch(after: number | undefined): PublishedState | undefined {
    this.check();
    if (!this.newest || this.newest.sequence <= (after ?? 0)) return undefined;
    return overTheWire(this.newest);
  }

  /** @internal */
  requestSync(): void {
    this.check();
    const leader = this.lease ? this.members.get(this.lease.holder) : undefined;
    if (leader) {
      this.syncRequests++;
      later(() => leader.events?.onSyncRequested());
    }
  }

  /** @internal */
  status(replica: HubReplica): ReplicationStatus {
    const replicas: ReplicaInfo[] = [...this.members.values()]
      .filter((m) => m.started)
      .map((m) => ({
        replicaId: m.replicaId,
        role: m.leading() ? 'leader' : 'follower',
        ...(m.version ? { version: m.version } : {}),
        seenAt: new Date(0).toISOString(),
      }));
    return {
      replicaId: replica.replicaId,
      role: replica.leading() ? 'leader' : 'follower',
      ...(this.lease ? { leader: this.lease.holder } : {}),
      store: { state: this.down ? 'down' : 'up', endpoint: 'memory', since: new Date(0).toISOString() },
      replicas,
      ...(replica.sequence === undefined ? {} : { sequence: replica.sequence }),
    };
  }

  private elect(preferred: string | undefined, except?: string): void {
    const candidates = [...this.members.values()].filter((m) => m.started && m.replicaId !== except);
    const next = candidates.find((m) => m.replicaId === preferred) ?? candidates[0];
    if (!next) return;
    this.lease = { holder: next.replicaId, fence: ++this.fences };
    next.told(true, this.lease.fence);
  }

  private check(): void {
    if (this.down) throw new Error('the store is down');
  }
}

export class HubReplica implements Replication {
  events: ReplicationEvents | undefined;
  started = false;
  version: string | undefined;
  sequence: number | undefined;
  /** Its own view of the lease: set when told, as a real replica's renewed lease is. */
  private fence = 0;
  private believesLeading = false;

  constructor(
    readonly replicaId: string,
    private readonly hub: ReplicationHub,
  ) {}

  start(events: ReplicationEvents): void {
    this.events = events;
    this.started = true;
    this.hub.join(this);
  }

  async stop(): Promise<void> {
    this.believesLeading = false;
    this.hub.leave(this);
  }

  leading(): boolean {
    return this.believesLeading;
  }

  /** @internal The hub tells it of a lease gained or lost (asynchronously, as a renewal loop would notice). */
  told(leading: boolean, fence: number): void {
    if (leading) this.fence = fence;
    later(() => {
      this.believesLeading = leading;
      this.events?.onLeadership(leading);
    });
  }

  async publish(state: Omit<PublishedState, 'sequence' | 'publishedBy' | 'fence'>): Promise<false | PublishedState> {
    return this.hub.publish(this, this.fence, state);
  }

  async fetchPublished(after?: number): Promise<PublishedState | undefined> {
    return this.hub.fetch(after);
  }

  async requestSync(): Promise<void> {
    this.hub.requestSync();
  }

  serving(version: string | undefined, sequence: number | undefined): void {
    this.version = version;
    this.sequence = sequence;
  }

  status(): ReplicationStatus {
    return this.hub.status(this);
  }
}

/** What a replica reads back of what another wrote: Redis carries the state as JSON, so each gets a copy of that. */
function overTheWire<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
