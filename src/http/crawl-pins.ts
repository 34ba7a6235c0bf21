/**
 * Snapshots kept for crawls still reading them, so that every page of a crawl comes from one snapshot however many
 * swaps happen meanwhile. Two kinds of crawl pin a snapshot here (`ListPages` holds one `CrawlPins` for each):
 *
 * - Index paging (RFC 7644 §3.4.2.4) is by offset: if a swap removes a resource before a crawler's position, every
 *   later resource shifts left and one is never seen. The snapshot that answered a list's first page is pinned
 *   under the crawl's key (`CrawlPins.key`: the credentials and the whole query but `startIndex`), and later pages
 *   of the same query are answered from it.
 * - Cursor paging (RFC 9865): a cursor names its snapshot by version, and the snapshot is pinned under its version
 *   while cursors into it are in use.
 *
 * A pin expires after `ttlMs` without use, and at most `capacity` pins are kept (the least recently used go first).
 *
 * Replicas behind one load balancer also share index crawls' pins through a `SharedCrawlPins` store (Redis), which
 * holds only the version: each replica answers from its own copy of that snapshot (`Directory.snapshot`).
 */
import { createHash } from 'node:crypto';
import type { DirectorySnapshot } from '../directory/model';

/**
 * Index crawls' pins shared by every replica: crawl key (`CrawlPins.key`, a hash) → the version its first page was
 * read from. Either call may reject (the store is down); `ListPages` then falls back to the replica's own pins.
 */
export interface SharedCrawlPins {
  /** The version a crawl is pinned to, if the pin has not expired, extending it to `ttlMs` from now. */
  get(key: string, ttlMs: number): Promise<string | undefined>;
  /** Pins a crawl to `version` for `ttlMs` (replacing any pin it had). */
  set(key: string, version: string, ttlMs: number): Promise<void>;
}

export class CrawlPins {
  private readonly pins = new Map<string, { snapshot: DirectorySnapshot; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: { now(): number },
    private readonly capacity = 256,
  ) {}

  /**
   * An index crawl's key; the credentials are hashed so no secret is held in memory longer than the request. The
   * page size is part of it: Okta's and Entra's `count=1` checks of the query a crawl is reading start no crawl of
   * theirs over it.
   */
  static key(credentials: string, path: string, queryWithoutStartIndex: unknown): string {
    return createHash('sha256').update(credentials).update('\0').update(path).update('\0').update(JSON.stringify(queryWithoutStartIndex)).digest('base64url');
  }

  /** The pinned snapshot of a crawl still in progress, refreshing its expiry; undefined if none. */
  get(key: string): DirectorySnapshot | undefined {
    const pin = this.pins.get(key);
    if (!pin) return undefined;
    const now = this.clock.now();
    this.pins.delete(key);
    if (pin.expires <= now) return undefined;
    this.pins.set(key, { snapshot: pin.snapshot, expires: now + this.ttlMs });
    return pin.snapshot;
  }

  /** Pins the snapshot a crawl reads. */
  set(key: string, snapshot: DirectorySnapshot): void {
    this.pins.delete(key);
    this.pins.set(key, { snapshot, expires: this.clock.now() + this.ttlMs });
    while (this.pins.size > this.capacity) this.pins.delete(this.pins.keys().next().value as string);
  }
}
