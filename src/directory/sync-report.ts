/**
 * The report of one sync (what `sync --once` prints, metrics count and the status page charts), built as a pure
 * function of the tenant states after the sync and what the sync counted on the way. Its types live here so the
 * readers of a report (`ops/`, `commands/`) depend on this file alone, not on the sync machinery.
 */
import { isoTime } from '../xero/clock';
import type { GuardPolicy } from './guard';
import type { SuspicionReason, TenantHealth } from './model';
import { tenantHealth } from './status';
import type { TenantState } from './tenant-state';

export interface SyncProgress {
  readonly organisationsDone: number;
  readonly organisationsTotal: number;
  /** Xero calls so far in this sync (token, /connections, Organisation, Users; retries included). */
  readonly calls: number;
  /** 429 answers so far in this sync. */
  readonly rateLimited: number;
}

export interface ErrorSummary {
  readonly code: string;
  readonly message: string;
}

export interface TenantSyncReport {
  readonly organisationId: string;
  readonly name?: string;
  /**
   * current: fetched now; stale: kept last good data after a failure or a suspect answer (see `suspicion`); missing:
   * no data yet; removed: gone from the directory (disconnected and confirmed, or left out by XERO_TENANT_IDS).
   */
  readonly result: 'current' | 'stale' | 'missing' | 'removed';
  readonly suspicion?: TenantHealth['suspicion'];
  readonly error?: ErrorSummary;
  /** Xero calls attempted for it in this sync (retries included). */
  readonly calls: number;
  /** How long its part of this sync took (waits for the rate budget included); absent when it was not synced. */
  readonly durationMs?: number;
  readonly userCount?: number;
  /** Seconds since its data was last fetched successfully (how stale a stale one is). */
  readonly ageSeconds?: number;
  /** Lower bounds of Xero's remaining allowance for it, from the last answers. */
  readonly rateBudget?: { readonly minuteRemaining?: number; readonly dayRemaining?: number };
}

export interface SyncReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly outcome: 'ok' | 'partial' | 'failed';
  /** Why the whole sync failed (token, /connections). */
  readonly error?: ErrorSummary;
  readonly snapshotVersion?: string;
  /** False when the content is unchanged and the previous snapshot object is still served. */
  readonly changed: boolean;
  readonly calls: SyncCalls;
  /** 429 answers received in this sync. */
  readonly rateLimited: number;
  readonly tenants: readonly TenantSyncReport[];
  /** Suspicions this sync raised (a new one, or a new reason), by reason. */
  readonly suspicionsRaised: readonly SuspicionReason[];
}

export interface SyncCalls {
  readonly token: number;
  readonly connections: number;
  readonly organisation: number;
  readonly users: number;
}

/** What a sync counts per organisation as it goes (`tenant-sync.ts` adds to it). */
export interface TenantCounts {
  organisation: number;
  users: number;
  /** Xero calls per organisation id. */
  readonly perTenant: Map<string, number>;
  /** Milliseconds its part took, per organisation id. */
  readonly durations: Map<string, number>;
}

export function emptyCounts(): TenantCounts {
  return { organisation: 0, users: 0, perTenant: new Map(), durations: new Map() };
}

/** One organisation's line of the report, from its state after the sync. */
function tenantReport(state: TenantState, counts: TenantCounts, nowMs: number, policy: GuardPolicy): TenantSyncReport {
  const h = tenantHealth(state, policy);
  const durationMs = counts.durations.get(state.id);
  return {
    organisationId: state.id,
    ...(h.name ? { name: h.name } : {}),
    result: h.state,
    ...(h.suspicion ? { suspicion: h.suspicion } : {}),
    ...(h.state !== 'current' && state.lastError ? { error: { code: state.lastError.code, message: state.lastError.message } } : {}),
    calls: counts.perTenant.get(state.id) ?? 0,
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(h.userCount === undefined ? {} : { userCount: h.userCount }),
    ...(state.lastSuccessAt ? { ageSeconds: Math.max(0, Math.round((nowMs - Date.parse(state.lastSuccessAt)) / 1000)) } : {}),
    ...(h.rateBudget ? { rateBudget: h.rateBudget } : {}),
  };
}

export interface SyncFacts {
  readonly startedMs: number;
  readonly finishedMs: number;
  /** Why the whole sync failed, if it did. */
  readonly failure?: ErrorSummary;
  readonly snapshotVersion?: string;
  readonly changed: boolean;
  readonly calls: SyncCalls;
  readonly rateLimited: number;
  /** Every organisation still known after the sync. */
  readonly states: readonly TenantState[];
  readonly counts: TenantCounts;
  /** Organisations this sync removed (they have no state left). */
  readonly removed: readonly TenantSyncReport[];
  readonly raised: readonly SuspicionReason[];
  readonly policy: GuardPolicy;
}

/** ok: every organisation current; partial: some stale or missing; failed: the sync as a whole (token, /connections). */
export function buildSyncReport(facts: SyncFacts): SyncReport {
  const tenants = facts.states.map((s) => tenantReport(s, facts.counts, facts.finishedMs, facts.policy));
  const outcome: SyncReport['outcome'] = facts.failure ? 'failed' : tenants.every((t) => t.result === 'current') ? 'ok' : 'partial';
  return {
    startedAt: isoTime(facts.startedMs),
    finishedAt: isoTime(facts.finishedMs),
    durationMs: facts.finishedMs - facts.startedMs,
    outcome,
    ...(facts.failure ? { error: { code: facts.failure.code, message: facts.failure.message } } : {}),
    ...(facts.snapshotVersion ? { snapshotVersion: facts.snapshotVersion } : {}),
    changed: facts.changed,
    calls: facts.calls,
    rateLimited: facts.rateLimited,
    tenants: [...tenants, ...facts.removed].sort((a, b) => (a.organisationId < b.organisationId ? -1 : 1)),
    suspicionsRaised: facts.raised,
  };
}
