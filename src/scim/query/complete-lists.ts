/**
 * Large complete answers (a whole list in one page: every group, say) are kept, up to `maxBytes` in all; the least
 * recently used go first. Pollers ask for the same list again and again; building it joins every resource into a new
 * Buffer, nearly a megabyte for 1,000 groups without members, and that garbage outside the heap is what drives the
 * collector. Pages of a longer list are not kept (a crawl reads each page once), nor are small answers (they cost
 * less to build than to hold). An answer is keyed by its set's `version` (which changes with the data, the view and
 * the base URL) and the query: after a new snapshot, the old answers are no longer asked for and age out.
 *
 * The cache spans snapshots, so it belongs to the app that serves them (one per SCIM router), not to a resource set.
 */
import type { JoinedList } from './search';

export const COMPLETE_LIST_CACHE = { minBytes: 64 * 1024, maxBytes: 32 * 1024 * 1024 } as const;

export class CompleteLists {
  readonly #entries = new Map<string, JoinedList>();
  #bytes = 0;

  get(key: string): JoinedList | undefined {
    const entry = this.#entries.get(key);
    if (entry) {
      this.#entries.delete(key);
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Whether an answer of `size` bytes is one to keep: large enough to be worth it, small enough for the budget. */
  keeps(size: number): boolean {
    return size >= COMPLETE_LIST_CACHE.minBytes && size <= COMPLETE_LIST_CACHE.maxBytes / 4;
  }

  /** Keeps `result` if it is large enough to be worth it, evicting the least recently used to stay in budget. */
  offer(key: string, result: JoinedList): void {
    const size = result.body.length;
    if (!this.keeps(size)) return;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes + size <= COMPLETE_LIST_CACHE.maxBytes) break;
      this.#entries.delete(oldest);
      this.#bytes -= entry.body.length;
    }
    this.#entries.set(key, result);
    this.#bytes += size;
  }

  /** Bytes of answers held now. */
  get bytes(): number {
    return this.#bytes;
  }
}
