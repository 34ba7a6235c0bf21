/**
 * Tables and ratios of one run. Ratios are only ever computed between figures of the same run (same `runId`).
 */
import type { BenchOptions } from './options';
import type { WorkloadName } from './driver/driver-process';
import { SERVERS, WORKLOAD_TITLES, WORKLOADS, type ServerName, type ServingResult } from './serve';
import type { ReplicaResults } from './replicas/run-replicas';
import type { ScaleResults, ScaleSize } from './scale/run-scale';
import type { SyncResults } from './sync/run-sync';

export interface BenchResults {
  runId: string;
  startedAt: string;
  finishedAt?: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; loadAverageAtStart: number; loadAverageAtEnd?: number };
  options: Omit<BenchOptions, 'parts' | 'servers' | 'workloads'> & { parts: string[]; servers: string[]; workloads: string[] };
  serving: ServingResult[];
  sync: SyncResults | undefined;
  /** Absent in runs made before the replicas part existed, and when BENCH_PARTS does not name it. */
  replicas?: ReplicaResults | undefined;
  /** Absent when BENCH_PARTS does not name the scale part. */
  scale?: ScaleResults | undefined;
}

/** Targets at 100,000 users (issue 7): xero-scim ÷ floor. */
export const TARGETS = {
  a: { min: 0.8 },
  b: { min: 0.5 },
  c: { min: 0.8 },
  d: { min: 0.5 },
  crawl: { max: 1.5 },
  peakRss: { max: 1 },
  syncBound: { max: 1.5 },
} as const;

/** `floor` is the Express floor (the targets are set against it); `httpFloor` the node:http floor (NaN when not run). */
export interface Ratios {
  users: number;
  /** Requests per second, xero-scim ÷ other (higher is better for xero-scim). */
  throughput: Record<string, { floor: number; httpFloor: number; scimmy: number }>;
  /** Crawl wall time, xero-scim ÷ other (lower is better); NaN when a crawl did not finish. */
  crawl: { floor: number; httpFloor: number; scimmy: number; scimmyFinished: boolean };
  /** Peak RSS, xero-scim ÷ other. */
  peakRss: { floor: number; httpFloor: number; scimmy: number };
}

const r2 = (n: number) => Math.round(n * 100) / 100;

