/**
 * One organisation's part of a sync, as a function of its state and what it needs: its details when they are due
 * (or it was renamed), then its users. Xero's answer is left in `state.answer` for the removal guard to judge
 * (`apply-verdict.ts` makes it the organisation's data); a failure records the error and keeps the last good data.
 * Every call goes through the organisation's rate budget and the one token renewal (`Credentials.withRenewal`).
 */
import type { Logger } from '../log';
import type { AccountingReader } from '../xero/accounting';
import type { Answer } from '../xero/budget';
import { type Clock, isoTime } from '../xero/clock';
import { toXeroError } from '../xero/errors';
import type { Connection } from '../xero/identity';
import type { Renewing } from './credentials';
import { toOrganisation, toUserRecord } from './from-xero';
import { packUsers } from './packed-users';
import type { TenantCounts } from './sync-report';
import type { TenantState } from './tenant-state';

export interface TenantSyncDeps {
  readonly accounting: AccountingReader;
  readonly credentials: Renewing;
  readonly clock: Clock;
  readonly logger: Logger;
  /** ORGANISATION_REFRESH_SECONDS in milliseconds: how long organisation details are kept before they are fetched again. */
  readonly organisationRefreshMs: number;
  /** This sync's counts, which it adds to. */
  readonly counts: TenantCounts;
}

/** Never rejects: a failure is recorded in `state.lastError`, and the last good data stays. */
export async function syncTenant(state: TenantState, connection: Connection, deps: TenantSyncDeps): Promise<void> {
  const { accounting, credentials, clock, logger, counts } = deps;
  const now = clock.now();
  state.lastAttemptAt = isoTime(now);
  const callsBefore = state.budget.status().calls;
  const call = <T>(operation: string, kind: 'organisation' | 'users', send: (accessToken: string, signal: AbortSignal) => Promise<Answer<T>>): Promise<T> =>
    credentials.withRenewal(operation, (accessToken) =>
      state.budget.call(operation, (signal) => {
        counts[kind]++;
        return send(accessToken(), signal);
      }),
    );
  try {
    const previous = state.connection;
    state.connection = connection;
    const renamed = previous !== undefined && previous.tenantName !== connection.tenantName;
    const due = !state.organisation || state.organisationFetchedAt === undefined || now - state.organisationFetchedAt >= deps.organisationRefreshMs;
    if (due || renamed) {
      try {
        state.organisation = toOrganisation(await call('GET Organisation', 'organisation', (t, signal) => accounting.getOrganisation(connection, t, signal)));
        state.organisationFetchedAt = clock.now();
      } catch (err) {
        // Details are slow-changing: keep the ones we have and still fetch users; without any, the tenant fails.
        if (!state.organisation) throw err;
        logger.warn({ organisationId: state.id, code: toXeroError(err, 'GET Organisation').code }, 'keeping previous organisation details');
      }
    }
    const organisation = state.organisation!;
    const users = (await call('GET Users', 'users', (t, signal) => accounting.getUsers(connection.tenantId, t, signal))).map(toUserRecord);
    // Becomes the organisation's data only if the removal guard accepts it (`applyVerdict`). Packed at once: a sync
    // holds every organisation's answer until the guard has seen them all.
    state.answer = { organisation, users: packUsers(users), syncedAt: isoTime(clock.now()) };
    delete state.lastError;
  } catch (err) {
    const error = toXeroError(err, 'sync', clock.now());
    state.lastError = { code: error.code, message: error.message, at: isoTime(clock.now()) };
    logger.warn({ organisationId: state.id, code: error.code, err: error }, state.data ? 'organisation sync failed; keeping its last good data' : 'organisation sync failed; it has no data yet');
  } finally {
    state.callsLastSync = state.budget.status().calls - callsBefore;
    counts.perTenant.set(state.id, state.callsLastSync);
    counts.durations.set(state.id, clock.now() - now);
  }
}
