/**
 * The snapshot SCIM reads are served from, and the one rule for replacing it: a new snapshot is built only when the
 * content changed, so an unchanged directory keeps the same object (and its ETags) from sync to sync.
 *
 * It also remembers the last few snapshots it held, by version. Behind a load balancer a crawl's pages land on any
 * replica, and every replica builds the same snapshot (same version, same `builtAt`) from what the leader published:
 * a page whose crawl began on another replica is answered from the snapshot that began it, if this one remembers it.
 *
 * A swapped-out snapshot is remembered by what it was built from (its tenants and `builtAt`), not held: a whole
 * snapshot with its rendered views costs tens of MiB at a thousand organisations, its data a small part of that,
 * shared with the next snapshot for every organisation that did not change. While something else still holds it (a
 * crawl's pin) the same object is returned; once it is gone it is built again, byte for byte the same.
 */
import { isoTime } from '../xero/clock';
import type { DirectorySnapshot, TenantData } from './model';
import { type Steps, runInSlices, runToEnd } from './slices';
import { type KnownDerivations, buildSnapshot, snapshotSteps, snapshotVersion, versionSteps } from './snapshot';

/**
 * Snapshots remembered by version, the current one included. A crawl that spans more publishes than this is
 * answered as a new one (a cursor: `expiredCursor`) by a replica that did not pin its snapshot itself.
 */
export const RECENT_SNAPSHOTS = 4;

/** What rebuilds a swapped-out snapshot, and the snapshot itself while anything holds it. */
interface Remembered {
  readonly tenants: readonly TenantData[];
  readonly builtAt: string;
  built: WeakRef<DirectorySnapshot>;
}

export class PublishedSnapshot {
  private snapshot: DirectorySnapshot | undefined;
  /** version → how to have it again, oldest first; the current one is the last. */
  private readonly recent = new Map<string, Remembered>();

  current(): DirectorySnapshot | undefined {
    return this.snapshot;
  }

  /** The snapshot of `version`, if it is the current one or one of the last `RECENT_SNAPSHOTS` held. */
  byVersion(version: string): DirectorySnapshot | undefined {
    if (this.snapshot?.version === version) return this.snapshot;
    const remembered = this.recent.get(version);
    if (!remembered) return undefined;
    let snapshot = remembered.built.deref();
    if (!snapshot) remembered.built = new WeakRef((snapshot = buildSnapshot(remembered.tenants, remembered.builtAt)));
    return snapshot;
  }

  /** Swaps in a snapshot of `data` (sorted by organisation id) unless the content is unchanged; true when it did. */
  publish(data: readonly TenantData[], builtAt: number): boolean {
    return runToEnd(this.publishSteps(data, builtAt));
  }

  /**
   * `publish`, hashing and building in slices with turns of the event loop between them, as a sync does: reads are
   * answered from the current snapshot until the new one is swapped in. One publish at a time (a sync pass makes it).
   */
  publishInSlices(data: readonly TenantData[], builtAt: number, sliceMs?: number): Promise<boolean> {
    return runInSlices(this.publishSteps(data, builtAt), sliceMs);
  }

  private *publishSteps(data: readonly TenantData[], builtAt: number): Steps<boolean> {
    // Hashing the content costs a fraction of a build: an unchanged directory (the usual sync) builds nothing.
    const version = yield* versionSteps(data);
    if (this.snapshot && this.snapshot.version === version) return false;
    this.swap(yield* snapshotSteps(data, isoTime(builtAt), { version }));
    return true;
  }

  /**
   * The snapshot of a state another replica published, built with that replica's `builtAt` so both serve the same
   * bytes; the same object is kept when the content is unchanged. `version`: the publisher's, when `data` is exactly
   * what it published (no allow-list of this replica's own took anything away).
   */
  adopt(data: readonly TenantData[], builtAt: string, version?: string): DirectorySnapshot {
    // A new build has a new `builtAt`: compared first, it spares hashing the content of every changed state.
    if (this.snapshot && this.snapshot.builtAt === builtAt) {
      version ??= snapshotVersion(data);
      if (this.snapshot.version === version) return this.snapshot;
    }
    return this.swap(buildSnapshot(data, builtAt, { version }));
  }

  /**
   * The snapshot of a state loaded from STATE_DIR, built as it was saved; `known`: the version and people saved with
   * it, when they are of exactly `data`.
   */
  restore(data: readonly TenantData[], savedAt: string, known: KnownDerivations = {}): DirectorySnapshot {
    return this.swap(buildSnapshot(data, savedAt, known));
  }

  private swap(snapshot: DirectorySnapshot): DirectorySnapshot {
    this.snapshot = snapshot;
    this.recent.delete(snapshot.version);
    this.recent.set(snapshot.version, { tenants: snapshot.tenants, builtAt: snapshot.builtAt, built: new WeakRef(snapshot) });
    while (this.recent.size > RECENT_SNAPSHOTS) this.recent.delete(this.recent.keys().next().value as string);
    return snapshot;
  }
}