export function ratios(s: ServingResult): Ratios {
  const rps = (server: ServerName, w: string) => s.servers[server]?.workloads[w as 'a']?.requestsPerSecond ?? NaN;
  const throughput: Ratios['throughput'] = {};
  for (const w of WORKLOADS) {
    throughput[w] = { floor: r2(rps('xero-scim', w) / rps('floor', w)), httpFloor: r2(rps('xero-scim', w) / rps('http-floor', w)), scimmy: r2(rps('xero-scim', w) / rps('scimmy', w)) };
  }
  const crawl = (server: ServerName) => s.servers[server]?.crawl;
  const wall = (server: ServerName) => crawl(server)?.wallMs ?? NaN;
  const peak = (server: ServerName) => s.servers[server]?.memoryAtEnd.peakRssMiB ?? NaN;
  return {
    users: s.users,
    throughput,
    crawl: {
      floor: r2(wall('xero-scim') / wall('floor')),
      httpFloor: r2(wall('xero-scim') / wall('http-floor')),
      scimmy: r2(wall('xero-scim') / wall('scimmy')),
      scimmyFinished: crawl('scimmy')?.complete === true,
    },
    peakRss: { floor: r2(peak('xero-scim') / peak('floor')), httpFloor: r2(peak('xero-scim') / peak('http-floor')), scimmy: r2(peak('xero-scim') / peak('scimmy')) },
  };
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  return [line(head), `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : '—');
/** `ratio` NaN means the figure was not measured in this run (no verdict then). */
const verdict = (ok: boolean, ratio = 0) => (Number.isNaN(ratio) ? 'not measured' : ok ? 'met' : '**MISSED**');

/**
 * xero-scim ÷ SCIMMY in requests per second. When SCIMMY answered nothing within the slow-mode cap, its one
 * request of the answer check (one at a time) stands in: 1 ÷ that latency is what it can do at best.
 */
function scimmyRatio(s: ServingResult, w: WorkloadName, ratio: number): string {
  if (!s.servers.scimmy) return '—';
  if (Number.isFinite(ratio)) return `${fmt(ratio, ratio < 10 ? 1 : 0)}×`;
  const single = s.servers.scimmy.validation.latencyMs?.[w] ?? [];
  const xero = s.servers['xero-scim'].workloads[w]?.requestsPerSecond ?? NaN;
  if (single.length === 0 || !Number.isFinite(xero)) return '—';
  const slowest = Math.min(...single);
  return `≈ ${fmt((xero * slowest) / 1000, 0)}× (SCIMMY: no answer within the cap; one request took ${fmt(slowest / 1000, 1)} s)`;
}

export function renderServing(s: ServingResult, assess: boolean): string {
  const out: string[] = [];
  out.push(`### ${fmt(s.users)} users (${fmt(s.organisations)} organisations, ${fmt(s.memberships)} memberships)`);
  out.push('');
  out.push(`xero-scim loaded by ${s.load.method}: ${fmt(s.load.syncMs)} ms. Snapshot: ${s.snapshotMemory.snapshotMiBPer1000Memberships} MiB of heap per 1,000 memberships (${s.snapshotMemory.withViewsMiBPer1000Memberships} MiB with the rendered User and Group views, heap and Buffers; their serialised resources alone are ${fmt((s.snapshotMemory.heap as { serialisedMiB?: number }).serialisedMiB ?? NaN, 1)} MiB)`);
  out.push('');
  const present = SERVERS.filter((name) => s.servers[name] !== undefined);
  for (const name of present) {
    const v = s.servers[name]!.validation;
    if (v.errors.length > 0) out.push(`- **${name} answered wrongly; its figures are left out:** ${v.errors.slice(0, 3).join('; ')}`);
    if (v.deviations.length > 0) out.push(`- ${name} (answers correct, protocol deviations): ${v.deviations.join('; ')}`);
    if (s.servers[name]!.failure) out.push(`- **${name} failed** (${s.servers[name]!.failure}); figures after that are missing.`);
  }
  out.push('');
  const rows: (string | number)[][] = [];
  let anySlow = false;
  for (const w of WORKLOADS) {
    for (const name of present) {
      const f = s.servers[name]!.workloads[w];
      if (!f) continue;
      const slow = f.runs.some((r) => r.slowMode !== undefined);
      if (slow) anySlow = true;
      rows.push([
        name === 'xero-scim' ? WORKLOAD_TITLES[w] : '',
        name,
        `${fmt(f.requestsPerSecond, f.requestsPerSecond < 10 ? 2 : 0)}${slow ? ' †' : ''}`,
        fmt(f.p50Ms, 1),
        fmt(f.p99Ms, 1),
        fmt(f.serverCpuPercent),
        fmt(f.serverCpuMicrosPerRequest),
        fmt(f.driverCpuPercent),
        fmt(f.bytesPerRequest),
        `${f.runs.map((r) => fmt(r.requestsPerSecond, r.requestsPerSecond < 10 ? 2 : 0)).join(' / ')}${f.clean ? '' : ' (errors!)'}`,
      ]);
    }
  }
  out.push(table(['workload', 'server', 'req/s', 'p50 ms', 'p99 ms', 'server CPU %', 'CPU µs/req', 'driver CPU %', 'bytes/resp', 'runs req/s'], rows));
  if (anySlow) {
    out.push('');
    out.push(
      '† Too slow for 32 connections (fewer answers than connections in the warm-up): measured one request at a time over 1 connection, for the run\'s duration and at least 3 requests, stopped at the slow-mode cap; latency is then one request\'s, not 32 queued ones\'. A run with no answer within the cap shows 0.',
    );
  }
  out.push('');
  const median = (values: readonly number[] | undefined) => {
    if (!values || values.length === 0) return NaN;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)]!;
  };
  out.push(
    table(
      ['answer check, one request at a time (median ms)', '(a)', '(b)', '(c)', '(d)'],
      present.map((name) => {
        const l = s.servers[name]!.validation.latencyMs;
        return [name, fmt(median(l?.a), 1), fmt(median(l?.b), 1), fmt(median(l?.c), 1), fmt(median(l?.d), 1)];
      }),
    ),
  );
  out.push('');
  const crawlRows = present.flatMap((name) => {
    const c = s.servers[name]!.crawl;
    if (!c) return [];
    return [[name, fmt(c.wallMs / 1000, 1), fmt(c.listMs / 1000, 1), fmt(c.pages), fmt(c.usersListed), fmt(c.usersFetched), fmt(c.duplicates), c.complete ? 'yes' : c.timedOut ? 'no (time limit)' : 'no', fmt(c.serverCpuMs / 1000, 1)]];
  });
  out.push(table(['(e) crawl', 'wall s', 'listing s', 'pages', 'users listed', 'fetched by id', 'seen twice', 'every user exactly once', 'server CPU s'], crawlRows));
  out.push('');
  out.push(
    table(
      ['memory', 'RSS after load MiB', 'RSS at end MiB', 'peak RSS MiB', 'restarts'],
      present.map((name) => {
        const f = s.servers[name]!;
        return [name, fmt(f.memoryAfterLoad.rssMiB), fmt(f.memoryAtEnd.rssMiB), fmt(f.memoryAtEnd.peakRssMiB), fmt(f.restarts ?? 0)];
      }),
    ),
  );
  out.push('');
  const r = ratios(s);
  // The targets are against the Express floor; the node:http floor's ratio shows how much of the rest is Express.
  const times = (ratio: number) => (Number.isFinite(ratio) ? `${fmt(ratio, 2)}×` : '—');
  const ratioRows: (string | number)[][] = WORKLOADS.map((w) => {
    const target = TARGETS[w].min;
    const t = r.throughput[w]!;
    return [WORKLOAD_TITLES[w], times(t.floor), `≥ ${target}×`, assess ? verdict(t.floor >= target, t.floor) : '', times(t.httpFloor), scimmyRatio(s, w, t.scimmy)];
  });
  ratioRows.push([
    '(e) crawl wall time (lower is better)',
    times(r.crawl.floor),
    `≤ ${TARGETS.crawl.max}×`,
    assess ? verdict(r.crawl.floor <= TARGETS.crawl.max, r.crawl.floor) : '',
    times(r.crawl.httpFloor),
    r.crawl.scimmyFinished ? `${fmt(r.crawl.scimmy, 3)}×` : s.servers.scimmy?.crawl ? 'SCIMMY did not finish within the limit' : '—',
  ]);
  ratioRows.push(['peak RSS (lower is better)', times(r.peakRss.floor), `≤ ${TARGETS.peakRss.max}×`, assess ? verdict(r.peakRss.floor <= TARGETS.peakRss.max, r.peakRss.floor) : '', times(r.peakRss.httpFloor), times(r.peakRss.scimmy)]);
  out.push(table(['ratio (xero-scim ÷ …)', '÷ Express floor', 'target', assess ? 'verdict' : '', '÷ node:http floor', '÷ SCIMMY'], ratioRows));
  return out.join('\n');
}

