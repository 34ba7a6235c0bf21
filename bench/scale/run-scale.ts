/**
 * The scale benchmark (BENCH_PARTS=scale): real `xero-scim serve` processes against the sandbox (in a process of its
 * own, Xero's limits enforced, no added latency) at BENCH_SCALE_SIZES memberships, 107 a organisation (`dataFor`:
 * 1,000,000 is the 10,000 organisations × 107 users, seed 7). Per size:
 *
 * 1. First sync: `serve` on an empty STATE_DIR, timed from spawn until `/readyz` answers 200; the Xero calls the
 *    sandbox counted, and the bound Xero's app limit sets (admitted calls ÷ 10,000 a minute).
 * 2. RSS when first serving; the probes (probes.ts: groups, roles, filters, pages, a crawl by pages of 1,000); peak
 *    RSS (VmHWM) after them.
 * 3. Restart: serve stopped (SIGTERM), the sandbox stopped (Xero down), serve started again on the same STATE_DIR;
 *    timed from spawn until `GET /scim/v2/Users?count=1` answers 200. The state's size on disk.
 * 4–5. The probes again on the restarted process, whose groups and roles requests are the first of their kind; its
 *    peak RSS after them.
 *
 * A failure ends that size with a message saying which step failed (what was measured before it is kept); every
 * process is stopped and the temporary STATE_DIR removed whatever happens.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dataFor } from '../dataset';
import { Child } from '../ipc';
import type { BenchOptions } from '../options';
import { type Memory, memory } from '../proc';
import type { SandboxInfo } from '../servers/sandbox-process';
import type { GenerateOptions, SandboxCounters } from '../../src/sandbox';
import { DIRECTORY_FILE } from '../../src/files/state-dir';
import { CONTAINS, type ProbeResults, type Truth, probe } from './probes';
import { ServeProcess } from './serve-process';

/** Xero's app limit, which the sandbox enforces (src/sandbox/limits.ts): calls a rolling minute across organisations. */
export const APP_CALLS_PER_MINUTE = 10_000;
const TOKEN = 'bench-scale-token-8d41c0e97b3a';
/** userName eq lookups per process. */
const EQ_SAMPLES = 50;
/** Long enough that no second sync runs while the probes are timed (the default, 300 s, is within a 1M run). */
const SYNC_INTERVAL_SECONDS = 86_400;

export interface FirstSync {
  /** Spawn → `/readyz` 200. */
  wallMs: number;
  /** Every call the sandbox counted (identity, /connections, accounting), 429s included. */
  xeroCalls: number;
  /** Calls Xero's app limit counts: /connections and accounting calls admitted (not the token endpoint, not 429s). */
  appLimitedCalls: number;
  status429: number;
  byEndpoint: Record<string, number>;
  /** appLimitedCalls ÷ 10,000 a minute. */
  boundMs: number;
  ratioToBound: number;
}

export interface ServedProcess {
  /** RSS when it first answered (readiness for the first process, the first SCIM 200 for the restarted one). */
  rssAtFirstServing: Memory;
  probes?: ProbeResults;
  /** After the probes; peakRssMiB is VmHWM, the whole life of the process. */
  memoryAfterProbes?: Memory;
}

export interface Restart {
  /** Spawn → `GET /scim/v2/Users?count=1` answers 200, with Xero down. */
  firstAnswerMs: number;
  /** STATE_DIR's directory file, bytes (NaN when it is absent). */
  stateFileBytes: number;
  /** Every file in STATE_DIR, bytes. */
  stateFiles: Record<string, number>;
  /** Whether the first process stopped within the grace period of SIGTERM (else it was killed). */
  stoppedGracefully: boolean;
}

