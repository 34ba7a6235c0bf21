/**
 * The load driver, in a process of its own so its CPU is never the server's: autocannon (programmatic) for the
 * throughput workloads (a)–(d), and the ConductorOne crawl (e) with fetch. Every load is bounded in time.
 */
import autocannon from 'autocannon';
import { failStartup, serveParent } from '../ipc';

export type WorkloadName = 'a' | 'b' | 'c' | 'd';

export interface LoadArguments {
  ids: string[];
  userNames: string[];
  totalUsers: number;
}

export interface LoadRequest {
  url: string;
  token: string;
  workload: WorkloadName;
  connections: number;
  durationSeconds: number;
  timeoutSeconds: number;
  /**
   * Slow mode: one request at a time over one connection, for at least `durationSeconds` and `minRequests`
   * requests, stopped at `capSeconds` (a request in flight then is abandoned and not counted).
   */
  slow?: { minRequests: number; capSeconds: number };
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; average: number; max: number };
  bytesPerRequest: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Slow mode: requests cut off by the cap. */
  abandoned?: number;
}

export interface CrawlRequest {
  url: string;
  token: string;
  pageSize: number;
  workers: number;
  timeLimitMs: number;
  expectedUsers: number;
}

export interface CrawlResult {
  wallMs: number;
  listMs: number;
  pages: number;
  usersListed: number;
  duplicates: number;
  usersFetched: number;
  fetchFailures: number;
  timedOut: boolean;
  /** Every expected user listed exactly once and fetched by id, within the time limit. */
  complete: boolean;
}

let args: LoadArguments = { ids: [], userNames: [], totalUsers: 0 };

function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)]!;
}

/** A random valid request path of the workload. */
export function pathFor(workload: WorkloadName, a: LoadArguments): string {
  switch (workload) {
    case 'a':
      return `/scim/v2/Users/${pick(a.ids)}`;
    case 'b':
      return `/scim/v2/Users?startIndex=${1 + Math.floor(Math.random() * a.totalUsers)}&count=100`;
    case 'c':
      return `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${pick(a.userNames)}"`)}`;
    case 'd':
      return '/scim/v2/Groups?excludedAttributes=members';
  }
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function slowLoad(request: LoadRequest, slow: { minRequests: number; capSeconds: number }): Promise<LoadResult> {
  const headers = { authorization: `Bearer ${request.token}`, accept: 'application/scim+json' };
  const started = Date.now();
  const cap = AbortSignal.timeout(slow.capSeconds * 1000);
  const latencies: number[] = [];
  let bytes = 0;
  let non2xx = 0;
  let abandoned = 0;
  while ((Date.now() - started < request.durationSeconds * 1000 || latencies.length < slow.minRequests) && !cap.aborted) {
    const sent = Date.now();
    try {
      const response = await fetch(`${request.url}${pathFor(request.workload, args)}`, { headers, signal: cap });
      const body = await response.arrayBuffer();
      latencies.push(Date.now() - sent);
      bytes += body.byteLength;
      if (response.status < 200 || response.status > 299) non2xx++;
    } catch {
      abandoned++; // cut off by the cap: too slow to count, not an error of the server's
      break;
    }
  }
  const seconds = (Date.now() - started) / 1000;
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    durationSeconds: seconds,
    requestsPerSecond: latencies.length / seconds,
    latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), average: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length), max: sorted[sorted.length - 1] ?? NaN },
    bytesPerRequest: latencies.length > 0 ? Math.round(bytes / latencies.length) : 0,
    non2xx,
    errors: 0,
    timeouts: 0,
    abandoned,
  };
}

async function load(request: LoadRequest): Promise<LoadResult> {
  if (request.slow) return slowLoad(request, request.slow);
  const started = Date.now();
  const instance = autocannon({
    url: request.url,
    connections: request.connections,
    duration: request.durationSeconds,
    timeout: request.timeoutSeconds,
    headers: { authorization: `Bearer ${request.token}`, accept: 'application/scim+json' },
    requests: [
      {
        method: 'GET',
        setupRequest: (raw) => {
          raw.path = pathFor(request.workload, args);
          return raw;
        },
      },
    ],
  });
  const result = await instance;
  const seconds = (Date.now() - started) / 1000;
  const requests = result.requests.total;
  return {
    requests,
    durationSeconds: seconds,
    requestsPerSecond: requests / seconds,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, average: result.latency.average, max: result.latency.max },
    bytesPerRequest: requests > 0 ? Math.round(result.throughput.total / requests) : 0,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/** The ConductorOne crawl (e); exported for the harness test. */
export async function crawl(request: CrawlRequest): Promise<CrawlResult> {
  const headers = { Authorization: `Bearer ${request.token}`, Accept: 'application/scim+json' };
  const started = Date.now();
  const deadline = started + request.timeLimitMs;
  const seen = new Map<string, number>();
  let timedOut = false;
  let pages = 0;
  let fetchFailures = 0;
  // ConductorOne (baton-scim): pages of 100 through /Users, one after another.
  for (let startIndex = 1, total = Infinity; startIndex <= total; ) {
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    let response: Response;
    let body: { totalResults?: number; Resources?: { id: string }[] };
    try {
      response = await fetch(`${request.url}/scim/v2/Users?startIndex=${startIndex}&count=${request.pageSize}`, { headers, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
      body = (await response.json()) as typeof body;
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError') throw error;
      timedOut = true;
      break;
    }
    pages++;
    if (response.status !== 200 || !Array.isArray(body.Resources) || typeof body.totalResults !== 'number') {
      fetchFailures++;
      break;
    }
    total = body.totalResults;
    for (const r of body.Resources) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    if (body.Resources.length === 0) break;
    // The number actually returned, so a server that echoes `count` in itemsPerPage still pages correctly.
    startIndex += body.Resources.length;
  }
  const listMs = Date.now() - started;
  // …then GET /Users/{id} for every user, 8 at a time.
  const ids = [...seen.keys()];
  let next = 0;
  let fetched = 0;
  const worker = async () => {
    while (next < ids.length) {
      if (Date.now() > deadline) {
        timedOut = true;
        return;
      }
      const id = ids[next++]!;
      const response = await fetch(`${request.url}/scim/v2/Users/${id}`, { headers });
      const text = await response.text();
      if (response.status === 200 && (JSON.parse(text) as { id?: string }).id === id) fetched++;
      else fetchFailures++;
    }
  };
  await Promise.all(Array.from({ length: request.workers }, worker));
  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  return {
    wallMs: Date.now() - started,
    listMs,
    pages,
    usersListed: seen.size,
    duplicates,
    usersFetched: fetched,
    fetchFailures,
    timedOut,
    complete: !timedOut && duplicates === 0 && fetchFailures === 0 && seen.size === request.expectedUsers && fetched === seen.size,
  };
}

if (require.main === module) {
  try {
    serveParent({
      setArguments: (a: LoadArguments) => {
        args = a;
        return true;
      },
      load: (r: LoadRequest) => load(r),
      crawl: (r: CrawlRequest) => crawl(r),
    }).ready({ pid: process.pid });
  } catch (error) {
    failStartup(error);
  }
}