export function renderSync(sync: SyncResults): string {
  const out: string[] = [];
  out.push(`### Sync against the sandbox (limits enforced, ${sync.latencyMs} ms per call, XERO_CONCURRENCY ${sync.xeroConcurrency})`);
  out.push('');
  const rows: (string | number)[][] = [];
  for (const s of sync.sizes) {
    for (const [label, p] of [
      ['first', s.first],
      ['steady', s.steady],
    ] as const) {
      rows.push([
        label === 'first' ? `${fmt(s.organisations)} orgs (${fmt(s.memberships)} memberships)` : '',
        label,
        fmt(p.run.wallMs / 1000, 2),
        fmt(p.lowerBoundMs / 1000, 2),
        `${fmt(p.boundRatio, 2)}× ${verdict(p.boundRatio <= TARGETS.syncBound.max)}`,
        fmt(p.callsPerOrganisation, 2),
        p.usersCallsPerOrganisation.min === p.usersCallsPerOrganisation.max ? fmt(p.usersCallsPerOrganisation.min) : `${p.usersCallsPerOrganisation.min}–${p.usersCallsPerOrganisation.max}`,
        fmt(p.xeroCalls.total),
        fmt(p.status429),
      ]);
    }
  }
  out.push(table(['organisations', 'sync', 'wall s', 'lower bound s', 'wall ÷ bound (≤ 1.5)', 'Xero calls/org', 'Users calls/org', 'all Xero calls', '429s'], rows));
  out.push('');
  const baton: (string | number)[][] = [];
  for (const s of sync.sizes) {
    for (const b of s.baton) {
      baton.push([fmt(s.organisations), fmt(b.organisations), fmt(b.wallMs / 1000, 2), fmt(b.perOrganisationMs / 1000, 2), fmt(b.callsPerOrganisation), fmt(s.steady.run.wallMs / 1000, 2), Object.entries(b.statuses).map(([k, v]) => `${v}×${k}`).join(' ')]);
    }
  }
  out.push(table(["baton-xero pattern: sandbox orgs", 'orgs read', 'wall s', 's per org', 'calls/org', 'xero-scim steady sync of all orgs, s', 'statuses'], baton));
  out.push('');
  // Below ~10,000 memberships the fixed heap of a first sync (modules loaded on first use, budgets) dominates.
  out.push(
    table(
      ['organisations', 'memberships', 'snapshot heap MiB per 1,000 memberships'],
      sync.sizes.map((s) => [fmt(s.organisations), fmt(s.memberships), s.memberships >= 10_000 ? fmt(s.snapshotMiBPer1000Memberships, 3) : 'too few to measure']),
    ),
  );
  return out.join('\n');
}

