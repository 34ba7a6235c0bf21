/**
 * The snapshot SCIM reads are served from, and the one rule for replacing it: a new snapshot is built only when the
 * content changed, so an unchanged directory keeps the same object (and its ETags) from sync to sync.
 */
import { isoTime } from '../xero/clock';
import type { DirectorySnapshot, TenantData } from './model';
import { buildSnapshot, snapshotVersion } from './snapshot';

export class PublishedSnapshot {
  private snapshot: DirectorySnapshot | undefined;

  current(): DirectorySnapshot | undefined {
    return this.snapshot;
  }

  /** Swaps in a snapshot of `data` (sorted by organisation id) unless the content is unchanged; true when it did. */
  publish(data: readonly TenantData[], builtAt: number): boolean {
    // Hashing the content costs a fraction of a build: an unchanged directory (the usual sync) builds nothing.
    if (this.snapshot && this.snapshot.version === snapshotVersion(data)) return false;
    this.snapshot = buildSnapshot(data, isoTime(builtAt));
    return true;
  }

  /**
   * The snapshot of a state another replica published, built with that replica's `builtAt` so both serve the same
   * bytes; the same object is kept when the content is unchanged.
   */
  adopt(data: readonly TenantData[], builtAt: string): DirectorySnapshot {
    if (this.snapshot && this.snapshot.version === snapshotVersion(data) && this.snapshot.builtAt === builtAt) return this.snapshot;
    this.snapshot = buildSnapshot(data, builtAt);
    return this.snapshot;
  }

  /** The snapshot of a state loaded from STATE_DIR, built as it was saved. */
  restore(data: readonly TenantData[], savedAt: string): DirectorySnapshot {
    this.snapshot = buildSnapshot(data, savedAt);
    return this.snapshot;
  }
}
