/**
 * The snapshot SCIM reads are served from, and the one rule for replacing it: a new snapshot is built only when the
 * content changed, so an unchanged directory keeps the same object (and its ETags) from sync to sync.
 *
 * It also remembers the last few snapshots it held, by version. Behind a load balancer a crawl's pages land on any
 * replica, and every replica builds the same snapshot (same version, same `builtAt`) from what the leader published:
 * a page whose crawl began on another replica is answered from the snapshot that began it, if this one still holds it.
 */
import { isoTime } from '../xero/clock';
import type { DirectorySnapshot, TenantData } from './model';
import { buildSnapshot, snapshotVersion } from './snapshot';

/**
 * Snapshots remembered by version, the current one included. Each is a whole directory in memory, so a crawl that
 * spans more publishes than this is answered as a new one (a cursor: `expiredCursor`), as one replica answers it.
 */
export const RECENT_SNAPSHOTS = 4;

export class PublishedSnapshot {
  private snapshot: DirectorySnapshot | undefined;
  /** version → snapshot, oldest first; the current one is the last. */
  private readonly recent = new Map<string, DirectorySnapshot>();

  current(): DirectorySnapshot | undefined {
    return this.snapshot;
  }

  /** The snapshot of `version`, if it is the current one or one of the last `RECENT_SNAPSHOTS` held. */
  byVersion(version: string): DirectorySnapshot | undefined {
    return this.recent.get(version);
  }

  /** Swaps in a snapshot of `data` (sorted by organisation id) unless the content is unchanged; true when it did. */
  publish(data: readonly TenantData[], builtAt: number): boolean {
    // Hashing the content costs a fraction of a build: an unchanged directory (the usual sync) builds nothing.
    if (this.snapshot && this.snapshot.version === snapshotVersion(data)) return false;
    this.swap(buildSnapshot(data, isoTime(builtAt)));
    return true;
  }

  /** The snapshot of a state loaded from STATE_DIR, built as it was saved. */
  restore(data: readonly TenantData[], savedAt: string): DirectorySnapshot {
    return this.swap(buildSnapshot(data, savedAt));
  }

  private swap(snapshot: DirectorySnapshot): DirectorySnapshot {
    this.snapshot = snapshot;
    this.recent.delete(snapshot.version);
    this.recent.set(snapshot.version, snapshot);
    while (this.recent.size > RECENT_SNAPSHOTS) this.recent.delete(this.recent.keys().next().value as string);
    return snapshot;
  }
}
