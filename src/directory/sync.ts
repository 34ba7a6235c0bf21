/**
 * The directory over Xero (issue 3): one sync reads `/connections` once, then each connected organisation's Users
 * (and, on their own longer period, its Organisation details), and builds an immutable snapshot.
 *
 * It never lies by omission: an organisation whose fetch fails keeps its last good data (marked stale), an answer
 * that would take a whole organisation away is held back until the removal guard (`guard.ts`) lets it through, and
 * one never fetched successfully is reported missing rather than served as empty. The state is persisted to
 * STATE_DIR after each sync and loaded at start.
 */
import type { Config } from '../config';
import { type Logger, silentLogger } from '../log';
import { type AccountingReader, XeroAccounting } from '../xero/accounting';
import { AppBudget, type CallPolicy, DEFAULT_POLICY, type RateLimits, RateBudget, XERO_LIMITS } from '../xero/budget';
import { type Clock, isoTime, systemClock } from '../xero/clock';
import { XeroError, toXeroError } from '../xero/errors';
import { type Connection, IdentityClient } from '../xero/identity';
import { FileTokenStore, type TokenGrant, TokenProvider, type TokenStore } from '../xero/tokens';
import { type ConfirmationStore, FileConfirmationStore, readConfirmations } from './confirmations';
import { type GuardPolicy, type GuardVerdict, type KnownOrganisation, answersLeft, judge } from './guard';
import type {
  CredentialHealth,
  Directory,
  DirectorySnapshot,
  DirectoryStatus,
  Organisation,
  PersistenceHealth,
  ProblemReport,
  Suspicion,
  SuspicionReason,
  TenantData,
  TenantHealth,
} from './model';
import { toOrganisation, toUserRecord } from './from-xero';
import { FileSnapshotStore, type PersistedDirectory, type SnapshotStore } from './persistence';
import { buildSnapshot, snapshotVersion } from './snapshot';

export type XeroDirectoryOptions = Pick<
  Config,
  | 'xeroClientId'
  | 'xeroClientSecret'
  | 'xeroRefreshToken'
  | 'xeroAccessToken'
  | 'xeroTenantIds'
  | 'xeroApiUrl'
  | 'xeroIdentityUrl'
  | 'xeroLoginUrl'
  | 'xeroScopes'
  | 'xeroTimeoutMs'
  | 'xeroDailyLimit'
  | 'xeroConcurrency'
  | 'stateDir'
  | 'syncMode'
  | 'syncIntervalSeconds'
  | 'organisationRefreshSeconds'
  | 'liveMinFreshnessSeconds'
  | 'xeroDisconnectConfirmations'
  | 'xeroMaxDisconnectShare'
>;

export interface XeroDirectoryDeps {
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly logger?: Logger;
  readonly tokenStore?: TokenStore;
  readonly snapshotStore?: SnapshotStore;
  /** Where `xero-scim confirm-disconnect` leaves its confirmations (default: STATE_DIR). */
  readonly confirmationStore?: ConfirmationStore;
  readonly accounting?: AccountingReader;
  /** Overrides of Xero's per-organisation limits (the daily one comes from config). */
  readonly limits?: Partial<RateLimits>;
  readonly policy?: Partial<CallPolicy>;
  /** Told of every finished sync (metrics). */
  readonly onSync?: (report: SyncReport) => void;
  /** Told of every answer from Xero's API: operation (e.g. `GET Users`) and HTTP status, 0 when none came. */
  readonly onXeroCall?: (operation: string, status: number) => void;
  /** Told as a sync goes: once the organisations are known, then after each one (a terminal's progress line). */
  readonly onProgress?: (progress: SyncProgress) => void;
}

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
  readonly calls: { readonly token: number; readonly connections: number; readonly organisation: number; readonly users: number };
  /** 429 answers received in this sync. */
  readonly rateLimited: number;
  readonly tenants: readonly TenantSyncReport[];
  /** Suspicions this sync raised (a new one, or a new reason), by reason. */
  readonly suspicionsRaised: readonly SuspicionReason[];
}

