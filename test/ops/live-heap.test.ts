/**
 * `xero_scim_heap_live_bytes`: the heap a full collection leaves, which is what the load test holds flat. It must
 * follow what is really retained, not garbage: a retained 64 MiB shows in it after a collection, and is gone from it
 * after the next collection once released.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { liveHeapBytes } from '../../src/ops/live-heap';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** A full collection, then the turn in which the observer hears of it. */
async function fullCollection(): Promise<number | undefined> {
  gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
  return liveHeapBytes();
}

describe('live heap', () => {
  it('is unknown until the first full collection, then follows what is retained and not what is garbage', async () => {
    expect(liveHeapBytes()).toBeUndefined();
    const before = await fullCollection();
    expect(before).toBeGreaterThan(0);

    // 64 MiB of garbage in small pieces (young objects, which minor collections take) leaves the figure as it was.
    for (let i = 0; i < 1024; i++) new Array<number>(8 * 1024).fill(2.5);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(liveHeapBytes()).toBe(before);

    let retained: number[][] | undefined = Array.from({ length: 64 }, () => new Array<number>(128 * 1024).fill(1.5));
    const holding = await fullCollection();
    expect(holding! - before!).toBeGreaterThan(60 * 2 ** 20);
    expect(holding! - before!).toBeLessThan(80 * 2 ** 20);

    expect(retained.length).toBe(64);
    retained = undefined;
    const released = await fullCollection();
    expect(released! - before!).toBeLessThan(8 * 2 ** 20);
  });
});
