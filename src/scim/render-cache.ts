/**
 * The serialised resources a server keeps, within a budget of bytes: what pollers read again (the first pages, the
 * groups, a resource fetched by id) is served from memory. A resource is kept the second time it is serialised, not
 * the first (see `set`), so a crawl of a million users, which reads each once, neither fills the budget nor displaces
 * what pollers repeat. What has not been read for longest goes first (see `evict`). A resource not held is rendered
 * again when read, to the same bytes and ETag (both are functions of the snapshot), so the budget trades CPU for
 * memory and never changes an answer.
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

/**
 * Keys remembered as serialised once, as bits of a table indexed by the key's low bits (a set's keys are consecutive,
 * so they spread evenly; two keys that share a bit only mean one resource is kept at its first serialisation).
 * 2^20 bits is 128 KiB. The table is cleared once half its bits have been set, so a resource must be read again within
 * about half a million first reads of others to be kept.
 */
const SEEN_BITS = 2 ** 20;

/** A fixed cost per entry beside its bytes (the entry, its key and the map's slot), so many tiny entries are counted. */
const ENTRY_OVERHEAD = 160;

/** An entry with its mark: read since the last eviction passed it. */
interface Slot {
  entry: Serialised;
  read: boolean;
}

export class RenderCache {
  /** Oldest first: in the order entries were kept, or last moved by an eviction pass. */
  readonly #slots = new Map<number, Slot>();
  readonly #seen = new Uint32Array(SEEN_BITS / 32);
  #seenCount = 0;
  #nextKey = 0;
  #bytes = 0;

  constructor(readonly maxBytes: number = defaultRenderCacheBytes()) {}

  /** `count` keys no other caller is given: a set reserves one per resource. */
  reserve(count: number): number {
    const first = this.#nextKey;
    this.#nextKey += count;
    return first;
  }

  /**
   * The entry of `key`, marked as read. A mark, not a move to the end of the map: every lookup reads here, and a
   * delete and an insert would grow the map's table until it is rehashed (BENCHMARKS.md, "The render cache").
   */
  get(key: number): Serialised | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    slot.read = true;
    return slot.entry;
  }

  /**
   * Offers `entry` for `key`, evicting what was read longest ago to stay within the budget. A key not held is kept
   * only when it was offered before (within the window `SEEN_BITS` describes): the first offer is remembered, not
   * kept. A key held is replaced.
   */
  set(key: number, entry: Serialised): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.update(key, slot, entry);
    else if (this.seenBefore(key)) this.add(key, entry);
  }

  /** Replaces the entry of `key` if it is held (a group's serialised forms are added one at a time); no offer. */
  replace(key: number, entry: Serialised): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined) this.update(key, slot, entry);
  }

  private add(key: number, entry: Serialised): void {
    const size = sizeOf(entry);
    if (size > this.maxBytes) return;
    this.#slots.set(key, { entry, read: false });
    this.#bytes += size;
    if (this.#bytes > this.maxBytes) this.evict();
  }

  /** A held entry replaced where it stands, keeping its mark. */
  private update(key: number, slot: Slot, entry: Serialised): void {
    this.#bytes -= sizeOf(slot.entry);
    const size = sizeOf(entry);
    if (size > this.maxBytes) {
      this.#slots.delete(key);
      return;
    }
    slot.entry = entry;
    this.#bytes += size;
    if (this.#bytes > this.maxBytes) this.evict();
  }

  /** Whether `key` was offered before; remembers that it now has been. */
  private seenBefore(key: number): boolean {
    const bit = key % SEEN_BITS;
    const word = bit >>> 5;
    const mask = 1 << (bit & 31);
    if ((this.#seen[word]! & mask) !== 0) return true;
    this.#seen[word]! |= mask;
    if (++this.#seenCount >= SEEN_BITS / 2) {
      this.#seen.fill(0);
      this.#seenCount = 0;
    }
    return false;
  }

  /**
   * Down to three quarters of the budget at once, oldest first, giving every entry read since the last pass a second
   * chance (the CLOCK approximation of least-recently-used): it loses its mark and moves to the end, and goes at a
   * later pass unless it is read again by then. A map walked from its oldest entry passes every entry deleted since
   * its last rehash, so each walk is paid for by the thousands of insertions a quarter of the budget takes, not by
   * every insertion. The walk ends: an entry it moves has lost its mark, so it is evicted if the walk reaches it again.
   */
  private evict(): void {
    const target = this.maxBytes * 0.75;
    for (const [oldest, slot] of this.#slots) {
      if (this.#bytes <= target) break;
      this.#slots.delete(oldest);
      if (slot.read) {
        slot.read = false;
        this.#slots.set(oldest, slot);
      } else this.#bytes -= sizeOf(slot.entry);
    }
  }

  /** Bytes held, overhead included. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#slots.size;
  }
}

const sizeOf = (entry: Serialised): number => (entry.bytes?.length ?? 0) + (entry.withoutMembers?.length ?? 0) + ENTRY_OVERHEAD;
