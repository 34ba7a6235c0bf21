/**
 * Where a list request's page comes from: the snapshot it is read from, and its position in the query's ordered
 * matches. Index paging (RFC 7644 §3.4.2.4) stays the default; a `cursor` parameter (RFC 9865) selects cursor paging.
 *
 * - By index, a crawl's later pages come from the snapshot that answered its first page, pinned per credentials and
 *   query (`CrawlPins`). Offset paging carries nothing else, so a first page of the same query and page size with
 *   the same credentials starts the crawl afresh, on the newest snapshot.
 * - By cursor, the first page comes from the current snapshot, and each later page from the snapshot its cursor
 *   names, kept for `cursorTimeout` after the last page read from it: exact whatever else anyone reads, with no
 *   state tied to the client. A cursor whose snapshot is no longer kept is `expiredCursor`.
 *
 * Across replicas (a load balancer spreads a crawl's pages), every replica holds the last few snapshots by version
 * (`held`, from `Directory.snapshot`), all built alike from the leader's state. A cursor issued elsewhere is
 * answered from this replica's copy of its snapshot. An index crawl's pin is kept in the shared store too
 * (`SharedCrawlPins`): the store's word decides which snapshot a later page reads, and this replica's own pins
 * answer only when the store cannot (down, slow, or without the pin), so a store failure costs consistency across
 * replicas, never an answer.
 */
import type { DirectorySnapshot } from '../directory/model';
import { type Logger, silentLogger } from '../log';
import { expiredCursor, invalidCount, invalidCursor } from '../scim/errors';
import { CursorCodec } from '../scim/query/cursor';
import type { ListQuery } from '../scim/query/parameters';
import { byIndex, type PageLocation } from '../scim/query/search';
import { CrawlPins, type SharedCrawlPins } from './crawl-pins';
import { SharedPins } from './shared-pins';

export interface ListPage {
  readonly snapshot: DirectorySnapshot;
  readonly page: PageLocation;
  /**
   * Resolves once what this page pinned is in the shared store (at once when nothing was, or there is no store);
   * never rejects. Awaited before the page is sent, so the crawl's next page finds the pin whichever replica it
   * reaches.
   */
  stored(): Promise<void>;
}

export interface ListPagesOptions {
  /** The snapshot a new list reads (the directory's current one); throws when there is none yet. */
  readonly current: () => Promise<DirectorySnapshot>;
  /** How long a crawl keeps its first page's snapshot between pages, in ms; 0 = never. */
  readonly crawlPinMs: number;
  /** RFC 9865 `cursorTimeout`, in ms: how long a cursor stays valid after the page that issued it. */
  readonly cursorTimeoutMs: number;
  /** Shared by every replica that must verify the others' cursors. */
  readonly cursorSecret: string | Buffer;
  readonly clock: { now(): number };
  /** The snapshot of a version if this replica holds it (`Directory.snapshot`); default: none but the pinned ones. */
  readonly held?: (version: string) => DirectorySnapshot | undefined;
  /** Index crawls' pins shared with the other replicas; default: this replica's own only. */
  readonly sharedPins?: SharedCrawlPins;
  /** Where failures of the shared store are reported (at warn, rate-limited). */
  readonly logger?: Logger;
}

const NOTHING_STORED = (): Promise<void> => Promise.resolve();
const NOT_PINNED = { snapshot: undefined, share: false } as const;

/**
 * Snapshots cursors may name at once: the current one and those a swap left behind while a crawl read them. Each
 * is a whole directory in memory, so a cursor into an older one is `expiredCursor` (the crawl restarts) rather than
 * memory growing with every swap a slow crawler spans.
 */
const CURSOR_SNAPSHOTS = 4;

export class ListPages {
  private readonly crawlPins: CrawlPins | undefined;
  private readonly cursorPins: CrawlPins;
  private readonly codec: CursorCodec;
  private readonly sharedPins: SharedPins | undefined;
  private readonly held: (version: string) => DirectorySnapshot | undefined;

  constructor(private readonly options: ListPagesOptions) {
    this.crawlPins = options.crawlPinMs > 0 ? new CrawlPins(options.crawlPinMs, options.clock) : undefined;
    this.cursorPins = new CrawlPins(options.cursorTimeoutMs, options.clock, CURSOR_SNAPSHOTS);
    this.codec = new CursorCodec(options.cursorSecret);
    this.sharedPins = options.sharedPins && this.crawlPins ? new SharedPins(options.sharedPins, options.logger ?? silentLogger, options.clock) : undefined;
    this.held = options.held ?? (() => undefined);
  }

