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

async function load(request: LoadRequest): Promise<LoadResult> {
  const result = await autocannon({
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
  const requests = result.requests.total;
  return {
    requests,
    durationSeconds: result.duration,
    requestsPerSecond: requests / result.duration,
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
    const response = await fetch(`${request.url}/scim/v2/Users?startIndex=${startIndex}&count=${request.pageSize}`, { headers });
    const body = (await response.json()) as { totalResults?: number; Resources?: { id: string }[] };
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