export interface XeroDirectory extends Directory {
  /** One sync now (concurrent callers share it). Never rejects: failures are in the report and the status. */
  syncOnce(): Promise<SyncReport>;
  /** Loads the persisted state (if any) once; `start` and `syncOnce` call it. True when a state was loaded. */
  load(): Promise<boolean>;
  /** Loads the persisted state, then (cached mode) syncs now and every interval, with jitter, until `stop`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The last sync report, if any. */
  lastReport(): SyncReport | undefined;
}

interface TenantState {
  readonly id: string;
  connection?: Connection;
  data?: TenantData;
  organisation?: Organisation;
  organisationFetchedAt?: number;
  lastSuccessAt?: string;
  lastAttemptAt?: string;
  lastError?: { code: string; message: string; at: string };
  /** This sync's answer, until the removal guard decides whether it becomes `data`. */
  answer?: TenantData;
  /** Set while the guard holds Xero's answer for it back. */
  suspicion?: Suspicion;
  /** Xero calls made for this organisation by the last sync that reached it (retries included). */
  callsLastSync?: number;
  readonly budget: RateBudget;
}

/** A custom connection asks only for what reading users and organisations needs (docs/xero.md, "Scopes"). */
const CUSTOM_CONNECTION_SCOPES = 'accounting.settings.read';

/** offline_access only means something to a web app: a custom connection gets no refresh token. */
export function customConnectionScopes(configured: string | undefined): string {
  const scopes = (configured ?? CUSTOM_CONNECTION_SCOPES).split(/\s+/).filter((s) => s !== '' && s !== 'offline_access');
  return scopes.length > 0 ? scopes.join(' ') : CUSTOM_CONNECTION_SCOPES;
}

/** Token errors that end renewal, as credential states. */
const CREDENTIAL_STATE_OF: Partial<Record<XeroError['code'], CredentialHealth['state']>> = {
  XERO_INVALID_GRANT: 'invalid_grant',
  XERO_INVALID_CLIENT: 'invalid_client',
  XERO_UNAUTHORIZED: 'unauthorized',
  XERO_NOT_CONFIGURED: 'not_configured',
};

