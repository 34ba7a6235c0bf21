/**
 * The serialised resources an app keeps stay within their budget; a resource is kept the second time it is
 * serialised, so a crawl that reads each once keeps nothing; what is read again is what stays.
 */
import { getHeapStatistics } from 'node:v8';
import { RenderCache, defaultRenderCacheBytes } from '../../src/scim/render-cache';

const entry = (kib: number) => ({ etag: 'W/"x"', bytes: Buffer.alloc(kib * 1024) });

/** Offered twice, as two reads of a resource not held would: kept. */
const keep = (cache: RenderCache, key: number, value: ReturnType<typeof entry>) => {
  cache.set(key, value);
  cache.set(key, value);
};

describe('the render cache', () => {
  it('keeps a resource the second time it is offered, not the first, so a crawl that reads each once keeps nothing', () => {
    const cache = new RenderCache(1024 * 1024);
    for (let key = 0; key < 50; key++) cache.set(key, entry(1));
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
    cache.set(7, entry(1));
    expect(cache.get(7)).toBeDefined();
    expect(cache.get(8)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  it('forgets first offers after half its table of them, so a resource must be read again within that window', () => {
    const cache = new RenderCache(1024 * 1024);
    cache.set(0, entry(0));
    // 2^19 first offers of other keys clear the table that remembered key 0.
    for (let key = 1; key <= 2 ** 19; key++) cache.set(key, entry(0));
    cache.set(0, entry(0));
    expect(cache.get(0)).toBeUndefined();
    cache.set(0, entry(0));
    expect(cache.get(0)).toBeDefined();
  });

  it('adds to an entry it holds without counting a read, and adds nothing to one it does not hold', () => {
    const cache = new RenderCache(1024 * 1024);
    cache.set(1, entry(1));
    cache.replace(1, entry(2));
    expect(cache.size).toBe(0);
    keep(cache, 2, entry(1));
    cache.replace(2, { ...entry(1), withoutMembers: Buffer.alloc(512) });
    expect(cache.get(2)?.withoutMembers?.length).toBe(512);
  });

  it('stays within its budget, evicting what was read longest ago first', () => {
    const cache = new RenderCache(100 * 1024);
    for (let key = 0; key < 9; key++) keep(cache, key, entry(10));
    cache.get(0); // read again: it survives the next eviction
    for (let key = 9; key < 40; key++) {
      keep(cache, key, entry(10));
      if (key % 3 === 0) cache.get(0);
      expect(cache.bytes).toBeLessThanOrEqual(100 * 1024);
    }
    expect(cache.get(0)).toBeDefined();
    expect(cache.get(1)).toBeUndefined();
    expect(cache.get(39)).toBeDefined();
  });

  it('keeps nothing larger than its budget, and nothing at all with a budget of 0', () => {
    const cache = new RenderCache(4096);
    keep(cache, 1, entry(8));
    expect(cache.size).toBe(0);
    const none = new RenderCache(0);
    keep(none, 1, entry(0));
    expect(none.size).toBe(0);
  });

  it('counts an entry once when it is replaced with more of it serialised', () => {
    const cache = new RenderCache(1024 * 1024);
    keep(cache, 7, entry(10));
    const before = cache.bytes;
    cache.set(7, { ...entry(10), withoutMembers: Buffer.alloc(2048) });
    expect(cache.bytes).toBe(before + 2048);
    expect(cache.size).toBe(1);
  });

  it('sizes its default budget at an eighth of the heap limit, at most 256 MiB', () => {
    const MiB = 1024 * 1024;
    expect(defaultRenderCacheBytes(1024 * MiB)).toBe(128 * MiB);
    expect(defaultRenderCacheBytes(512 * MiB)).toBe(64 * MiB);
    expect(defaultRenderCacheBytes(8192 * MiB)).toBe(256 * MiB);
    expect(new RenderCache().maxBytes).toBe(Math.min(256 * MiB, Math.floor(getHeapStatistics().heap_size_limit / 8)));
  });

  it('hands out keys no other set shares', () => {
    const cache = new RenderCache();
    const a = cache.reserve(5);
    const b = cache.reserve(3);
    expect(b).toBeGreaterThanOrEqual(a + 5);
  });
});
