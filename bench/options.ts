/**
 * What a benchmark run does, from environment variables (every one optional):
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | BENCH_QUICK | unset | `1`: a quick pass (2,000 users, 10 and 50 organisations, short runs) for development |
 * | BENCH_SIZES | 10000,100000 | SCIM users per serving run (comma-separated) |
 * | BENCH_PARTS | serve,sync | which parts to run: serve, sync, replicas, scale (replicas and scale are not in the default) |
 * | BENCH_SERVERS | xero-scim,floor,http-floor,scimmy | servers in the serving runs (xero-scim and the Express floor always) |
 * | BENCH_WORKLOADS | a,b,c,d,e | serving workloads to run (e is the crawl) |
 * | BENCH_DURATION | 5 | seconds per timed run (each workload runs twice per server) |
 * | BENCH_WARMUP | 3 | seconds of warm-up per workload and server |
 * | BENCH_CONNECTIONS | 32 | autocannon connections |
 * | BENCH_SLOW_CAP | 45 | seconds a slow-mode run may take (a server too slow for 32 connections, see serve.ts) |
 * | BENCH_CRAWL_LIMIT | 60 | seconds SCIMMY's crawl (e) may take before it is stopped and reported unfinished (xero-scim's and the floor's: 10×) |
 * | BENCH_SYNC_ORGS | 10,100,1000 | organisations per sync run |
 * | BENCH_LATENCY_MS | 200 | latency the sandbox adds to every Xero call in the sync runs |
 * | BENCH_REPLICA_USERS | 100000 | replicas part: SCIM users in the sandbox the replicas sync from |
 * | BENCH_REPLICA_SYNCS | 10 | replicas part: syncs whose spread to the followers is timed (two lag samples each) |
 * | BENCH_FAILOVERS | 3 | replicas part: leader kills timed |
 * | BENCH_LEASE_SECONDS | 15 | replicas part: LEADER_LEASE_SECONDS of the replicas (the product's default) |
 * | BENCH_SCALE_SIZES | 100000 | scale part: memberships per size, comma-separated (100000: 1,000 organisations × 107 users; 1000000: the 10,000 × 107, seed 7) |
 * | BENCH_SCALE_RENDER_CACHE_MB | unset | scale part: serve runs with `SCIM_RENDER_CACHE_MB=<MB>`; unset: its default |
 * | BENCH_SCALE_MAX_HEAP_MB | unset | scale part: serve runs with `NODE_OPTIONS=--max-old-space-size=<MB>` (what README's memory guidance sets for 1,000,000 memberships); unset: Node's default heap |
 * | BENCH_SCALE_CRAWL_LIMIT | 300 | scale part: seconds the crawl of /Users by pages of 1,000 may take before it stops (reported unfinished) |
 * | BENCH_PROFILE | unset | `1`: run every server with `node --cpu-prof` (profiles in bench/results/profiles/<run>/) |
 */
export interface BenchOptions {
  readonly quick: boolean;
  readonly sizes: readonly number[];
  readonly parts: ReadonlySet<BenchPart>;
  readonly servers: ReadonlySet<ServingServer>;
  readonly workloads: ReadonlySet<'a' | 'b' | 'c' | 'd' | 'e'>;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly crawlLimitSeconds: number;
  readonly slowCapSeconds: number;
  readonly syncOrganisations: readonly number[];
  readonly latencyMs: number;
  readonly replicaUsers: number;
  readonly replicaSyncs: number;
  readonly failovers: number;
  readonly leaseSeconds: number;
  readonly scaleSizes: readonly number[];
  readonly scaleCrawlLimitSeconds: number;
  /** `--max-old-space-size` for the scale part's serve processes, as a container's guidance sets it; unset: Node's default. */
  readonly scaleMaxHeapMb?: number;
  readonly scaleRenderCacheMb?: number;
  readonly profile: boolean;
}

export const BENCH_PARTS = ['serve', 'sync', 'replicas', 'scale'] as const;
export const SERVING_SERVERS = ['xero-scim', 'floor', 'http-floor', 'scimmy'] as const;
export type ServingServer = (typeof SERVING_SERVERS)[number];
export type BenchPart = (typeof BENCH_PARTS)[number];

