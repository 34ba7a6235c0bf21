/**
 * One sync pass, in order: an access token, `/connections` once, each connected and allowed organisation (at most
 * XERO_CONCURRENCY at a time, `tenant-sync.ts`), the removal guard's verdict on the answers (`guard.ts`,
 * `apply-verdict.ts`), a new snapshot when the content changed, and the report. Everything it changes is passed
 * in: the tenant states, the credentials and the published snapshot. Persisting the result and scheduling the next
 * pass are the caller's (`sync.ts`, `sync-loop.ts`).
 */
import type { Logger } from '../log';
import type { AccountingReader } from '../xero/accounting';
import type { RateBudget } from '../xero/budget';
import { type Clock, isoTime } from '../xero/clock';
import { type XeroError, toXeroError } from '../xero/errors';
import type { Connection, IdentityClient } from '../xero/identity';
import { applyVerdict, knownOrganisations } from './apply-verdict';
import { type ConfirmationStore, readConfirmations } from './confirmations';
import type { Credentials } from './credentials';
import { type GuardPolicy, judge } from './guard';
import type { SuspicionReason } from './model';
import type { PublishedSnapshot } from './published';
import { type SyncProgress, type SyncReport, type TenantSyncReport, buildSyncReport, emptyCounts } from './sync-report';
import { type Tenants, memberCount } from './tenant-state';
import { syncTenant } from './tenant-sync';

export interface SyncPassParts {
  readonly tenants: Tenants;
  readonly credentials: Credentials;
  readonly identity: IdentityClient;
  /** The budget of `/connections` calls (they count against no organisation). */
  readonly connectionsBudget: RateBudget;
  readonly accounting: AccountingReader;
  readonly confirmationStore: ConfirmationStore;
  readonly published: PublishedSnapshot;
  readonly policy: GuardPolicy;
  /** XERO_TENANT_IDS, lower case; empty means every connected organisation. */
  readonly allowList: ReadonlySet<string>;
  /** XERO_CONCURRENCY: organisations synced at once. */
  readonly concurrency: number;
  readonly organisationRefreshMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onProgress?: (progress: SyncProgress) => void;
}

export interface SyncPassResult {
  readonly report: SyncReport;
  /** Why it failed as a whole (token, /connections), if it did. */
  readonly failure?: XeroError;
  /** Operator confirmations it applied: to delete once the state that applied them is persisted. */
  readonly consumed: readonly string[];
}

export interface SelectedTenants {
  /** The connections to sync: syncable, allowed, one per organisation. */
  readonly wanted: readonly Connection[];
  /** Lower-case ids of every syncable organisation in the answer, allowed or not (what the guard is told). */
  readonly connectedIds: ReadonlySet<string>;
}

/**
 * Both tenant types the model knows are synced (Partner-edition practices connect as PRACTICE); a tenant without
 * the accounting API then shows as missing with its error rather than vanishing. One organisation may appear under
 * several connections (several consents): it is synced once.
 */
export function selectTenants(connected: readonly Connection[], allowList: ReadonlySet<string>): SelectedTenants {
  const byTenant = new Map<string, Connection>();
  const connectedIds = new Set<string>();
  for (const c of connected) {
    if (c.tenantType !== 'ORGANISATION' && c.tenantType !== 'PRACTICE') continue;
    const id = c.tenantId.toLowerCase();
    connectedIds.add(id);
    if ((allowList.size === 0 || allowList.has(id)) && !byTenant.has(id)) byTenant.set(id, c);
  }
  return { wanted: [...byTenant.values()], connectedIds };
}

