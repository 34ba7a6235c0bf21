/**
 * The JavaScript heap the process really holds: V8's heap in use just after its last full (mark-compact) collection.
 *
 * RSS and "heap used" also count garbage that waits for the next collection, and how much V8 lets wait depends on its
 * version, the allocation rate and how long the process has run: under a steady load they climb for minutes and then
 * level off. The heap left after a full collection is what a leak makes climb, and nothing else does.
 *
 * One observer serves the whole process, started by the first caller. Collections are reported a moment after they
 * end, so the figure includes what was allocated in between: under load, about a megabyte.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

let observer: PerformanceObserver | undefined;
let liveBytes: number | undefined;
let fullCollections = 0;

export interface LiveHeap {
  /** Bytes in use just after the last full collection; undefined before the first one observed. */
  readonly bytes: number | undefined;
  /** Full collections observed so far. */
  readonly fullCollections: number;
}

/** The heap the last full collection left. Starts observing on its first call. */
export function liveHeap(): LiveHeap {
  if (!observer) {
    observer = new PerformanceObserver((list) => {
      const full = list.getEntries().filter((entry) => (entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR).length;
      if (full === 0) return;
      fullCollections += full;
      liveBytes = getHeapStatistics().used_heap_size;
    });
    observer.observe({ entryTypes: ['gc'] });
  }
  return { bytes: liveBytes, fullCollections };
}
