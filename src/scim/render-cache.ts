/**
 * The serialised resources a server keeps, within a budget of bytes: what pollers read again (the first pages, the
 * groups, a resource fetched by id) is served from memory; a crawl of a million users leaves in it the last of what
 * it read, within the budget, not the whole directory. The least recently read go first. A resource not held is
 * rendered again when read, to the same bytes and ETag (both are functions of the snapshot), so the budget trades
 * CPU for memory and never changes an answer.
 *
 * One cache per `ViewCache` (one per app), shared by every snapshot, view and type it serves: a new snapshot's
 * resources displace the old one's as they are read.
 */
import { getHeapStatistics } from 'node:v8';

/** What is kept of one resource once it has been serialised. */
export interface Serialised {
  readonly etag: string;
  /** The whole resource, once asked for. */
  readonly bytes?: Buffer;
  /** Group only, once asked for: the serialised resource without `members`. */
  readonly withoutMembers?: Buffer;
}

/**
 * The most a `ViewCache` keeps by default (SCIM_RENDER_CACHE_MB unset): every resource of a 100,000-user directory
 * (about 150 MiB serialised), and at a million users the pages and lookups pollers repeat rather than the whole
 * directory.
 */
export const MAX_DEFAULT_RENDER_CACHE_BYTES = 256 * 1024 * 1024;

/**
 * Bytes kept by default: an eighth of V8's heap limit, at most `MAX_DEFAULT_RENDER_CACHE_BYTES`. The bytes live
 * outside the heap, so the heap limit does not bound them; a process given a smaller heap (`--max-old-space-size`,
 * or a container's memory limit) is sized for less memory, and a crawl of a million users would otherwise add the
 * whole cache to its peak.
 */
export function defaultRenderCacheBytes(heapLimit: number = getHeapStatistics().heap_size_limit): number {
  return Math.min(MAX_DEFAULT_RENDER_CACHE_BYTES, Math.floor(heapLimit / 8));
}

/** A fixed cost per entry beside its bytes (the entry, its key and the map's slot), so many tiny entries are counted. */
const ENTRY_OVERHEAD = 160;

export class RenderCache {
  readonly #entries = new Map<number, Serialised>();
  #nextKey = 0;
  #bytes = 0;

  constructor(readonly maxBytes: number = defaultRenderCacheBytes()) {}

  /** The entry of `key`, marked as the most recently read. */
  /** `count` keys no other caller is given: a set reserves one per resource. */
  reserve(count: number): number {
    const first = this.#nextKey;
    this.#nextKey += count;
    return first;
  }

  get(key: number): Serialised | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Keeps `entry` for `key`, evicting the least recently read to stay within the budget. */
  set(key: number, entry: Serialised): void {
    const previous = this.#entries.get(key);
    if (previous !== undefined) {
      this.#entries.delete(key);
      this.#bytes -= sizeOf(previous);
    }
    const size = sizeOf(entry);
    if (size > this.maxBytes) return;
    this.#entries.set(key, entry);
    this.#bytes += size;
    if (this.#bytes > this.maxBytes) this.evict();
  }

  /**
   * Down to three quarters of the budget at once, oldest first. A map walked from its oldest entry passes every
   * entry deleted since its last rehash, so each walk is paid for by the thousands of insertions a quarter of the
   * budget takes, not by every insertion.
   */
  private evict(): void {
    const target = this.maxBytes * 0.75;
    for (const [oldest, held] of this.#entries) {
      if (this.#bytes <= target) break;
      this.#entries.delete(oldest);
      this.#bytes -= sizeOf(held);
    }
  }

  /** Bytes held, overhead included. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }
}

const sizeOf = (entry: Serialised): number => (entry.bytes?.length ?? 0) + (entry.withoutMembers?.length ?? 0) + ENTRY_OVERHEAD;
