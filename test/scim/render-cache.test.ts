/**
 * The serialised resources an app keeps stay within their budget, and the ones read most recently are the ones kept.
 */
import { getHeapStatistics } from 'node:v8';
import { RenderCache, defaultRenderCacheBytes } from '../../src/scim/render-cache';

const entry = (kib: number) => ({ etag: 'W/"x"', bytes: Buffer.alloc(kib * 1024) });

describe('the render cache', () => {
  it('stays within its budget, evicting the least recently read first', () => {
    const cache = new RenderCache(100 * 1024);
    for (let key = 0; key < 9; key++) cache.set(key, entry(10));
    cache.get(0); // read again: now the most recent
    for (let key = 9; key < 40; key++) {
      cache.set(key, entry(10));
      if (key % 3 === 0) cache.get(0);
      expect(cache.bytes).toBeLessThanOrEqual(100 * 1024);
    }
    expect(cache.get(0)).toBeDefined();
    expect(cache.get(1)).toBeUndefined();
    expect(cache.get(39)).toBeDefined();
  });

  it('keeps nothing larger than its budget, and nothing at all with a budget of 0', () => {
    const cache = new RenderCache(4096);
    cache.set(1, entry(8));
    expect(cache.size).toBe(0);
    const none = new RenderCache(0);
    none.set(1, entry(0));
    expect(none.size).toBe(0);
  });

  it('counts an entry once when it is replaced with more of it serialised', () => {
    const cache = new RenderCache(1024 * 1024);
    cache.set(7, entry(10));
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
