/**
 * The serving benchmark at one size: load the same users into xero-scim, the two floors (Express and node:http)
 * and SCIMMY, check their answers, then time
 * workloads (a)–(d) with autocannon and crawl (e), measuring each server's CPU and memory from /proc.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readCorpus } from './corpus';
import { dataFor, expectedFor, type Expected } from './dataset';
import type { CrawlRequest, CrawlResult, LoadArguments, LoadRequest, LoadResult, WorkloadName } from './driver/driver-process';
import { Child } from './ipc';
import type { BenchOptions, ServingServer } from './options';
import { SERVING_SERVERS } from './options';
import { cpuMs, memory, round, waitIdle, type Memory } from './proc';
import type { SandboxInfo } from './servers/sandbox-process';
import { validateServer, type Validation } from './validate';
import { V8_FLAGS } from '../src/runtime';

export const SERVERS = SERVING_SERVERS;
export type ServerName = ServingServer;
/** The servers loaded from the corpus, restarted from it when they hang on abandoned requests. */
type ReferenceName = Exclude<ServerName, 'xero-scim'>;
export const WORKLOADS: readonly WorkloadName[] = ['a', 'b', 'c', 'd'];
export const WORKLOAD_TITLES: Readonly<Record<WorkloadName | 'e', string>> = {
  a: '(a) GET /Users/{id}',
  b: '(b) GET /Users?startIndex=<random>&count=100',
  c: '(c) GET /Users?filter=userName eq "<existing>"',
  d: '(d) GET /Groups?excludedAttributes=members',
  e: '(e) ConductorOne crawl',
};

const TOKEN = 'bench-token-5b0f3c1e9d7a4e2c8f6b';
const PUBLIC_URL = 'https://scim.bench.invalid';

interface HeapFigures {
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
}

/**
 * How a server too slow for 32 connections is measured: one request at a time over one connection, for the run's
 * duration and at least `requests` requests, stopped at BENCH_SLOW_CAP seconds. CPU-bound on one thread, its
 * requests per second are the same as with 32 connections (it serves one at a time either way); its latency is
 * then one request's, not 32 queued ones'.
 */
export interface SlowMode {
  connections: number;
  requests: number;
}
const SLOW_MODE: SlowMode = { connections: 1, requests: 3 };

export interface TimedRun extends LoadResult {
  slowMode?: SlowMode;
  /** Server CPU time during the run, ms (user + system). */
  serverCpuMs: number;
  /** Server CPU as a share of one core over the run, %. */
  serverCpuPercent: number;
  /** Server CPU per request, µs. */
  serverCpuMicrosPerRequest: number;
  /**
   * The load driver's CPU as a share of one core over the run, %. Near 100 %, the driver (which parses every answer's
   * head in JavaScript) bounds the rate, not the server: compare the servers' CPU per request then.
   */
  driverCpuPercent: number;
}

export interface WorkloadFigures {
  runs: TimedRun[];
  /** Means over the runs. */
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  serverCpuPercent: number;
  serverCpuMicrosPerRequest: number;
  driverCpuPercent: number;
  bytesPerRequest: number;
  /** False when any run had errors, timeouts or non-2xx answers. */
  clean: boolean;
}

export interface ServerFigures {
  loadMs: number;
  validation: Validation;
  workloads: Partial<Record<WorkloadName, WorkloadFigures>>;
  crawl?: CrawlResult & { serverCpuMs: number };
  memoryAfterLoad: Memory;
  /** Peak RSS is the largest over restarts. */
  memoryAtEnd: Memory;
  /** Restarts to drop abandoned requests (see `settle`). */
  restarts?: number;
  /** Why the server stopped being measured (it died, or did not answer), if it did. */
  failure?: string;
  heap?: unknown;
}

export interface ServingResult {
  users: number;
  organisations: number;
  memberships: number;
  data: ReturnType<typeof dataFor>;
  load: { method: string; syncMs: number; xeroCalls: unknown; sandboxGenerateMs: number };
  snapshotMemory: { snapshotMiBPer1000Memberships: number; withViewsMiBPer1000Memberships: number; heap: unknown };
  /** Every server of BENCH_SERVERS (all three by default). */
  servers: Partial<Record<ServerName, ServerFigures>> & Record<'xero-scim' | 'floor', ServerFigures>;
}

function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function sample<T>(list: readonly T[], n: number, random: () => number): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.min(n, list.length); i++) out.push(list[Math.floor(random() * list.length)]!);
  return out;
}