/** Targets of the replicas part. */
export const REPLICA_TARGETS = { lagP99Ms: 2_000 } as const;

export function renderReplicas(r: ReplicaResults): string {
  const out: string[] = [];
  out.push(
    `### Replicas on one Redis (${fmt(r.users)} users: ${fmt(r.organisations)} organisations, ${fmt(r.memberships)} memberships; limits enforced, ${r.latencyMs} ms per call; LEADER_LEASE_SECONDS ${r.leaseSeconds}, SYNC_INTERVAL_SECONDS ${r.syncIntervalSeconds})`,
  );
  out.push('');
  const equal = r.callsPerSync.every((c) => c.callsPerSync === r.callsPerSync[0]?.callsPerSync && c.replicasCallingXero === 1);
  out.push(
    table(
      ['replicas', 'syncs seen', 'Xero calls', 'Xero calls per sync', 'token calls per sync', 'replicas calling Xero'],
      r.callsPerSync.map((c) => [fmt(c.replicas), fmt(c.syncs), fmt(c.xeroCalls), fmt(c.callsPerSync, 1), fmt(c.tokenCallsPerSync, 2), fmt(c.replicasCallingXero)]),
    ),
  );
  out.push('');
  out.push(`Xero calls per sync equal for 1, 2 and 3 replicas, all from one replica: ${equal ? 'yes' : '**NO**'}`);
  out.push('');
  const failover = (pick: (f: ReplicaResults['failovers'][number]) => number) => r.failovers.map((f) => fmt(pick(f) / 1000, 1)).join(' / ');
  const memoryRow = (name: string, m: { rssMiB: number; peakRssMiB: number }) => [name, fmt(m.rssMiB), fmt(m.peakRssMiB)];
  out.push(
    table(
      ['measure', 'value', 'target', 'verdict'],
      [
        [`follower lag after the publish, p50 (${r.lagMs.samples.length} samples)`, `${fmt(r.lagMs.p50)} ms`, '', ''],
        ['follower lag after the publish, p99', `${fmt(r.lagMs.p99)} ms`, `≤ ${fmt(REPLICA_TARGETS.lagP99Ms)} ms`, verdict(r.lagMs.p99 <= REPLICA_TARGETS.lagP99Ms, r.lagMs.p99)],
        ['follower lag after the publish, max', `${fmt(r.lagMs.max)} ms`, '', ''],
        ...(r.lagFromLeaderMs
          ? [
              ['follower lag after the leader served it, p50 / p99', `${fmt(r.lagFromLeaderMs.p50)} / ${fmt(r.lagFromLeaderMs.p99)} ms`, '', ''] as [string, string, string, string],
            ]
          : []),
        [`failover: leader SIGKILLed → another leads, s (${r.failovers.length} samples)`, failover((f) => f.leadershipMs), '', ''],
        ['failover: leader SIGKILLed → its successor’s sync served, s', failover((f) => f.publishedMs), '', ''],
        ['new replica: start → serving the current version, s', r.replicaStartMs.map((ms) => fmt(ms / 1000, 1)).join(' / '), '', ''],
      ],
    ),
  );
  out.push('');
  out.push(table(['memory', 'RSS MiB', 'peak RSS MiB'], [memoryRow('leader', r.memory.leader), ...r.memory.followers.map((m, i) => memoryRow(`follower ${i + 1}`, m))]));
  return out.join('\n');
}

