/**
 * What the process's garbage collections tell: the heap it really holds, and how long each collection took.
 *
 * The JavaScript heap the process really holds is V8's heap in use just after its last full (mark-compact) collection.
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
import type { Histogram } from 'prom-client';

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

const KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * Observes every garbage collection into `histogram` (seconds, labelled by kind), from now on.
 *
 * Node hands an observer its entries in batches, several when collections come close together (a full one among
 * scavenges, under load). Each entry is one collection, so each is observed; prom-client's own histogram of the same
 * name observes only the first entry of a batch.
 */
export function observeCollections(histogram: Histogram<'kind'>): void {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1];
      if (kind) histogram.observe({ kind }, entry.duration / 1000);
    }
  }).observe({ entryTypes: ['gc'] });
}