/** mulberry32: the same sample arguments for every server in a run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

export async function runServing(users: number, options: BenchOptions, runDir: string, driver: Child): Promise<ServingResult> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-bench-'));
  const corpusDir = path.join(work, 'corpus');
  const started: Child[] = [];
  let settle: (name: ServerName) => Promise<void> = async () => undefined;
  const execArgv = (name: string) => ['--expose-gc', ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(runDir, 'profiles')}`, `--cpu-prof-name=${name}-${users}.cpuprofile`] : [])];
  try {
    const data = dataFor(users);
    log(`${users} users: sandbox with ${data.organisations} organisations × ${data.usersPerOrganisation} users`);
    const sandbox = await Child.start<SandboxInfo>('sandbox', { script: 'servers/sandbox-process.js', input: { data }, execArgv: [] });
    started.push(sandbox);

    log('xero-scim: syncing from the sandbox');
    const xero = await Child.start<{
      url: string;
      people: number;
      organisations: number;
      memberships: number;
      sync: { durationMs: number; calls: unknown };
      heap: { before: HeapFigures; afterSync: HeapFigures; afterRender: HeapFigures; serialisedMiB: number };
    }>('xero-scim', {
      script: 'servers/xero-scim-process.js',
      input: { sandbox: sandbox.info, token: TOKEN, publicUrl: PUBLIC_URL, stateDir: path.join(work, 'state'), corpusDir },
      execArgv: [...V8_FLAGS, ...execArgv('xero-scim')],
    });
    started.push(xero);
    await sandbox.stop();
    const xeroMemory = memory(xero.pid);
    log(`xero-scim after load: RSS ${xeroMemory.rssMiB} MiB, peak so far ${xeroMemory.peakRssMiB} MiB`);
    log(`xero-scim: ${xero.info.people} users, ${xero.info.memberships} memberships, ${xero.info.organisations} organisations; sync ${xero.info.sync.durationMs} ms`);

    // The floors and SCIMMY load from the corpus in seconds, so they can be restarted (see `settle`).
    const startReference = async (name: ReferenceName, generation: number) => {
      const child = await Child.start<{ url: string; loadMs: number }>(name, {
        script: `servers/${name}-process.js`,
        input: { corpusDir, token: TOKEN, publicUrl: PUBLIC_URL },
        execArgv: execArgv(generation === 0 ? name : `${name}-restart${generation}`),
      });
      started.push(child);
      return child;
    };
    const floor = await startReference('floor', 0);
    const floorMemory = memory(floor.pid);
    // BENCH_SERVERS may leave the node:http floor and SCIMMY out (e.g. while profiling xero-scim against the floor).
    const active = SERVERS.filter((name) => options.servers.has(name));
    const httpFloor = active.includes('http-floor') ? await startReference('http-floor', 0) : floor;
    const httpFloorMemory = memory(httpFloor.pid);
    const scimmy = active.includes('scimmy') ? await startReference('scimmy', 0) : floor;
    const scimmyMemory = memory(scimmy.pid);
    const children: Record<ServerName, Child<{ url: string }>> = { 'xero-scim': xero, floor, 'http-floor': httpFloor, scimmy };
    const restarts: Record<ServerName, number> = { 'xero-scim': 0, floor: 0, 'http-floor': 0, scimmy: 0 };
    const peakRss: Record<ServerName, number> = { 'xero-scim': 0, floor: 0, 'http-floor': 0, scimmy: 0 };
    /**
     * After a run, a server may still be computing answers to requests the driver has given up on (32 of them
     * when each takes seconds: SCIMMY at 100,000 users). Wait for it to go idle; a reference server still busy
     * after a few seconds is restarted instead (its peak RSS is kept), so no run pays for the one before.
     */
    settle = async (name: ServerName) => {
      const child = children[name];
      const waited = await waitIdle(child.pid, name === 'xero-scim' ? 120_000 : 5_000);
      if (name === 'xero-scim' || waited < 5_000) return;
      peakRss[name] = Math.max(peakRss[name], memory(child.pid).peakRssMiB);
      await child.stop(1_000);
      restarts[name] += 1;
      children[name] = await startReference(name, restarts[name]);
      log(`${name}: still busy with abandoned requests; restarted`);
    };

    const expected: Expected = expectedFor(data);
    const corpus = readCorpus(corpusDir);
    const ids = corpus.users.map((text) => (JSON.parse(text) as { id: string }).id);
    const userNames = [...expected.users.keys()];
    if (ids.length !== expected.users.size) throw new Error(`xero-scim serves ${ids.length} users; the sandbox data has ${expected.users.size} people`);
    const random = seeded(users);
    const samples = {
      ids: sample(ids, 100, random),
      userNames: sample(userNames, users >= 50_000 ? 10 : 40, random),
      // A page costs SCIMMY seconds per 10,000 users (it shapes every user, then pages), so big sizes check fewer.
      startIndexes: users >= 50_000 ? [ids.length - 37] : [1, ids.length - 37, 1 + Math.floor(random() * ids.length)],
    };
    await driver.call('setArguments', { ids, userNames, totalUsers: ids.length } satisfies LoadArguments);

    const figures = {} as Record<ServerName, ServerFigures>;
    const loadMs: Record<ServerName, number> = { 'xero-scim': xero.info.sync.durationMs, floor: floor.info.loadMs, 'http-floor': httpFloor.info.loadMs, scimmy: scimmy.info.loadMs };
    const afterLoad: Record<ServerName, Memory> = { 'xero-scim': xeroMemory, floor: floorMemory, 'http-floor': httpFloorMemory, scimmy: scimmyMemory };
    /** A server that dies (e.g. out of memory) is reported as failed; the others go on. */
    const failed = new Map<ServerName, string>();
    const attempt = async (name: ServerName, step: string, work: () => Promise<void>): Promise<void> => {
      if (failed.has(name)) return;
      try {
        await work();
      } catch (error) {
        const reason = `${step}: ${(error as Error).message.split('\n')[0]}`;
        failed.set(name, reason);
        if (figures[name]) figures[name].failure = reason;
        log(`${name}: FAILED — ${reason}`);
      }
    };
    for (const name of active) {
      log(`${name}: checking answers`);
      const validation = await validateServer(`${children[name].info.url}/scim/v2`, TOKEN, expected, samples).catch(
        (error: unknown): Validation => ({ errors: [`no answer: ${(error as Error).message}`], deviations: [], requests: 0, latencyMs: { a: [], b: [], c: [], d: [] } }),
      );
      if (validation.errors.length > 0) log(`${name}: WRONG ANSWERS — ${validation.errors.slice(0, 5).join('; ')}`);
      if (validation.deviations.length > 0) log(`${name}: deviations — ${validation.deviations.join('; ')}`);
      figures[name] = { loadMs: loadMs[name], validation, workloads: {}, memoryAfterLoad: afterLoad[name], memoryAtEnd: afterLoad[name] };
    }

    for (const workload of WORKLOADS.filter((w) => options.workloads.has(w))) {
      // Warm-up for all three first, then run 1 in one order and run 2 in the reverse order, so drift in the
      // machine's background load does not favour one server.
      const order = active.filter((s) => figures[s].validation.errors.length === 0);
      const slow = new Set<ServerName>();
      for (const name of order) {
        await attempt(name, `${workload} warm-up`, async () => {
          const warm = await timed(children[name], workload, options.warmupSeconds);
          // A server that cannot answer one request per connection in the warm-up would answer nothing in a timed
          // run with 32 connections: it is measured with one connection and a few requests instead (see SlowMode).
          if (warm.requests < options.connections) slow.add(name);
          await settle(name);
        });
      }
      for (const round of [0, 1]) {
        for (const name of round === 0 ? order : [...order].reverse()) {
          await attempt(name, `${workload} run ${round + 1}`, async () => {
            const run = await timed(children[name], workload, options.durationSeconds, slow.has(name) ? SLOW_MODE : undefined);
            await settle(name);
            const f = (figures[name].workloads[workload] ??= { runs: [] } as unknown as WorkloadFigures);
            f.runs.push(run);
            log(`${WORKLOAD_TITLES[workload]} ${name} run ${round + 1}${slow.has(name) ? ' (slow mode)' : ''}: ${run.requestsPerSecond.toFixed(run.requestsPerSecond < 10 ? 2 : 0)} req/s, p50 ${run.latencyMs.p50} ms, p99 ${run.latencyMs.p99} ms, CPU ${run.serverCpuPercent.toFixed(0)}%, driver CPU ${run.driverCpuPercent.toFixed(0)}%`);
          });
        }
      }
      for (const name of order) if (figures[name].workloads[workload]) summarise(figures[name].workloads[workload]!);
      for (const name of order) {
        const m = memory(children[name].pid);
        log(`${WORKLOAD_TITLES[workload]} ${name}: RSS ${m.rssMiB} MiB, peak so far ${m.peakRssMiB} MiB`);
      }
    }

    for (const name of options.workloads.has('e') ? active : []) {
      if (figures[name].validation.errors.length > 0) continue;
      await attempt(name, 'crawl', async () => {
        const child = children[name];
        await waitIdle(child.pid, 10_000);
        const cpuBefore = cpuMs(child.pid);
        const crawl = await driver.call<CrawlResult>('crawl', {
          url: child.info.url,
          token: TOKEN,
          pageSize: 100,
          workers: 8,
          // xero-scim and the floor must finish (the ratio needs both); SCIMMY is stopped at the crawl limit.
          timeLimitMs: (name === 'scimmy' ? 1 : 10) * options.crawlLimitSeconds * 1000,
          expectedUsers: ids.length,
        } satisfies CrawlRequest);
        figures[name].crawl = { ...crawl, serverCpuMs: round(cpuMs(child.pid) - cpuBefore, 0) };
        log(`${WORKLOAD_TITLES.e} ${name}: ${(crawl.wallMs / 1000).toFixed(1)} s, ${crawl.usersListed} listed, ${crawl.usersFetched} fetched${crawl.complete ? '' : ' — INCOMPLETE'}`);
        await settle(name);
      });
    }

    for (const name of active) {
      await attempt(name, 'final memory', async () => {
        const end = memory(children[name].pid);
        figures[name].memoryAtEnd = { ...end, peakRssMiB: Math.max(end.peakRssMiB, peakRss[name]) };
        figures[name].heap = await children[name].call('heap');
      });
      figures[name].restarts = restarts[name];
    }
    const per1000 = (mib: number) => round((mib / xero.info.memberships) * 1000, 3);
    const heap = xero.info.heap;
    return {
      users: ids.length,
      organisations: xero.info.organisations,
      memberships: xero.info.memberships,
      data,
      load: {
        method: 'real sync: createXeroDirectory(...).syncOnce() against the sandbox over HTTP (limits enforced, no added latency)',
        syncMs: xero.info.sync.durationMs,
        xeroCalls: xero.info.sync.calls,
        sandboxGenerateMs: sandbox.info.generateMs,
      },
      snapshotMemory: {
        snapshotMiBPer1000Memberships: per1000(heap.afterSync.heapUsedMiB - heap.before.heapUsedMiB),
        // The serialised resources live outside the JavaScript heap (Buffers), so "with views" counts both.
        withViewsMiBPer1000Memberships: per1000(heap.afterRender.heapUsedMiB + heap.afterRender.externalMiB - heap.before.heapUsedMiB - heap.before.externalMiB),
        heap,
      },
      servers: figures,
    };
  } finally {
    for (const child of started.reverse()) await child.stop();
    rmSync(work, { recursive: true, force: true });
  }

  async function timed(child: Child<{ url: string }>, workload: WorkloadName, seconds: number, slowMode?: SlowMode): Promise<TimedRun> {
    await waitIdle(child.pid, 10_000);
    const before = cpuMs(child.pid);
    const driverBefore = cpuMs(driver.pid);
    const result = await driver.call<LoadResult>('load', {
      url: child.info.url,
      token: TOKEN,
      workload,
      connections: slowMode?.connections ?? options.connections,
      durationSeconds: seconds,
      timeoutSeconds: 300,
      ...(slowMode ? { slow: { minRequests: slowMode.requests, capSeconds: options.slowCapSeconds } } : {}),
    } satisfies LoadRequest);
    const used = cpuMs(child.pid) - before;
    const driverUsed = cpuMs(driver.pid) - driverBefore;
    return {
      ...result,
      ...(slowMode ? { slowMode } : {}),
      serverCpuMs: round(used, 0),
      serverCpuPercent: round((used / (result.durationSeconds * 1000)) * 100, 1),
      serverCpuMicrosPerRequest: result.requests > 0 ? round((used * 1000) / result.requests, 1) : NaN,
      driverCpuPercent: round((driverUsed / (result.durationSeconds * 1000)) * 100, 1),
    };
  }
}

function summarise(f: WorkloadFigures): void {
  f.requestsPerSecond = round(mean(f.runs.map((r) => r.requestsPerSecond)), 1);
  f.p50Ms = round(mean(f.runs.map((r) => r.latencyMs.p50)), 2);
  f.p99Ms = round(mean(f.runs.map((r) => r.latencyMs.p99)), 2);
  f.serverCpuPercent = round(mean(f.runs.map((r) => r.serverCpuPercent)), 1);
  f.serverCpuMicrosPerRequest = round(mean(f.runs.map((r) => r.serverCpuMicrosPerRequest)), 1);
  f.driverCpuPercent = round(mean(f.runs.map((r) => r.driverCpuPercent)), 1);
  f.bytesPerRequest = Math.round(mean(f.runs.map((r) => r.bytesPerRequest)));
  f.clean = f.runs.every((r) => r.errors === 0 && r.timeouts === 0 && r.non2xx === 0 && r.requests > 0);
}
