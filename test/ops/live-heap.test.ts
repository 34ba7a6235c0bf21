/**
 * `xero_scim_heap_live_bytes`: the heap a full collection leaves, which the load test holds flat. It must follow what
 * is really retained, not garbage: a retained 64 MiB shows in it after a collection, garbage made since does not, and
 * the 64 MiB are gone from it after the next collection once released.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { liveHeap } from '../../src/ops/live-heap';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A full collection, once the observer has heard of it (a busy machine may take a while to deliver it). */
async function fullCollection(): Promise<number> {
  const seen = liveHeap().fullCollections;
  gc();
  for (const started = Date.now(); liveHeap().fullCollections === seen; ) {
    if (Date.now() - started > 5000) throw new Error('the full collection was not observed within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return liveHeap().bytes!;
}

describe('live heap', () => {
  it('is unknown until the first full collection, then follows what is retained and not what is garbage', async () => {
    expect(liveHeap()).toEqual({ bytes: undefined, fullCollections: 0 });
    const before = await fullCollection();
    expect(before).toBeGreaterThan(0);

    // 64 MiB of garbage in small pieces (young objects, which minor collections take) leaves the figure as it was.
    for (let i = 0; i < 1024; i++) new Array<number>(8 * 1024).fill(2.5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(liveHeap()).toEqual({ bytes: before, fullCollections: 1 });

    let retained: number[][] | undefined = Array.from({ length: 64 }, () => new Array<number>(128 * 1024).fill(1.5));
    const holding = await fullCollection();
    // Within a margin: the worker's own objects come and go, and the figure is read a moment after the collection.
    expect(holding - before).toBeGreaterThan(48 * 2 ** 20);
    expect(holding - before).toBeLessThan(80 * 2 ** 20);

    expect(retained.length).toBe(64);
    retained = undefined;
    const released = await fullCollection();
    expect(released - before).toBeLessThan(16 * 2 ** 20);
  });
});
