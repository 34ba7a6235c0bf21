/**
 * What the directory says of itself (`/readyz`, metrics, the status page): each organisation's health and the
 * overall status, as pure functions of the tenant states, the last sync and the credential and STATE_DIR health.
 * Nothing here changes state or calls Xero, so the readiness rules are testable from plain values.
 */
import { type GuardPolicy, answersLeft } from './guard';
import type { CredentialHealth, DirectorySnapshot, DirectoryStatus, PersistenceHealth, ProblemReport, TenantHealth } from './model';
import type { ErrorSummary, SyncReport } from './sync-report';
import { type TenantState, memberCount } from './tenant-state';

/** What the last sync left behind for the status (restored from STATE_DIR at start). */
export interface LastSync {
  /** When it finished. */
  readonly at?: string;
  /** When it finished, in clock milliseconds (live mode's freshness); 0 before the first sync of this process. */
  readonly finishedAtMs: number;
  readonly outcome?: SyncReport['outcome'];
  /** Why it failed as a whole (token, /connections), when it did. */
  readonly error?: ProblemReport;
  /** The end of the last sync that was not a failure. */
  readonly successfulAt?: string;
  readonly report?: SyncReport;
}

/** The last sync as the status reports it, once `report` is done (`failure`: why it failed as a whole, if it did). */
export function afterSync(previous: LastSync, report: SyncReport, failure: ErrorSummary | undefined): LastSync {
  return {
    at: report.finishedAt,
    finishedAtMs: Date.parse(report.finishedAt),
    outcome: report.outcome,
    ...(failure ? { error: { code: failure.code, message: failure.message, at: report.finishedAt } } : {}),
    ...(failure ? (previous.successfulAt ? { successfulAt: previous.successfulAt } : {}) : { successfulAt: report.finishedAt }),
    report,
  };
}

/** current: its last fetch was taken; stale: it serves older data after a failure or a suspect answer; missing: no data. */
export function tenantHealth(state: TenantState, policy: GuardPolicy): TenantHealth {
  const budget = state.budget.status();
  const failed = state.lastError !== undefined || state.suspicion !== undefined; // both cleared by a success
  const left = state.suspicion ? answersLeft(state.suspicion, policy) : undefined;
  return {
    organisationId: state.id,
    ...(state.data || state.connection ? { name: state.data?.organisation.name ?? state.connection?.tenantName } : {}),
    state: state.data === undefined ? 'missing' : failed ? 'stale' : 'current',
    ...(state.suspicion ? { suspicion: { ...state.suspicion, ...(left === undefined ? {} : { answersLeft: left }) } } : {}),
    ...(state.lastSuccessAt ? { lastSuccessAt: state.lastSuccessAt } : {}),
    ...(state.lastAttemptAt ? { lastAttemptAt: state.lastAttemptAt } : {}),
    ...(state.lastError ? { lastError: state.lastError } : {}),
    ...(state.data ? { userCount: memberCount(state.data) } : {}),
    ...(state.callsLastSync === undefined ? {} : { callsLastSync: state.callsLastSync }),
    ...(budget.minuteRemaining !== undefined || budget.dayRemaining !== undefined
      ? {
          rateBudget: {
            ...(budget.minuteRemaining === undefined ? {} : { minuteRemaining: budget.minuteRemaining }),
            ...(budget.dayRemaining === undefined ? {} : { dayRemaining: budget.dayRemaining }),
          },
        }
      : {}),
  };
}

export interface StatusInputs {
  readonly snapshot: DirectorySnapshot | undefined;
  readonly lastSync: LastSync;
  /** An error only an operator can end (refused credentials, none configured). */
  readonly terminal: { readonly code: string; readonly message: string } | undefined;
  readonly credentials: CredentialHealth;
  readonly persistence: PersistenceHealth;
  /** Sorted by id. */
  readonly tenants: readonly TenantState[];
  readonly policy: GuardPolicy;
}

/**
 * Ready means a snapshot is held: SCIM reads are answered from it whatever Xero says now. Without one, the reason
 * names the real cause (refused credentials, Xero unreachable), as the SCIM 503 repeats it.
 */
export function directoryStatus(inputs: StatusInputs): DirectoryStatus {
  const { snapshot, lastSync } = inputs;
  let cause: DirectoryStatus['cause'];
  let reason: string | undefined;
  if (!snapshot) {
    cause = summarise(inputs.terminal ?? lastSync.error) ?? (lastSync.at ? unreadOrganisations(inputs.tenants) : undefined);
    reason = cause ? `no directory snapshot yet: ${cause.code}: ${cause.message}` : 'no directory snapshot yet (first sync pending)';
  } else if (snapshot.organisations.length === 0) {
    // An empty directory reads as "everyone's access revoked" to an IGA tool: never ready.
    cause = { code: 'NO_ORGANISATIONS', message: 'the directory has no organisation (none connected to the Xero app, or none in XERO_TENANT_IDS)' };
    reason = cause.message;
  }
  return {
    ready: reason === undefined,
    ...(reason ? { reason } : {}),
    ...(cause ? { cause } : {}),
    ...(lastSync.at ? { lastSyncAt: lastSync.at } : {}),
    ...(lastSync.outcome ? { lastSyncOutcome: lastSync.outcome } : {}),
    ...(lastSync.error ? { lastSyncError: lastSync.error } : {}),
    ...(lastSync.successfulAt ? { lastSuccessfulSyncAt: lastSync.successfulAt } : {}),
    credentials: inputs.credentials,
    persistence: inputs.persistence,
    tenants: inputs.tenants.map((s) => tenantHealth(s, inputs.policy)),
  };
}

const summarise = (error: { readonly code: string; readonly message: string } | undefined) =>
  error ? { code: error.code, message: error.message } : undefined;

/** After a sync that read no organisation (each failed on its own): the first one's error, and how many more failed. */
function unreadOrganisations(tenants: readonly TenantState[]): DirectoryStatus['cause'] {
  const failed = tenants.filter((t) => t.lastError !== undefined);
  const first = failed[0]?.lastError;
  if (!first) return undefined;
  const more = failed.length > 1 ? ` (and ${failed.length - 1} more organisation${failed.length > 2 ? 's' : ''})` : '';
  return { code: first.code, message: `no organisation could be read: ${first.message.replace(/\.$/, '')}${more}` };
}

/** STATE_DIR health: the directory state's last write, or a rotated refresh token it refused. */
export function persistenceHealth(lastSavedAt: string | undefined, stateWriteError: ProblemReport | undefined, tokenWriteError: ProblemReport | undefined): PersistenceHealth {
  const error = stateWriteError ?? tokenWriteError;
  return { ok: error === undefined, ...(lastSavedAt ? { lastSavedAt } : {}), ...(error ? { error } : {}) };
}