export interface ScaleSize {
  /** Memberships asked for (BENCH_SCALE_SIZES). */
  size: number;
  data: GenerateOptions;
  organisations: number;
  memberships: number;
  people: number;
  sandboxGenerateMs: number;
  /** The serve processes' `--max-old-space-size`, when BENCH_SCALE_MAX_HEAP_MB set one. */
  maxHeapMb?: number;
  /** The serve processes' `SCIM_RENDER_CACHE_MB`, when BENCH_SCALE_RENDER_CACHE_MB set one. */
  renderCacheMb?: number;
  firstSync?: FirstSync;
  first?: ServedProcess;
  restart?: Restart;
  restarted?: ServedProcess;
  /** The step that failed and why; figures after it are missing. */
  failure?: string;
}

export interface ScaleResults {
  appCallsPerMinute: number;
  syncIntervalSeconds: number;
  sizes: ScaleSize[];
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Calls `probe` until it answers something, every `everyMs(elapsed)`; throws after `timeoutMs`, naming `what`. */
async function until<T>(what: string, timeoutMs: number, everyMs: (elapsedMs: number) => number, attempt: () => Promise<T | undefined>): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    const elapsed = Date.now() - started;
    if (elapsed > timeoutMs) throw new Error(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}`);
    await sleep(everyMs(elapsed));
  }
}

/** A request that may find the server not listening yet: its status, or undefined. */
async function statusOf(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(300_000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

function appLimitedCalls(c: SandboxCounters): number {
  const api = Object.entries(c.byEndpoint)
    .filter(([endpoint]) => endpoint.includes('/connections') || endpoint.includes('/api.xro/'))
    .reduce((n, [, calls]) => n + calls, 0);
  return api - c.status429;
}

function stateOf(stateDir: string): { stateFileBytes: number; stateFiles: Record<string, number> } {
  const stateFiles: Record<string, number> = {};
  for (const name of readdirSync(stateDir)) {
    const stat = statSync(path.join(stateDir, name));
    if (stat.isFile()) stateFiles[name] = stat.size;
  }
  return { stateFileBytes: stateFiles[DIRECTORY_FILE] ?? NaN, stateFiles };
}

/** Temporary directories of sizes in progress: removed at exit too (an interrupted run skips `finally`). */
const workDirs = new Set<string>();
process.once('exit', () => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

export async function runScale(options: BenchOptions): Promise<ScaleResults> {
  const results: ScaleResults = { appCallsPerMinute: APP_CALLS_PER_MINUTE, syncIntervalSeconds: SYNC_INTERVAL_SECONDS, sizes: [] };
  for (const size of options.scaleSizes) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-scale-bench-'));
    workDirs.add(work);
    const data = dataFor(size);
    const result: ScaleSize = { size, data, organisations: NaN, memberships: NaN, people: NaN, sandboxGenerateMs: NaN };
    results.sizes.push(result);
    const step = { name: 'starting the sandbox' };
    let sandbox: Child<SandboxInfo> | undefined;
    const serves: ServeProcess[] = [];
    try {
      await measureSize(result, options, work, step, {
        startSandbox: async () => (sandbox = await startSandbox(data)),
        stopSandbox: async () => {
          await sandbox?.stop();
          sandbox = undefined;
        },
        spawn: async (name, env) => {
          const serve = await ServeProcess.spawn(name, env);
          serves.push(serve);
          return serve;
        },
      });
    } catch (error) {
      result.failure = `${step.name}: ${(error as Error).message}`;
      log(`scale ${size}: FAILED — ${result.failure}`);
    } finally {
      await Promise.all(serves.map((s) => s.kill()));
      await sandbox?.stop();
      rmSync(work, { recursive: true, force: true });
      workDirs.delete(work);
    }
  }
  return results;
}

function startSandbox(data: GenerateOptions): Promise<Child<SandboxInfo>> {
  return Child.start<SandboxInfo>('sandbox', {
    script: 'servers/sandbox-process.js',
    // Xero's limits, the app's 10,000 a minute included; no added latency. A million users need more than the
    // default heap in the sandbox (the bench's tool, not the product).
    input: { data, limits: { enforce: true, appPerMinute: APP_CALLS_PER_MINUTE } },
    execArgv: ['--max-old-space-size=8192'],
  });
}

interface Lifecycle {
  startSandbox(): Promise<Child<SandboxInfo>>;
  stopSandbox(): Promise<void>;
  spawn(name: string, env: NodeJS.ProcessEnv): Promise<ServeProcess>;
}

async function measureSize(result: ScaleSize, options: BenchOptions, work: string, step: { name: string }, life: Lifecycle): Promise<void> {
  const { size } = result;
  log(`scale ${size}: sandbox with ${result.data.organisations} organisations × ${result.data.usersPerOrganisation} users, limits enforced (${APP_CALLS_PER_MINUTE} calls a minute per app), no added latency`);
  const sandbox = await life.startSandbox();
  result.organisations = sandbox.info.organisations;
  result.memberships = sandbox.info.memberships;
  result.sandboxGenerateMs = sandbox.info.generateMs;
  const sample = await sandbox.call<{ people: number; userNames: string[]; containing: number }>('people', { sample: EQ_SAMPLES, contains: CONTAINS });
  result.people = sample.people;
  const truth: Truth = { people: sample.people, organisations: sandbox.info.organisations, userNames: sample.userNames, containing: sample.containing };
  const stateDir = path.join(work, 'state');
  if (options.scaleMaxHeapMb !== undefined) result.maxHeapMb = options.scaleMaxHeapMb;
  if (options.scaleRenderCacheMb !== undefined) result.renderCacheMb = options.scaleRenderCacheMb;
  const env: NodeJS.ProcessEnv = {
    XERO_CLIENT_ID: sandbox.info.clientId,
    XERO_CLIENT_SECRET: sandbox.info.clientSecret,
    XERO_REFRESH_TOKEN: sandbox.info.refreshToken,
    XERO_API_URL: sandbox.info.url,
    XERO_IDENTITY_URL: sandbox.info.url,
    STATE_DIR: stateDir,
    SYNC_INTERVAL_SECONDS: String(SYNC_INTERVAL_SECONDS),
    SCIM_BEARER_TOKEN: TOKEN,
    SCIM_CURSOR_SECRET: 'bench-scale-cursor-secret-71f2',
    PUBLIC_URL: 'https://scim.bench.invalid',
    LOG_LEVEL: 'info',
    ...(options.scaleMaxHeapMb === undefined ? {} : { NODE_OPTIONS: `--max-old-space-size=${options.scaleMaxHeapMb}` }),
    ...(options.scaleRenderCacheMb === undefined ? {} : { SCIM_RENDER_CACHE_MB: String(options.scaleRenderCacheMb) }),
  };
  const crawlLimitMs = options.scaleCrawlLimitSeconds * 1000;

  // 1. First sync: spawn → /readyz 200. /readyz lists every organisation, so it is polled less often as the wait
  // grows (every 2 % of the time so far, 50–500 ms): the poll stays within that share of the figure and costs the
  // server little.
  step.name = 'first sync';
  log(`scale ${size}: serve, first sync (${result.memberships.toLocaleString('en-US')} memberships, ${result.people.toLocaleString('en-US')} people)`);
  const started = Date.now();
  const first = await life.spawn('serve (first sync)', env);
  // Given up at ten times the bound of a first sync's two calls per organisation (at least 10 minutes).
  const syncTimeoutMs = Math.max(600_000, 10 * ((2 * result.organisations) / APP_CALLS_PER_MINUTE) * 60_000);
  await until('/readyz to answer 200 (the first sync)', syncTimeoutMs, (t) => Math.min(500, Math.max(50, t / 50)), async () => {
    first.assertAlive('the first sync');
    return (await statusOf(`${first.url}/readyz`))?.status === 200 ? true : undefined;
  });
  const wallMs = Date.now() - started;
  result.first = { rssAtFirstServing: memory(first.pid) };
  const counters = await sandbox.call<SandboxCounters>('counters');
  const admitted = appLimitedCalls(counters);
  const boundMs = (admitted / APP_CALLS_PER_MINUTE) * 60_000;
  result.firstSync = { wallMs, xeroCalls: counters.total, appLimitedCalls: admitted, status429: counters.status429, byEndpoint: counters.byEndpoint, boundMs, ratioToBound: wallMs / boundMs };
  log(`scale ${size}: first sync ${(wallMs / 1000).toFixed(1)} s (bound ${(boundMs / 1000).toFixed(1)} s: ${(wallMs / boundMs).toFixed(2)}×), ${counters.total} Xero calls, ${counters.status429} 429s; RSS ${result.first.rssAtFirstServing.rssMiB} MiB`);

  // The state must be on disk before the restart: wait for /readyz to report the save.
  step.name = 'waiting for the first sync to be saved';
  await until('/readyz to report the state saved', 600_000, () => 250, async () => {
    first.assertAlive('the save');
    const answer = await statusOf(`${first.url}/readyz`);
    const persistence = answer?.status === 200 ? (JSON.parse(answer.body) as { persistence?: { lastSavedAt?: string } }).persistence : undefined;
    return persistence?.lastSavedAt ? true : undefined;
  });

  // 2. Probes on the first process, then its peak.
  step.name = 'probes on the first process';
  result.first.probes = await probe({ url: first.url, token: TOKEN, assertAlive: (s) => first.assertAlive(s) }, truth, crawlLimitMs);
  result.first.memoryAfterProbes = memory(first.pid);
  log(`scale ${size}: first process after the probes: RSS ${result.first.memoryAfterProbes.rssMiB} MiB, peak ${result.first.memoryAfterProbes.peakRssMiB} MiB`);

  // 3. Restart with Xero down.
  step.name = 'stopping the first process';
  const stopped = await first.stop(120_000);
  await life.stopSandbox();
  const state = stateOf(stateDir);
  step.name = 'restart from STATE_DIR with Xero down';
  const restartedAt = Date.now();
  const second = await life.spawn('serve (restart)', env);
  await until('GET /scim/v2/Users?count=1 to answer 200 (the restart)', 600_000, () => 20, async () => {
    second.assertAlive('the restart');
    return (await statusOf(`${second.url}/scim/v2/Users?count=1`, { authorization: `Bearer ${TOKEN}` }))?.status === 200 ? true : undefined;
  });
  const firstAnswerMs = Date.now() - restartedAt;
  result.restart = { firstAnswerMs, ...state, stoppedGracefully: stopped.graceful };
  result.restarted = { rssAtFirstServing: memory(second.pid) };
  log(`scale ${size}: restart with Xero down: first answer after ${(firstAnswerMs / 1000).toFixed(2)} s; state ${(state.stateFileBytes / 2 ** 20).toFixed(1)} MiB; RSS ${result.restarted.rssAtFirstServing.rssMiB} MiB`);

  // 4–5. Probes on the restarted process (groups and roles first of their kind), then its peak.
  step.name = 'probes on the restarted process';
  const restartedServer = { url: second.url, token: TOKEN, assertAlive: (s: string) => second.assertAlive(s) };
  result.restarted.probes = await probe(restartedServer, truth, crawlLimitMs);
  result.restarted.memoryAfterProbes = memory(second.pid);
  const p = result.restarted.probes;
  log(
    `scale ${size}: restarted: groups ${p.groups.firstMs} / ${p.groups.secondMs} ms, roles ${p.roles.firstMs} / ${p.roles.secondMs} ms, co "zz" ${p.contains.medianMs} ms, eq ${p.userNameEq.medianMs} ms, page ${p.pages.medianMs} ms, crawl ${(p.crawl.wallMs / 1000).toFixed(1)} s${p.crawl.complete ? '' : ' (INCOMPLETE)'}; peak ${result.restarted.memoryAfterProbes.peakRssMiB} MiB`,
  );
}