/** `mapLimit` without a dependency: at most `limit` of `items` in progress at once. */
async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await run(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function summary(error: XeroError): ErrorSummary {
  return { code: error.code, message: error.message };
}

/** Memberships an organisation's data grants: a REMOVED record is a person Xero keeps, without access. */
function memberCount(data: TenantData): number {
  return data.users.reduce((n, u) => (u.role === 'REMOVED' ? n : n + 1), 0);
}

export function createXeroDirectory(options: XeroDirectoryOptions, deps: XeroDirectoryDeps = {}): XeroDirectory {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? silentLogger;
  const limits: RateLimits = { ...XERO_LIMITS, perDay: options.xeroDailyLimit, ...deps.limits };
  const policy: CallPolicy = { ...DEFAULT_POLICY, timeoutMs: options.xeroTimeoutMs, ...deps.policy };
  const app = new AppBudget(clock);
  const stopping = new AbortController();
  const budgetDeps = { clock, random, signal: stopping.signal, ...(deps.onXeroCall ? { onAnswer: deps.onXeroCall } : {}) };
  const identity = new IdentityClient(
    {
      identityUrl: options.xeroIdentityUrl,
      apiUrl: options.xeroApiUrl,
      loginUrl: options.xeroLoginUrl,
      clientId: options.xeroClientId ?? '',
      ...(options.xeroClientSecret === undefined ? {} : { clientSecret: options.xeroClientSecret }),
      timeoutMs: options.xeroTimeoutMs,
    },
    { ...(deps.fetch ? { fetch: deps.fetch } : {}), clock },
  );
  const tokenStore = deps.tokenStore ?? new FileTokenStore(options.stateDir);
  const snapshotStore = deps.snapshotStore ?? new FileSnapshotStore(options.stateDir);
  const confirmationStore = deps.confirmationStore ?? new FileConfirmationStore(options.stateDir);
  const guardPolicy: GuardPolicy = { confirmations: options.xeroDisconnectConfirmations, maxShare: options.xeroMaxDisconnectShare };
  const accounting = deps.accounting ?? new XeroAccounting(options.xeroApiUrl);
  const connectionsBudget = new RateBudget('connections', { ...limits, perDay: Number.MAX_SAFE_INTEGER }, policy, app, budgetDeps);
  const allowList = new Set(options.xeroTenantIds.map((id) => id.toLowerCase()));
  const organisationRefreshMs = options.organisationRefreshSeconds * 1000;

  const tenants = new Map<string, TenantState>();
  let snapshot: DirectorySnapshot | undefined;
  let provider: TokenProvider | undefined;
  let configError: XeroError | undefined;
  let lastSyncAt: string | undefined;
  let lastSyncFinishedAt = 0;
  let lastOutcome: SyncReport['outcome'] | undefined;
  let lastError: ProblemReport | undefined;
  let lastSuccessfulSyncAt: string | undefined;
  /** When Xero last accepted the credentials (a /connections answer). */
  let credentialsValidAt: string | undefined;
  let lastSavedAt: string | undefined;
  /** The last failed write of the directory state, cleared by the next good one. */
  let stateWriteError: ProblemReport | undefined;
  /** A rotated refresh token STATE_DIR refused, cleared once a token is had again (the provider stored it first). */
  let tokenWriteError: ProblemReport | undefined;
  let report: SyncReport | undefined;
  let inFlight: Promise<SyncReport> | undefined;
  let loading: Promise<boolean> | undefined;
  let loop: Promise<void> | undefined;

  function tenant(id: string): TenantState {
    let state = tenants.get(id);
    if (!state) {
      state = { id, budget: new RateBudget(id, limits, policy, app, budgetDeps) };
      tenants.set(id, state);
    }
    return state;
  }

  /** Web app if a refresh token is configured or stored; else the custom connection's client credentials. */
  async function tokenProvider(): Promise<TokenProvider> {
    if (provider) return provider;
    if (configError) throw configError;
    if (!options.xeroAccessToken && (!options.xeroClientId || !options.xeroClientSecret)) {
      configError = new XeroError('XERO_NOT_CONFIGURED', 'XERO_CLIENT_ID and XERO_CLIENT_SECRET are required (or XERO_ACCESS_TOKEN for debugging)');
      throw configError;
    }
    let grant: TokenGrant;
    if (options.xeroAccessToken) grant = { kind: 'fixed', accessToken: options.xeroAccessToken };
    else if (options.xeroRefreshToken) grant = { kind: 'refresh_token', initialRefreshToken: options.xeroRefreshToken };
    else {
      const stored = await tokenStore.load().catch((err: unknown) => {
        configError = new XeroError('XERO_NOT_CONFIGURED', (err as Error).message, { cause: err });
        throw configError;
      });
      // Tokens stored for another client ID (an app swap) are not ours to use.
      grant =
        stored && stored.clientId === options.xeroClientId
          ? { kind: 'refresh_token' }
          : { kind: 'client_credentials', scope: customConnectionScopes(options.xeroScopes) };
    }
    provider = new TokenProvider(
      { clientId: options.xeroClientId ?? '', grant },
      { identity, store: tokenStore, clock, random, onWarning: (message) => logger.warn(message) },
    );
    return provider;
  }

  function health(state: TenantState): TenantHealth {
    const budget = state.budget.status();
    const failed = state.lastError !== undefined || state.suspicion !== undefined; // both cleared by a success
    const left = state.suspicion ? answersLeft(state.suspicion, guardPolicy) : undefined;
    return {
      organisationId: state.id,
      ...(state.data || state.connection ? { name: state.data?.organisation.name ?? state.connection?.tenantName } : {}),
      state: state.data === undefined ? 'missing' : failed ? 'stale' : 'current',
      ...(state.suspicion ? { suspicion: { ...state.suspicion, ...(left === undefined ? {} : { answersLeft: left }) } } : {}),
      ...(state.lastSuccessAt ? { lastSuccessAt: state.lastSuccessAt } : {}),
      ...(state.lastAttemptAt ? { lastAttemptAt: state.lastAttemptAt } : {}),
      ...(state.lastError ? { lastError: state.lastError } : {}),
      ...(state.data ? { userCount: state.data.users.length } : {}),
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

  function allStates(): TenantState[] {
    return [...tenants.values()];
  }

  function sortedStates(): TenantState[] {
    return [...tenants.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Swap in a new snapshot unless the content is unchanged (then the same object, and its ETags, stay). */
  function publish(builtAt: number): boolean {
    const data = sortedStates().flatMap((s) => (s.data ? [s.data] : []));
    // Hashing the content costs a fraction of a build: an unchanged directory (the usual sync) builds nothing.
    if (snapshot && snapshot.version === snapshotVersion(data)) return false;
    snapshot = buildSnapshot(data, isoTime(builtAt));
    return true;
  }

  async function persist(): Promise<void> {
    // Without a snapshot there is nothing to keep: an empty file would restart as an empty (lying) directory.
    if (!snapshot) return;
    const states = sortedStates();
    const state: PersistedDirectory = {
      format: 1,
      savedAt: isoTime(clock.now()),
      tenants: states.flatMap((s) => (s.data ? [s.data] : [])),
      health: states.map(health),
      organisationsFetchedAt: Object.fromEntries(
        states.flatMap((s) => (s.organisationFetchedAt === undefined ? [] : [[s.id, isoTime(s.organisationFetchedAt)]])),
      ),
      suspicions: Object.fromEntries(states.flatMap((s) => (s.suspicion ? [[s.id, s.suspicion]] : []))),
    };
    try {
      await snapshotStore.save(state);
      lastSavedAt = state.savedAt;
      stateWriteError = undefined;
    } catch (err) {
      const errno = (err as NodeJS.ErrnoException).code;
      stateWriteError = {
        code: 'STATE_NOT_WRITABLE',
        message: `cannot save the directory state in STATE_DIR (${errno ?? (err as Error).message}): a restart would lose it`,
        at: isoTime(clock.now()),
      };
      logger.error({ err }, 'cannot persist the directory state to STATE_DIR; serving from memory');
    }
  }

  async function load(): Promise<boolean> {
    loading ??= (async () => {
      let state: PersistedDirectory | undefined;
      try {
        state = await snapshotStore.load();
      } catch (err) {
        logger.warn({ err }, 'ignoring the persisted directory state');
        return false;
      }
      if (!state) return false;
      // Leaving XERO_TENANT_IDS is the operator's intent: it applies at once, even to what STATE_DIR kept.
      const kept = state.tenants.filter((t) => allowList.size === 0 || allowList.has(t.organisation.id));
      for (const data of kept) {
        const s = tenant(data.organisation.id);
        const suspicion = state.suspicions?.[s.id];
        if (suspicion) s.suspicion = suspicion;
        s.data = data;
        s.organisation = data.organisation;
        const fetchedAt = state.organisationsFetchedAt[s.id];
        if (fetchedAt) s.organisationFetchedAt = Date.parse(fetchedAt);
      }
      for (const h of state.health) {
        if (!tenants.has(h.organisationId)) continue; // a missing tenant is only known again from /connections
        const s = tenant(h.organisationId);
        if (h.lastSuccessAt) s.lastSuccessAt = h.lastSuccessAt;
        if (h.lastAttemptAt) s.lastAttemptAt = h.lastAttemptAt;
        if (h.lastError) s.lastError = h.lastError;
      }
      snapshot = buildSnapshot(kept, state.savedAt);
      lastSyncAt = state.savedAt;
      lastSavedAt = state.savedAt;
      lastSuccessfulSyncAt = state.health.reduce<string | undefined>((latest, h) => (h.lastSuccessAt && (!latest || h.lastSuccessAt > latest) ? h.lastSuccessAt : latest), undefined);
      logger.info({ organisations: kept.length, version: snapshot.version }, 'loaded the persisted directory');
      return true;
    })();
    return loading;
  }

  /** One organisation: details when due, then its users. Failures keep the last good data. */
  async function syncTenant(state: TenantState, connection: Connection, token: { value: string }, counts: Counts): Promise<void> {
    const now = clock.now();
    state.lastAttemptAt = isoTime(now);
    const calls = state.budget.status().calls;
    const call = async <T>(operation: string, kind: 'organisation' | 'users', send: (accessToken: string, signal: AbortSignal) => Promise<{ value: T; headers: Readonly<Record<string, string>> }>): Promise<T> => {
      for (let renewed = false; ; renewed = true) {
        try {
          return await state.budget.call(operation, (signal) => {
            counts[kind]++;
            return send(token.value, signal);
          });
        } catch (err) {
          const error = toXeroError(err, operation, clock.now());
          // An access token can expire mid-sync: renew once, then give up on this organisation.
          if (error.code !== 'XERO_UNAUTHORIZED' || renewed) throw error;
          const p = await tokenProvider();
          p.invalidate(token.value);
          token.value = await p.getAccessToken();
        }
      }
    };
    try {
      const previous = state.connection;
      state.connection = connection;
      const renamed = previous !== undefined && previous.tenantName !== connection.tenantName;
      const due = !state.organisation || state.organisationFetchedAt === undefined || now - state.organisationFetchedAt >= organisationRefreshMs;
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
      // Becomes the organisation's data only if the removal guard accepts it (`applyVerdict`).
      state.answer = { organisation, users, syncedAt: isoTime(clock.now()) };
      delete state.lastError;
    } catch (err) {
      const error = toXeroError(err, 'sync', clock.now());
      state.lastError = { code: error.code, message: error.message, at: isoTime(clock.now()) };
      logger.warn({ organisationId: state.id, code: error.code, err: error }, state.data ? 'organisation sync failed; keeping its last good data' : 'organisation sync failed; it has no data yet');
    } finally {
      state.callsLastSync = state.budget.status().calls - calls;
      counts.perTenant.set(state.id, state.callsLastSync);
      counts.durations.set(state.id, clock.now() - now);
    }
  }

  /** What the guard knows of each organisation before this sync's answers. */
  function knownOrganisations(): KnownOrganisation[] {
    return allStates().map((s) => ({ id: s.id, members: s.data ? memberCount(s.data) : undefined, ...(s.suspicion ? { suspicion: s.suspicion } : {}) }));
  }

  /** Takes, holds back or removes each organisation as the guard decided. */
  function applyVerdict(verdict: GuardVerdict, removed: TenantSyncReport[], raised: SuspicionReason[]): void {
    if (verdict.massDrop) logger.warn({ organisations: verdict.vanishing }, 'Xero answered a mass removal: held back until Xero takes it back or an operator confirms');
    for (const [id, decision] of verdict.decisions) {
      const state = tenants.get(id);
      if (!state) continue;
      if (decision.action === 'remove') {
        tenants.delete(id);
        if (state.data || state.connection) {
          removed.push({ organisationId: id, ...(state.data ? { name: state.data.organisation.name } : {}), result: 'removed', calls: 0 });
          logger.info({ organisationId: id, because: decision.because }, 'organisation removed from the directory');
        }
      } else if (decision.action === 'hold') {
        if (state.suspicion?.reason !== decision.suspicion.reason) {
          raised.push(decision.suspicion.reason);
          logger.warn({ organisationId: id, reason: decision.suspicion.reason }, "Xero's answer would remove this organisation; keeping its last good data");
        }
        state.suspicion = decision.suspicion;
      } else {
        if (state.suspicion) logger.info({ organisationId: id, reason: state.suspicion.reason }, 'suspicion ended');
        delete state.suspicion;
        if (state.answer) {
          state.data = state.answer;
          state.lastSuccessAt = state.answer.syncedAt;
        }
      }
    }
  }

  interface Counts {
    organisation: number;
    users: number;
    perTenant: Map<string, number>;
    durations: Map<string, number>;
  }

  async function runSync(): Promise<SyncReport> {
    await load();
    const started = clock.now();
    const counts: Counts = { organisation: 0, users: 0, perTenant: new Map(), durations: new Map() };
    const rateLimited = (): number => [...tenants.values()].reduce((n, s) => n + s.budget.status().rateLimited, 0) + connectionsBudget.status().rateLimited;
    const rateLimitedBefore = rateLimited();
    let connectionCalls = 0;
    const tokenCallsBefore = provider?.status().tokenCalls ?? 0;
    const removed: TenantSyncReport[] = [];
    const raised: SuspicionReason[] = [];
    let consumed: string[] = [];
    let failure: XeroError | undefined;
    let connected: Connection[] = [];

    try {
      const p = await tokenProvider();
      const token = { value: await p.getAccessToken() };
      tokenWriteError = undefined;
      for (let renewed = false; ; renewed = true) {
        try {
          const answer = await connectionsBudget.call('GET connections', async (signal) => {
            connectionCalls++;
            const { connections, headers } = await identity.connections(token.value, signal);
            return { value: connections, headers };
          });
          connected = answer;
          credentialsValidAt = isoTime(clock.now());
          break;
        } catch (err) {
          const error = toXeroError(err, 'GET connections', clock.now());
          if (error.code !== 'XERO_UNAUTHORIZED' || renewed) throw error;
          p.invalidate(token.value);
          token.value = await p.getAccessToken();
        }
      }
      // Both tenant types the model knows are synced (Partner-edition practices connect as PRACTICE); a tenant
      // without the accounting API then shows as missing with its error rather than vanishing.
      const byTenant = new Map<string, Connection>();
      const connectedIds = new Set<string>();
      for (const c of connected) {
        const id = c.tenantId.toLowerCase();
        const type = c.tenantType === 'ORGANISATION' || c.tenantType === 'PRACTICE';
        if (type) connectedIds.add(id);
        // One organisation may appear under several connections (several consents): sync it once.
        if (type && (allowList.size === 0 || allowList.has(id)) && !byTenant.has(id)) byTenant.set(id, c);
      }
      const known = knownOrganisations();
      const confirmations = await readConfirmations(confirmationStore, logger);
      const wanted = [...byTenant.values()];
      let done = 0;
      const progress = (): void =>
        deps.onProgress?.({
          organisationsDone: done,
          organisationsTotal: wanted.length,
          calls: (provider?.status().tokenCalls ?? 0) - tokenCallsBefore + connectionCalls + counts.organisation + counts.users,
          rateLimited: Math.max(0, rateLimited() - rateLimitedBefore),
        });
      progress();
      await forEachLimited(wanted, options.xeroConcurrency, async (c) => {
        await syncTenant(tenant(c.tenantId.toLowerCase()), c, token, counts);
        done++;
        progress();
      });
      const at = isoTime(clock.now());
      const members = new Map(allStates().flatMap((s) => (s.answer ? [[s.id, memberCount(s.answer)] as const] : [])));
      const confirmed = new Set(confirmations.flatMap((c) => c.confirmation.tenantIds));
      const verdict = judge(known, { at, connected: connectedIds, allowList, members, confirmed }, guardPolicy);
      applyVerdict(verdict, removed, raised);
      consumed = confirmations.map((c) => c.key);
      // An allow-listed organisation that is not connected is missing (and says why), never silently absent.
      for (const id of allowList) {
        if (byTenant.has(id) || tenants.get(id)?.data) continue;
        const state = tenant(id);
        state.lastAttemptAt = at;
        state.lastError = { code: 'XERO_NOT_CONNECTED', message: `organisation ${id} is in XERO_TENANT_IDS but not connected to this app`, at };
      }
    } catch (err) {
      failure = toXeroError(err, 'sync', clock.now());
      const at = isoTime(clock.now());
      for (const state of tenants.values()) {
        state.lastAttemptAt = at;
        state.lastError = { code: failure.code, message: failure.message, at };
      }
      if (failure.code === 'XERO_STATE_NOT_WRITABLE') tokenWriteError = { code: failure.code, message: failure.message, at };
      logger.error({ code: failure.code, err: failure }, snapshot ? 'sync failed; keeping the last snapshot' : 'sync failed; no snapshot yet');
    }
    for (const state of tenants.values()) delete state.answer;

    const states = sortedStates();
    // Connected organisations none of which could ever be read are not an empty directory: until one is, publish
    // nothing. Once a snapshot exists, every successful sync publishes (a disconnect must disappear).
    const neverRead = snapshot === undefined && states.length > 0 && states.every((s) => !s.data);
    const changed = failure === undefined && !neverRead ? publish(clock.now()) : false;
    const tenantReports: TenantSyncReport[] = states.map((s) => {
      const h = health(s);
      return {
        organisationId: s.id,
        ...(h.name ? { name: h.name } : {}),
        result: h.state,
        ...(h.suspicion ? { suspicion: h.suspicion } : {}),
        ...(h.state !== 'current' && s.lastError ? { error: { code: s.lastError.code, message: s.lastError.message } } : {}),
        calls: counts.perTenant.get(s.id) ?? 0,
        ...(counts.durations.has(s.id) ? { durationMs: counts.durations.get(s.id)! } : {}),
        ...(s.data ? { userCount: s.data.users.length } : {}),
        ...(s.lastSuccessAt ? { ageSeconds: Math.max(0, Math.round((clock.now() - Date.parse(s.lastSuccessAt)) / 1000)) } : {}),
        ...(h.rateBudget ? { rateBudget: h.rateBudget } : {}),
      };
    });
    const finished = clock.now();
    const outcome: SyncReport['outcome'] = failure ? 'failed' : tenantReports.every((t) => t.result === 'current') ? 'ok' : 'partial';
    const rateLimitedAfter = rateLimited();
    const result: SyncReport = {
      startedAt: isoTime(started),
      finishedAt: isoTime(finished),
      durationMs: finished - started,
      outcome,
      ...(failure ? { error: summary(failure) } : {}),
      ...(snapshot ? { snapshotVersion: snapshot.version } : {}),
      changed,
      calls: {
        token: (provider?.status().tokenCalls ?? 0) - tokenCallsBefore,
        connections: connectionCalls,
        organisation: counts.organisation,
        users: counts.users,
      },
      rateLimited: Math.max(0, rateLimitedAfter - rateLimitedBefore),
      tenants: [...tenantReports, ...removed].sort((a, b) => (a.organisationId < b.organisationId ? -1 : 1)),
      suspicionsRaised: raised,
    };
    lastSyncAt = result.finishedAt;
    lastSyncFinishedAt = finished;
    lastOutcome = outcome;
    lastError = failure ? { ...summary(failure), at: result.finishedAt } : undefined;
    if (!failure) lastSuccessfulSyncAt = result.finishedAt;
    report = result;
    deps.onSync?.(result);
    await persist();
    // Only once the state that applied them is on disk: until then the next sync reads them again, which is harmless.
    if (consumed.length > 0 && stateWriteError === undefined) {
      await confirmationStore.consume(consumed).catch((err: unknown) => logger.error({ err }, 'cannot delete consumed confirmations from STATE_DIR'));
    }
    logger.info(
      {
        outcome,
        durationMs: result.durationMs,
        organisations: states.length,
        // Flat names: the logger redacts any key called `token`, even a count.
        tokenCalls: result.calls.token,
        connectionsCalls: result.calls.connections,
        organisationCalls: result.calls.organisation,
        usersCalls: result.calls.users,
        rateLimited: result.rateLimited,
        changed,
        version: result.snapshotVersion,
      },
      'sync finished',
    );
    return result;
  }

  function syncOnce(): Promise<SyncReport> {
    inFlight ??= runSync().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  /** What Xero said of the credentials: a terminal error (an operator must act), accepted, or not known yet. */
  function credentials(): CredentialHealth {
    const terminal = provider?.status().terminal ?? configError;
    const validAt = credentialsValidAt ? { validAt: credentialsValidAt } : {};
    if (terminal) {
      const state = CREDENTIAL_STATE_OF[terminal.code] ?? 'not_configured';
      return { state, ...validAt, error: { code: terminal.code, message: terminal.message, at: lastError?.at ?? isoTime(clock.now()) } };
    }
    return { state: credentialsValidAt ? 'valid' : 'unknown', ...validAt };
  }

  function persistence(): PersistenceHealth {
    const error = stateWriteError ?? tokenWriteError;
    return { ok: error === undefined, ...(lastSavedAt ? { lastSavedAt } : {}), ...(error ? { error } : {}) };
  }

  /**
   * Ready means a snapshot is held: SCIM reads are answered from it whatever Xero says now. Without one, the reason
   * names the real cause (refused credentials, Xero unreachable), as the SCIM 503 repeats it.
   */
  function status(): DirectoryStatus {
    const terminal = provider?.status().terminal ?? configError;
    let reason: string | undefined;
    if (!snapshot) {
      const cause = terminal ?? lastError;
      reason = cause ? `no directory snapshot yet: ${cause.code}: ${cause.message}` : 'no directory snapshot yet (first sync pending)';
    } else if (snapshot.organisations.length === 0) {
      // An empty directory reads as "everyone's access revoked" to an IGA tool: never ready.
      reason = 'the directory has no organisation (none connected to the Xero app, or none in XERO_TENANT_IDS)';
    }
    return {
      ready: reason === undefined,
      ...(reason ? { reason } : {}),
      ...(lastSyncAt ? { lastSyncAt } : {}),
      ...(lastOutcome ? { lastSyncOutcome: lastOutcome } : {}),
      ...(lastError ? { lastSyncError: lastError } : {}),
      ...(lastSuccessfulSyncAt ? { lastSuccessfulSyncAt } : {}),
      credentials: credentials(),
      persistence: persistence(),
      tenants: sortedStates().map(health),
    };
  }

  async function forRead(): Promise<DirectorySnapshot | undefined> {
    if (options.syncMode !== 'live') return snapshot;
    // Live mode: a recent sync attempt (successful or not) is fresh enough; this protects Xero's limits.
    if (lastSyncFinishedAt > 0 && clock.now() - lastSyncFinishedAt < options.liveMinFreshnessSeconds * 1000) return snapshot;
    await syncOnce();
    return snapshot;
  }

  async function start(): Promise<void> {
    await load();
    if (options.syncMode !== 'cached' || loop) return;
    loop = (async () => {
      while (!stopping.signal.aborted) {
        await syncOnce();
        const interval = options.syncIntervalSeconds * 1000;
        // ±10% jitter so replicas and restarts do not call Xero in lockstep.
        await clock.sleep(interval * (0.9 + 0.2 * random()), stopping.signal);
      }
    })();
  }

  /** Ends the loop; a sync in progress stops waiting (Retry-After, backoff) and keeps what it had. */
  async function stop(): Promise<void> {
    stopping.abort();
    await loop;
    await inFlight?.catch(() => undefined);
  }

  return {
    current: () => snapshot,
    forRead,
    status,
    syncOnce,
    load,
    start,
    stop,
    lastReport: () => report,
  };
}
