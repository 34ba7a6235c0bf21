/**
 * Consistent paging across snapshot swaps. RFC 7644 §3.4.2.4 paging is by offset, so if a snapshot swap removes
 * a resource before a crawler's cursor, every later resource shifts left and one is never seen. To prevent that,
 * the snapshot that answered a list's first page is remembered ("pinned") for that client and query, and later
 * pages of the same query are answered from it while the crawl keeps going.
 *
 * A pin is keyed by a digest of the credentials and the query without `startIndex`/`count`; it expires after
 * `ttlMs` without use, and at most `capacity` pins are kept (the least recently used go first).
 */
import { createHash } from 'node:crypto';
import type { DirectorySnapshot } from '../directory/model';

export class CrawlPins {
  private readonly pins = new Map<string, { snapshot: DirectorySnapshot; expires: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly clock: { now(): number },
    private readonly capacity = 256,
  ) {}

  /** The key of a crawl; the credentials are hashed so no secret is held in memory longer than the request. */
  static key(credentials: string, path: string, query: unknown): string {
    return createHash('sha256').update(credentials).update('\0').update(path).update('\0').update(JSON.stringify(query)).digest('base64url');
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

  /** Pins the snapshot that answered a crawl's first page. */
  set(key: string, snapshot: DirectorySnapshot): void {
    this.pins.delete(key);
    this.pins.set(key, { snapshot, expires: this.clock.now() + this.ttlMs });
    while (this.pins.size > this.capacity) this.pins.delete(this.pins.keys().next().value as string);
  }
}
