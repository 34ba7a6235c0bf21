/**
 * The sync benchmark: for each organisation count, a sandbox with Xero's limits enforced and a fixed latency on
 * every call; xero-scim's first sync and a steady-state sync, counted by the sandbox; then baton-xero's pattern
 * against the same sandbox.
 *
 * The lower bound is what the limits allow the sync as configured: calls × latency ÷ usable concurrency, where the
 * token refresh and `/connections` are sequential, and the per-organisation calls run with `min(organisations,
 * XERO_CONCURRENCY)` in flight (one call per organisation at a time, well under Xero's 5 concurrent per
 * organisation; the 60/minute and 10,000/minute-per-app limits do not bind at ≤ 2 calls per organisation).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { SandboxCounters } from '../../src/sandbox';
import { Child } from '../ipc';
import type { BenchOptions } from '../options';
import { round } from '../proc';
import type { SandboxInfo } from '../servers/sandbox-process';
import type { BatonRun } from './baton-process';
import type { SyncRun } from './sync-process';
import { V8_FLAGS } from '../../src/runtime';

export interface SyncPhase {
  run: SyncRun;
  /** From the sandbox's counters. */
  xeroCalls: { total: number; token: number; connections: number; organisation: number; users: number; user: number };
  callsPerOrganisation: number;
  usersCallsPerOrganisation: { min: number; max: number };
  status429: number;
  lowerBoundMs: number;
  /** wall time ÷ lower bound; target ≤ 1.5. */
  boundRatio: number;
}

export interface SyncSizeResult {
  organisations: number;
  memberships: number;
  latencyMs: number;
  usableConcurrency: number;
  first: SyncPhase;
  steady: SyncPhase;
  snapshotMiBPer1000Memberships: number;
  baton: BatonRun[];
}

export interface SyncResults {
  latencyMs: number;
  xeroConcurrency: number;
  sizes: SyncSizeResult[];
}

function log(message: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);
}

function phase(run: SyncRun, counters: SandboxCounters, organisations: number, latencyMs: number, concurrency: number): SyncPhase {
  const tenants = Object.values(counters.byTenant);
  const sum = (key: 'Users' | 'User' | 'Organisation') => tenants.reduce((n, t) => n + t[key], 0);
  const token = counters.token.refresh_token + counters.token.client_credentials + counters.token.authorization_code + counters.token.other;
  const connections = Object.entries(counters.byEndpoint)
    .filter(([k]) => k.includes('/connections'))
    .reduce((n, [, v]) => n + v, 0);
  const perTenantCalls = sum('Users') + sum('Organisation') + sum('User');
  const usersCalls = tenants.map((t) => t.Users);
  // Tenants never called do not appear in the counters: a tenant with no Users call has 0.
  const minUsers = tenants.length < organisations ? 0 : Math.min(...usersCalls);
  const lowerBoundMs = latencyMs * ((token + connections) + perTenantCalls / concurrency);
  return {
    run,
    xeroCalls: { total: counters.total, token, connections, organisation: sum('Organisation'), users: sum('Users'), user: sum('User') },
    callsPerOrganisation: round(perTenantCalls / organisations, 3),
    usersCallsPerOrganisation: { min: minUsers, max: Math.max(0, ...usersCalls) },
    status429: counters.status429,
    lowerBoundMs: Math.round(lowerBoundMs),
    boundRatio: round(run.wallMs / lowerBoundMs, 2),
  };
}

export async function runSync(options: BenchOptions, runDir: string): Promise<SyncResults> {
  const sizes: SyncSizeResult[] = [];
  let xeroConcurrency = 0;
  for (const organisations of options.syncOrganisations) {
    const work = mkdtempSync(path.join(os.tmpdir(), 'xero-scim-sync-bench-'));
    const children: Child[] = [];
    try {
      log(`sync: sandbox with ${organisations} organisations, limits enforced, ${options.latencyMs} ms per call`);
      const sandbox = await Child.start<SandboxInfo>('sandbox', {
        script: 'servers/sandbox-process.js',
        input: { data: { seed: 11, organisations }, limits: { enforce: true }, latency: { fixedMs: options.latencyMs } },
      });
      children.push(sandbox);
      const client = await Child.start<{ concurrency: number }>('sync', {
        script: 'sync/sync-process.js',
        input: { sandbox: sandbox.info, stateDir: path.join(work, 'state') },
        execArgv: [...V8_FLAGS, '--expose-gc', ...(options.profile ? ['--cpu-prof', `--cpu-prof-dir=${path.join(runDir, 'profiles')}`, `--cpu-prof-name=sync-${organisations}.cpuprofile`] : [])],
      });
      children.push(client);
      xeroConcurrency = client.info.concurrency;
      const concurrency = Math.min(organisations, client.info.concurrency);

      await sandbox.call('resetCounters');
      const firstRun = await client.call<SyncRun>('sync');
      const first = phase(firstRun, await sandbox.call<SandboxCounters>('counters'), organisations, options.latencyMs, concurrency);
      log(`sync ${organisations} orgs first: ${firstRun.wallMs} ms (bound ${first.lowerBoundMs} ms), ${first.callsPerOrganisation} calls/org, ${first.status429} × 429`);
      await sandbox.call('resetCounters');
      const steadyRun = await client.call<SyncRun>('sync');
      const steady = phase(steadyRun, await sandbox.call<SandboxCounters>('counters'), organisations, options.latencyMs, concurrency);
      log(`sync ${organisations} orgs steady: ${steadyRun.wallMs} ms (bound ${steady.lowerBoundMs} ms), ${steady.callsPerOrganisation} calls/org, ${steady.status429} × 429`);
      const mem = await client.call<{ before: { heapUsedMiB: number }; after: { heapUsedMiB: number }; memberships: number }>('memory');
      await client.stop();

      const baton = await Child.start('baton', { script: 'sync/baton-process.js', input: sandbox.info });
      children.push(baton);
      const batonRuns: BatonRun[] = [];
      // baton-xero reads only the first connected organisation; at the smallest size it is also run over all of them.
      for (const count of organisations <= 10 ? [1, organisations] : [1]) {
        await sandbox.call('resetCounters');
        const refreshToken = await sandbox.call<string>('refreshToken');
        const run = await baton.call<BatonRun>('run', { organisations: count, refreshToken });
        batonRuns.push(run);
        log(`baton-xero pattern over ${run.organisations} org(s): ${run.wallMs} ms, ${run.callsPerOrganisation} calls/org, ${run.perOrganisationMs} ms/org`);
      }
      sizes.push({
        organisations,
        memberships: mem.memberships,
        latencyMs: options.latencyMs,
        usableConcurrency: concurrency,
        first,
        steady,
        snapshotMiBPer1000Memberships: round(((mem.after.heapUsedMiB - mem.before.heapUsedMiB) / Math.max(1, mem.memberships)) * 1000, 3),
        baton: batonRuns,
      });
    } finally {
      for (const child of children.reverse()) await child.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }
  return { latencyMs: options.latencyMs, xeroConcurrency, sizes };
}