  /**
   * Index paging. `crawlKey` names the crawl (see `CrawlPins.key`); it is computed only when needed, and a list
   * that fits in one page (most lookups) costs no pin.
   */
  async byIndex(query: ListQuery, crawlKey: () => string): Promise<ListPage> {
    const pins = this.crawlPins;
    const key = pins && query.startIndex > 1 ? crawlKey() : undefined;
    const { snapshot: pinned, share } = key === undefined ? NOT_PINNED : await this.pinOf(key);
    const snapshot = pinned ?? (await this.options.current());
    const page = byIndex(query);
    const { sharedPins } = this;
    const ttlMs = this.options.crawlPinMs;
    let written: Promise<void> | undefined = share && key !== undefined ? sharedPins?.write(key, snapshot.version, ttlMs) : undefined;
    return {
      snapshot,
      page: {
        offset: page.offset,
        members(totalResults) {
          const more = query.count > 0 && totalResults > page.offset + query.count;
          if (pins && more && !pinned) {
            const crawl = key ?? crawlKey();
            pins.set(crawl, snapshot);
            written = sharedPins?.write(crawl, snapshot.version, ttlMs);
          }
          return page.members(totalResults);
        },
      },
      stored: () => written ?? NOTHING_STORED(),
    };
  }

  /**
   * The snapshot a crawl's later page reads, if the crawl is pinned. The shared store decides when it answers: a
   * replica's own pin may be left from an earlier crawl of the same key that began here, while the store has the
   * latest crawl's. This replica's own pin answers when the store cannot, or has no pin (the crawl began while it
   * was down): `share` then asks for the store to be given it.
   */
  private async pinOf(key: string): Promise<{ snapshot: DirectorySnapshot | undefined; share: boolean }> {
    const own = this.crawlPins?.get(key);
    const shared = await this.sharedPins?.read(key, this.options.crawlPinMs);
    if (shared?.version === undefined) return { snapshot: own, share: shared !== undefined && own !== undefined };
    if (own?.version === shared.version) return { snapshot: own, share: false };
    // Pinned on another replica (or re-pinned by a newer crawl of the same key): this replica's copy of the
    // snapshot, if it still holds it; else the page starts the crawl afresh, on the current snapshot.
    const copy = this.held(shared.version);
    if (copy) this.crawlPins?.set(key, copy);
    return { snapshot: copy, share: false };
  }

  /**
   * Cursor paging. `list` names the endpoint (view and resource type); with the query's filter and order it makes
   * the cursor's scope: a cursor is honoured only for the query it was issued for, and only at the page size it was
   * issued for (RFC 9865 §2.1).
   */
  async byCursor(query: ListQuery, cursor: string, list: string): Promise<ListPage> {
    const { codec } = this;
    const scope = CursorCodec.scope([list, query.filter, query.sortBy, query.sortOrder]);
    let snapshot: DirectorySnapshot;
    let offset = 0;
    if (cursor === '') snapshot = await this.options.current();
    else {
      const position = codec.decode(cursor);
      if (position.scope !== scope) {
        throw invalidCursor('The cursor belongs to another query: page with the same endpoint, filter, sortBy and sortOrder as the first page.');
      }
      if (position.count !== query.count) {
        throw invalidCount(`The cursor was issued for pages of ${position.count}: send the count of the first page with every later page.`);
      }
      // Issued here or on another replica: any copy of its snapshot answers it exactly.
      snapshot = this.cursorPins.get(position.version) ?? this.held(position.version) ?? (await this.currentIf(position.version));
      offset = position.offset;
    }
    // Every cursor page keeps its snapshot (a 304 too: the client reuses the cursors of the body it holds), so the
    // cursors it hands out stay good for cursorTimeout whatever is published meanwhile.
    if (query.count > 0) this.cursorPins.set(snapshot.version, snapshot);
    const { count } = query;
    const version = snapshot.version;
    return {
      snapshot,
      page: {
        offset,
        members(totalResults) {
          if (count === 0) return {};
          const at = (to: number) => codec.encode({ version, offset: to, count, scope });
          return {
            ...(offset > 0 ? { previousCursor: at(Math.max(0, offset - count)) } : {}),
            ...(offset + count < totalResults ? { nextCursor: at(offset + count) } : {}),
          };
        },
      },
      stored: NOTHING_STORED,
    };
  }

  /** RFC 9865 `cursorTimeout`, as ServiceProviderConfig advertises it. */
  get cursorTimeoutSeconds(): number {
    return Math.round(this.options.cursorTimeoutMs / 1000);
  }

  private async currentIf(version: string): Promise<DirectorySnapshot> {
    const current = await this.options.current();
    if (current.version !== version) {
      throw expiredCursor(`The cursor has expired: its snapshot of the directory is no longer kept (cursorTimeout is ${this.cursorTimeoutSeconds} s). Start again with an empty cursor.`);
    }
    return current;
  }
}