/** Targets of the scale part (set for the issue's 1,000,000 memberships; the peak's only there). */
export const SCALE_TARGETS = { syncBound: 1.1, peakRssMiB: 1024, peakAtMemberships: 1_000_000, restartMs: 5_000, firstListMs: 100, containsMs: 500 } as const;

function renderScaleSize(s: ScaleSize, appCallsPerMinute: number): string {
  const out: string[] = [];
  out.push(`### Scale: ${fmt(s.size)} memberships (${fmt(s.organisations)} organisations × ${fmt(s.data.usersPerOrganisation ?? NaN)} users, seed ${s.data.seed}: ${fmt(s.memberships)} memberships, ${fmt(s.people)} people)${s.maxHeapMb === undefined ? '' : `, serve with --max-old-space-size=${s.maxHeapMb}`}${s.renderCacheMb === undefined ? '' : `, SCIM_RENDER_CACHE_MB=${s.renderCacheMb}`}`);
  out.push('');
  if (s.failure) {
    out.push(`**Failed** at ${s.failure}; the figures after that step are missing.`);
    out.push('');
  }
  const f = s.firstSync;
  const first = s.first;
  const again = s.restarted;
  const p = again?.probes;
  const ms = (n: number | undefined) => (n === undefined ? '—' : `${fmt(n, n < 10 ? 1 : 0)} ms`);
  const judge = (value: number | undefined, ok: (v: number) => boolean) => (value === undefined || Number.isNaN(value) ? 'not measured' : verdict(ok(value)));
  const peaks = [first?.memoryAfterProbes?.peakRssMiB, again?.memoryAfterProbes?.peakRssMiB].filter((v): v is number => v !== undefined);
  const peak = peaks.length > 0 ? Math.max(...peaks) : undefined;
  const atPeakSize = s.memberships >= SCALE_TARGETS.peakAtMemberships * 0.99;
  const rows: string[][] = [
    [
      `first sync, s (bound: ${fmt(f?.appLimitedCalls ?? NaN)} calls ÷ ${fmt(appCallsPerMinute)} a minute)`,
      f ? `${fmt(f.wallMs / 1000, 1)} (bound ${fmt(f.boundMs / 1000, 1)}: ${fmt(f.ratioToBound, 2)}×)` : '—',
      `≤ ${SCALE_TARGETS.syncBound}× the bound`,
      judge(f?.ratioToBound, (v) => v <= SCALE_TARGETS.syncBound),
    ],
    ['Xero calls, all / 429s', f ? `${fmt(f.xeroCalls)} / ${fmt(f.status429)}` : '—', '', ''],
    ['RSS when first serving, MiB', fmt(first?.rssAtFirstServing.rssMiB ?? NaN), '', ''],
    [
      'peak RSS after the probes, MiB: first process / restarted',
      `${fmt(first?.memoryAfterProbes?.peakRssMiB ?? NaN)} / ${fmt(again?.memoryAfterProbes?.peakRssMiB ?? NaN)}`,
      `≤ ${fmt(SCALE_TARGETS.peakRssMiB)} at ${fmt(SCALE_TARGETS.peakAtMemberships)} memberships`,
      atPeakSize ? judge(peak, (v) => v <= SCALE_TARGETS.peakRssMiB) : '',
    ],
    [
      'restart with Xero down → first `GET /Users?count=1` 200, s',
      s.restart ? fmt(s.restart.firstAnswerMs / 1000, 2) : '—',
      `≤ ${fmt(SCALE_TARGETS.restartMs / 1000)} s`,
      judge(s.restart?.firstAnswerMs, (v) => v <= SCALE_TARGETS.restartMs),
    ],
    ['state file, MiB', s.restart ? fmt(s.restart.stateFileBytes / 2 ** 20, 1) : '—', '', ''],
    ['RSS of the restarted process when first serving, MiB', fmt(again?.rssAtFirstServing.rssMiB ?? NaN), '', ''],
    ['first `GET /Groups?excludedAttributes=members&count=1000` (restarted) / second', p ? `${ms(p.groups.firstMs)} / ${ms(p.groups.secondMs)}` : '—', `≤ ${SCALE_TARGETS.firstListMs} ms`, judge(p?.groups.firstMs, (v) => v <= SCALE_TARGETS.firstListMs)],
    ['first `GET /Roles?count=100` (restarted) / second', p ? `${ms(p.roles.firstMs)} / ${ms(p.roles.secondMs)}` : '—', `≤ ${SCALE_TARGETS.firstListMs} ms`, judge(p?.roles.firstMs, (v) => v <= SCALE_TARGETS.firstListMs)],
    [`\`filter=userName co "zz"\`, median of ${p?.contains.samplesMs.length ?? 0} (max)`, p ? `${ms(p.contains.medianMs)} (${ms(p.contains.maxMs)}), ${fmt(p.contains.totalResults)} found` : '—', `≤ ${SCALE_TARGETS.containsMs} ms`, judge(p?.contains.medianMs, (v) => v <= SCALE_TARGETS.containsMs)],
    [`\`userName eq\`, median of ${p?.userNameEq.samplesMs.length ?? 0} (max)`, p ? `${ms(p.userNameEq.medianMs)} (${ms(p.userNameEq.maxMs)})` : '—', '', ''],
    [`page of 100, median of ${p?.pages.samplesMs.length ?? 0} at ${p?.pages.startIndexes.length ?? 0} offsets (max)`, p ? `${ms(p.pages.medianMs)} (${ms(p.pages.maxMs)})` : '—', '', ''],
    [
      'crawl of /Users by pages of 1,000, s: first process / restarted',
      [first?.probes?.crawl, p?.crawl].map((c) => (c ? `${fmt(c.wallMs / 1000, 1)}${c.complete ? '' : ` (incomplete: ${fmt(c.usersListed)} listed${c.timedOut ? ', time limit' : ''})`}` : '—')).join(' / '),
      '',
      '',
    ],
  ];
  out.push(table(['measure', 'value', 'target', 'verdict'], rows));
  const before = first?.probes;
  if (before) {
    out.push('');
    out.push(
      `On the first process, after its sync: groups ${ms(before.groups.firstMs)} / ${ms(before.groups.secondMs)}, roles ${ms(before.roles.firstMs)} / ${ms(before.roles.secondMs)}, co "zz" ${ms(before.contains.medianMs)}, eq ${ms(before.userNameEq.medianMs)}, page ${ms(before.pages.medianMs)}.`,
    );
  }
  return out.join('\n');
}

