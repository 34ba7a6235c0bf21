/**
 * The HTTP request counter and duration histogram, tallied in plain numbers per label set and turned into
 * Prometheus series only when scraped. prom-client's own `Counter.inc` and `Histogram.observe` build a label object,
 * validate it and hash it into a string on every call: on the hottest reads that was about a microsecond of each
 * request. Here a request costs two `Map` lookups (by route template and method, both from small fixed sets),
 * one by status, and a few additions. The series and their text are the same as prom-client's metrics would give.
 */
import type { Registry } from 'prom-client';

interface CounterSeries {
  readonly labels: { readonly method: string; readonly route: string; readonly status: string };
  value: number;
}

interface Tally {
  readonly labels: { readonly method: string; readonly route: string };
  /** The counter's series of this route and method, by status. */
  readonly statuses: Map<number, CounterSeries>;
  /** Observations per bucket, not cumulative: the last slot holds those above every bound (`+Inf`). */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's registry reads of a metric (`registerMetric`, then `get` at every scrape). */
interface CustomMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): Promise<{
    name: string;
    help: string;
    type: 'counter' | 'histogram';
    aggregator: 'sum';
    values: { labels: Readonly<Record<string, string | number>>; value: number; metricName?: string }[];
  }>;
  reset(): void;
}

export interface RequestTalliesOptions {
  readonly counterName: string;
  readonly counterHelp: string;
  readonly histogramName: string;
  readonly histogramHelp: string;
  /** Upper bounds of the duration buckets, ascending, in seconds. */
  readonly buckets: readonly number[];
}

export class RequestTallies {
  /** Route template → method → tally. */
  #byRoute = new Map<string, Map<string, Tally>>();
  /** The series in the order they were first seen, as prom-client lists them. */
  #counterSeries: CounterSeries[] = [];
  #histogramSeries: Tally[] = [];

  constructor(private readonly options: RequestTalliesOptions) {}

  observe(method: string, route: string, status: number, seconds: number): void {
    let methods = this.#byRoute.get(route);
    if (methods === undefined) this.#byRoute.set(route, (methods = new Map()));
    let tally = methods.get(method);
    if (tally === undefined) {
      tally = { labels: { method, route }, statuses: new Map(), buckets: new Float64Array(this.options.buckets.length + 1), sum: 0, count: 0 };
      methods.set(method, tally);
      this.#histogramSeries.push(tally);
    }
    let series = tally.statuses.get(status);
    if (series === undefined) {
      series = { labels: { method, route, status: String(status) }, value: 0 };
      tally.statuses.set(status, series);
      this.#counterSeries.push(series);
    }
    series.value += 1;
    const { buckets } = this.options;
    let bucket = 0;
    while (bucket < buckets.length && seconds > buckets[bucket]!) bucket++;
    tally.buckets[bucket]! += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  /** Registers the counter and the histogram with `registry`, as prom-client's would be. */
  registerOn(registry: Registry): void {
    const { counterName, counterHelp, histogramName, histogramHelp, buckets } = this.options;
    const reset = () => {
      this.#byRoute = new Map();
      this.#counterSeries = [];
      this.#histogramSeries = [];
    };
    const counter: CustomMetric = {
      name: counterName,
      help: counterHelp,
      type: 'counter',
      aggregator: 'sum',
      reset,
      get: async () => ({
        name: counterName,
        help: counterHelp,
        type: 'counter',
        aggregator: 'sum',
        values: this.#counterSeries.map(({ labels, value }) => ({ labels: { ...labels }, value })),
      }),
    };
    const histogram: CustomMetric = {
      name: histogramName,
      help: histogramHelp,
      type: 'histogram',
      aggregator: 'sum',
      reset,
      get: async () => ({
        name: histogramName,
        help: histogramHelp,
        type: 'histogram',
        aggregator: 'sum',
        values: this.#histogramSeries.flatMap(({ labels, buckets: counts, sum, count }) => {
          let cumulative = 0;
          // Labels in prom-client's order: the bound first.
          const bucketLines = [...buckets, '+Inf' as const].map((le, i) => {
            cumulative += counts[i]!;
            return { labels: { le, ...labels }, value: cumulative, metricName: `${histogramName}_bucket` };
          });
          return [
            ...bucketLines,
            { labels: { ...labels }, value: sum, metricName: `${histogramName}_sum` },
            { labels: { ...labels }, value: count, metricName: `${histogramName}_count` },
          ];
        }),
      }),
    };
    registry.registerMetric(counter as never);
    registry.registerMetric(histogram as never);
  }
}