/** `mapLimit` without a dependency: at most `limit` of `items` in progress at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function runSyncPass(parts: SyncPassParts): Promise<SyncPassResult> {
  const { tenants, credentials, clock, logger, allowList, policy } = parts;
  const started = clock.now();
  const counts = emptyCounts();
  const rateLimited = (): number => tenants.all().reduce((n, s) => n + s.budget.status().rateLimited, 0) + parts.connectionsBudget.status().rateLimited;
  const rateLimitedBefore = rateLimited();
  const tokenCallsBefore = credentials.tokenCalls();
  let connectionCalls = 0;
  let removed: TenantSyncReport[] = [];
  let raised: SuspicionReason[] = [];
  let consumed: string[] = [];
  let failure: XeroError | undefined;

  try {
    await credentials.begin();
    const connected = await credentials.withRenewal('GET connections', (accessToken) =>
      parts.connectionsBudget.call('GET connections', async (signal) => {
        connectionCalls++;
        const { connections, headers } = await parts.identity.connections(accessToken(), signal);
        return { value: connections, headers };
      }),
    );
    credentials.accepted();
    const { wanted, connectedIds } = selectTenants(connected, allowList);
    const known = knownOrganisations(tenants.all());
    const confirmations = await readConfirmations(parts.confirmationStore, logger);
    let done = 0;
    // Only a terminal's progress line listens; counting 429s reads every organisation's budget.
    const progress = (): void => {
      if (!parts.onProgress) return;
      parts.onProgress({
        organisationsDone: done,
        organisationsTotal: wanted.length,
        calls: credentials.tokenCalls() - tokenCallsBefore + connectionCalls + counts.organisation + counts.users,
        rateLimited: Math.max(0, rateLimited() - rateLimitedBefore),
      });
    };
    progress();
    const tenantDeps = { accounting: parts.accounting, credentials, clock, logger, organisationRefreshMs: parts.organisationRefreshMs, counts };
    await forEachLimited(wanted, parts.concurrency, async (c) => {
      await syncTenant(tenants.get(c.tenantId.toLowerCase()), c, tenantDeps);
      done++;
      progress();
    });
    const at = isoTime(clock.now());
    const members = new Map(tenants.all().flatMap((s) => (s.answer ? [[s.id, memberCount(s.answer)] as const] : [])));
    const confirmed = new Set(confirmations.flatMap((c) => c.confirmation.tenantIds));
    const verdict = judge(known, { at, connected: connectedIds, allowList, members, confirmed }, policy);
    ({ removed, raised } = applyVerdict(tenants, verdict, logger));
    consumed = confirmations.map((c) => c.key);
    // An allow-listed organisation that is not connected is missing (and says why), never silently absent.
    const wantedIds = new Set(wanted.map((c) => c.tenantId.toLowerCase()));
    for (const id of allowList) {
      if (wantedIds.has(id) || tenants.find(id)?.data) continue;
      const state = tenants.get(id);
      state.lastAttemptAt = at;
      state.lastError = { code: 'XERO_NOT_CONNECTED', message: `organisation ${id} is in XERO_TENANT_IDS but not connected to this app`, at };
    }
  } catch (err) {
    failure = toXeroError(err, 'sync', clock.now());
    const at = isoTime(clock.now());
    for (const state of tenants.all()) {
      state.lastAttemptAt = at;
      state.lastError = { code: failure.code, message: failure.message, at };
    }
    credentials.failed(failure, at);
    logger.error({ code: failure.code, err: failure }, parts.published.current() ? 'sync failed; keeping the last snapshot' : 'sync failed; no snapshot yet');
  }
  for (const state of tenants.all()) delete state.answer;

  const states = tenants.sorted();
  // Connected organisations none of which could ever be read are not an empty directory: until one is, publish
  // nothing. Once a snapshot exists, every successful sync publishes (a disconnect must disappear).
  const neverRead = parts.published.current() === undefined && states.length > 0 && states.every((s) => !s.data);
  const changed =
    failure === undefined && !neverRead ? await parts.published.publishInSlices(states.flatMap((s) => (s.data ? [s.data] : [])), clock.now()) : false;
  const report = buildSyncReport({
    startedMs: started,
    finishedMs: clock.now(),
    ...(failure ? { failure } : {}),
    ...(parts.published.current() ? { snapshotVersion: parts.published.current()!.version } : {}),
    changed,
    calls: { token: credentials.tokenCalls() - tokenCallsBefore, connections: connectionCalls, organisation: counts.organisation, users: counts.users },
    rateLimited: Math.max(0, rateLimited() - rateLimitedBefore),
    states,
    counts,
    removed,
    raised,
    policy,
  });
  return { report, ...(failure ? { failure } : {}), consumed };
}