export function renderScale(scale: ScaleResults): string {
  return scale.sizes.map((s) => renderScaleSize(s, scale.appCallsPerMinute)).join('\n\n');
}

/** The one run these results come from; throws when they come from more than one (ratios across runs mislead). */
export function sameRun(results: readonly BenchResults[]): BenchResults {
  const ids = [...new Set(results.map((r) => r.runId))];
  if (ids.length !== 1) {
    throw new Error(`Refusing to compare figures from different runs (${ids.join(', ') || 'none'}): ratios are only meaningful within one run on one machine.`);
  }
  return results[0]!;
}

export function renderReport(results: BenchResults): string {
  const out: string[] = [];
  out.push(`## Run ${results.runId}`);
  out.push('');
  out.push(
    `${results.machine.cpus} × ${results.machine.cpuModel}, ${results.machine.memoryGiB} GiB, Node ${results.machine.node}; load average ${results.machine.loadAverageAtStart.toFixed(2)} at start${results.machine.loadAverageAtEnd === undefined ? '' : `, ${results.machine.loadAverageAtEnd.toFixed(2)} at end`}. ${results.options.connections} connections, ${results.options.warmupSeconds} s warm-up, 2 × ${results.options.durationSeconds} s per workload and server.`,
  );
  const largest = Math.max(...results.serving.map((s) => s.users));
  for (const s of results.serving) {
    out.push('');
    // The targets are stated for 100,000 users; smaller sizes are shown without a verdict.
    out.push(renderServing(s, s.users === largest && s.users >= 90_000));
  }
  if (results.sync) {
    out.push('');
    out.push(renderSync(results.sync));
  }
  if (results.replicas) {
    out.push('');
    out.push(renderReplicas(results.replicas));
  }
  if (results.scale) {
    out.push('');
    out.push(renderScale(results.scale));
  }
  return out.join('\n');
}
