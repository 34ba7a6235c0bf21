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

let observing = false;
let liveBytes: number | undefined;
let fullCollections = 0;
/** Where every collection's duration goes (`observeCollections`). */
const histograms = new Set<Histogram<'kind'>>();

const KINDS: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface LiveHeap {
  /** Bytes in use just after the last full collection; undefined before the first one observed. */
  readonly bytes: number | undefined;
  /** Full collections observed so far. */
  readonly fullCollections: number;
}

/**
 * The process's one observer of garbage collections, started on first use. Node hands it entries in batches, several
 * when collections come close together (a full one among scavenges, under load); each entry is one collection, so
 * each is counted. (prom-client's own histogram of collections observes only the first entry of a batch.)
 */
function observe(): void {
  if (observing) return;
  observing = true;
  new PerformanceObserver((list) => {
    let full = 0;
    for (const entry of list.getEntries()) {
      const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) full++;
      const label = kind === undefined ? undefined : KINDS[kind];
      if (label) for (const histogram of histograms) histogram.observe({ kind: label }, entry.duration / 1000);
    }
    if (full === 0) return;
    fullCollections += full;
    liveBytes = getHeapStatistics().used_heap_size;
  }).observe({ entryTypes: ['gc'] });
}

/** The heap the last full collection left. Starts observing on its first call. */
export function liveHeap(): LiveHeap {
  observe();
  return { bytes: liveBytes, fullCollections };
}

/** Observes every garbage collection from now on into `histogram` (seconds, labelled by kind). */
export function observeCollections(histogram: Histogram<'kind'>): void {
  histograms.add(histogram);
  observe();
}