function numbers(name: string, raw: string): number[] {
  const values = raw.split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v <= 0)) {
    throw new Error(`${name} must be a comma-separated list of positive whole numbers, got "${raw}"`);
  }
  return values;
}

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** `positive` for a setting with no default: unset when the variable is. */
function optionalPositive(name: string, raw: string | undefined): number | undefined {
  return raw === undefined || raw === '' ? undefined : positive(name, raw, 0);
}

export function benchOptions(env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const quick = env.BENCH_QUICK === '1' || env.BENCH_QUICK === 'true';
  const parts = (env.BENCH_PARTS ?? 'serve,sync').split(',').map((s) => s.trim());
  for (const p of parts) if (!(BENCH_PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_PARTS may list ${BENCH_PARTS.join(', ')}, got "${p}"`);
  const servers = new Set(['xero-scim', 'floor', ...(env.BENCH_SERVERS ?? 'http-floor,scimmy').split(',').map((x) => x.trim())]);
  for (const name of servers) if (!(SERVING_SERVERS as readonly string[]).includes(name)) throw new Error(`BENCH_SERVERS may list ${SERVING_SERVERS.join(', ')}, got "${name}"`);
  const workloads = new Set((env.BENCH_WORKLOADS ?? 'a,b,c,d,e').split(',').map((x) => x.trim()));
  for (const w of workloads) if (!['a', 'b', 'c', 'd', 'e'].includes(w)) throw new Error(`BENCH_WORKLOADS may list a, b, c, d and e, got "${w}"`);
  return {
    quick,
    workloads: workloads as Set<'a' | 'b' | 'c' | 'd' | 'e'>,
    servers: servers as Set<ServingServer>,
    sizes: numbers('BENCH_SIZES', env.BENCH_SIZES ?? (quick ? '2000' : '10000,100000')),
    parts: new Set(parts as BenchPart[]),
    durationSeconds: positive('BENCH_DURATION', env.BENCH_DURATION, quick ? 2 : 5),
    warmupSeconds: positive('BENCH_WARMUP', env.BENCH_WARMUP, quick ? 1 : 3),
    connections: positive('BENCH_CONNECTIONS', env.BENCH_CONNECTIONS, 32),
    crawlLimitSeconds: positive('BENCH_CRAWL_LIMIT', env.BENCH_CRAWL_LIMIT, quick ? 30 : 60),
    slowCapSeconds: positive('BENCH_SLOW_CAP', env.BENCH_SLOW_CAP, quick ? 20 : 45),
    syncOrganisations: numbers('BENCH_SYNC_ORGS', env.BENCH_SYNC_ORGS ?? (quick ? '10,50' : '10,100,1000')),
    latencyMs: positive('BENCH_LATENCY_MS', env.BENCH_LATENCY_MS, 200),
    replicaUsers: positive('BENCH_REPLICA_USERS', env.BENCH_REPLICA_USERS, quick ? 2000 : 100_000),
    replicaSyncs: positive('BENCH_REPLICA_SYNCS', env.BENCH_REPLICA_SYNCS, quick ? 3 : 10),
    failovers: positive('BENCH_FAILOVERS', env.BENCH_FAILOVERS, quick ? 2 : 3),
    leaseSeconds: positive('BENCH_LEASE_SECONDS', env.BENCH_LEASE_SECONDS, quick ? 3 : 15),
    scaleSizes: numbers('BENCH_SCALE_SIZES', env.BENCH_SCALE_SIZES ?? (quick ? '10000' : '100000')),
    scaleCrawlLimitSeconds: positive('BENCH_SCALE_CRAWL_LIMIT', env.BENCH_SCALE_CRAWL_LIMIT, quick ? 60 : 300),
    scaleRenderCacheMb: optionalPositive('BENCH_SCALE_RENDER_CACHE_MB', env.BENCH_SCALE_RENDER_CACHE_MB),
    scaleMaxHeapMb: optionalPositive('BENCH_SCALE_MAX_HEAP_MB', env.BENCH_SCALE_MAX_HEAP_MB),
    profile: env.BENCH_PROFILE === '1' || env.BENCH_PROFILE === 'true',
  };
}
