/**
 * The directory over Xero: one sync reads `/connections` once, then each connected organisation's Users
 * (and, on their own longer period, its Organisation details), and builds an immutable snapshot.
 *
 * It never lies by omission: an organisation whose fetch fails keeps its last good data (marked stale), an answer
 * that would take a whole organisation away is held back until the removal guard (`guard.ts`) lets it through, and
 * one never fetched successfully is reported missing rather than served as empty. The state is persisted to
 * STATE_DIR after each sync and loaded at start.
 *
 * This file only composes the parts, each in its own file with its own state:
 * - `credentials.ts`: the token grant, the token provider and the one renew-once-on-401 (`withRenewal`);
 * - `tenant-state.ts`: what is known of each organisation; `tenant-sync.ts`: one organisation's part of a sync;
 * - `guard.ts` and `apply-verdict.ts`: the removal guard and how its verdict changes the tenant states;
 * - `sync-pass.ts`: one sync from token to report; `sync-report.ts` and `status.ts`: the report and the health,
 *   pure functions of the tenant states;
 * - `published.ts`: the snapshot served; `saved-state.ts`: the state in STATE_DIR; `sync-loop.ts`: when syncs run;
 * - `replica-sync.ts`: as one of several replicas (`deps.replication`, `replication.ts`), the state goes to the
 *   shared store instead of STATE_DIR: only the replica holding the lease syncs, and publishes each result; the
 *   others adopt what it published, wholesale, and serve the same snapshot (same version, same `builtAt`, same ETags).
 */
import { type Logger, silentLogger } from '../log';
import type { AccountingReader } from '../xero/accounting';
import { XeroAccounting } from '../xero/accounting';
import { AppBudget, type CallPolicy, DEFAULT_POLICY, type RateLimits, RateBudget, XERO_LIMITS } from '../xero/budget';
import { type Clock, isoTime, systemClock } from '../xero/clock';
import { IdentityClient } from '../xero/identity';
import { FileTokenStore, type TokenStore } from '../xero/tokens';
import { type ConfirmationStore, FileConfirmationStore } from './confirmations';
import { type CredentialOptions, Credentials } from './credentials';
import type { GuardPolicy } from './guard';
import type { Directory, DirectorySnapshot, DirectoryStatus } from './model';
import { FileSnapshotStore, type SnapshotStore } from './persistence';
import { PublishedSnapshot } from './published';
import { ReplicaSync } from './replica-sync';
import type { Replication } from './replication';
import { SavedState, lastSuccessOf, restoreTenants, toPersisted } from './saved-state';
import { type LastSync, afterSync, directoryStatus, persistenceHealth } from './status';
import { SyncLoop } from './sync-loop';
import { type SyncPassResult, runSyncPass } from './sync-pass';
import type { SyncProgress, SyncReport } from './sync-report';
import { Tenants } from './tenant-state';

/** What the directory needs to know, in its own terms; `commands/directory-options.ts` maps the configuration to it. */
export interface XeroDirectoryOptions {
  readonly credentials: CredentialOptions;
  readonly xero: {
    readonly apiUrl: string;
    readonly identityUrl: string;
    readonly loginUrl: string;
    /** Real-time bound on each call. */
    readonly timeoutMs: number;
    /** Calls a day Xero allows per organisation. */
    readonly dailyLimit: number;
    /** Organisations synced at once. */
    readonly concurrency: number;
  };
  /** Organisation ids to sync (any case); empty means every connected one. */
  readonly tenantIds: readonly string[];
  /** Where tokens, the directory state and operator confirmations are kept. */
  readonly stateDir: string;
  readonly sync: {
    /** cached: sync in the background; live: sync before a read unless one finished recently. */
    readonly mode: 'cached' | 'live';
    readonly intervalSeconds: number;
    /** How long organisation details are kept before they are fetched again. */
    readonly organisationRefreshSeconds: number;
    readonly liveMinFreshnessSeconds: number;
  };
  /** The removal guard's policy (`guard.ts`). */
  readonly guard: GuardPolicy;
}

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
  readonly policy?: Partial<CallPolicy>;
  /** Told of every finished sync (metrics). */
  readonly onSync?: (report: SyncReport) => void;
  /** Told of every answer from Xero's API: operation (e.g. `GET Users`) and HTTP status, 0 when none came. */
  readonly onXeroCall?: (operation: string, status: number) => void;
  /** Told as a sync goes: once the organisations are known, then after each one (a terminal's progress line). */
  readonly onProgress?: (progress: SyncProgress) => void;
  /**
   * One of several replicas over a shared store: syncs only while leading, publishes each result there instead of
   * writing STATE_DIR, and otherwise serves what the leader published.
   */
  readonly replication?: Replication;
}

export interface XeroDirectory extends Directory {
  /**
   * One sync now (concurrent callers share it). Never rejects: failures are in the report and the status. On a
   * replica that does not lead, no Xero call: it asks the leader for a sync, waits (bounded) for the state it
   * publishes, and reports what it then holds.
   */
  syncOnce(): Promise<SyncReport>;
  /**
   * Loads the persisted state (if any) once; `start` and `syncOnce` call it. True when a state was loaded. As a
   * replica: the newest published state.
   */
  load(): Promise<boolean>;
  /**
   * Loads the persisted state, then (cached mode) syncs now and every interval, with jitter, until `stop`. As a
   * replica: loads the newest published state, then campaigns for the lease; the loop runs while it leads.
   */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The last sync report, if any. */
  lastReport(): SyncReport | undefined;
}

export function createXeroDirectory(options: XeroDirectoryOptions, deps: XeroDirectoryDeps = {}): XeroDirectory {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const logger = deps.logger ?? silentLogger;
  const { xero } = options;
  const limits: RateLimits = { ...XERO_LIMITS, perDay: xero.dailyLimit };
  const callPolicy: CallPolicy = { ...DEFAULT_POLICY, timeoutMs: xero.timeoutMs, ...deps.policy };
  const app = new AppBudget(clock);
  const stopping = new AbortController();
  const budgetDeps = { clock, random, signal: stopping.signal, ...(deps.onXeroCall ? { onAnswer: deps.onXeroCall } : {}) };
  const identity = new IdentityClient(
    {
      identityUrl: xero.identityUrl,
      apiUrl: xero.apiUrl,
      loginUrl: xero.loginUrl,
      clientId: options.credentials.clientId ?? '',
      ...(options.credentials.clientSecret === undefined ? {} : { clientSecret: options.credentials.clientSecret }),
      timeoutMs: xero.timeoutMs,
    },
    { ...(deps.fetch ? { fetch: deps.fetch } : {}), clock },
  );
  const credentials = new Credentials(options.credentials, {
    identity,
    store: deps.tokenStore ?? new FileTokenStore(options.stateDir),
    clock,
    random,
    logger,
  });
  const confirmationStore = deps.confirmationStore ?? new FileConfirmationStore(options.stateDir);
  const policy = options.guard;
  const allowList = new Set(options.tenantIds.map((id) => id.toLowerCase()));
  const tenants = new Tenants((id) => new RateBudget(id, limits, callPolicy, app, budgetDeps));
  const published = new PublishedSnapshot();
  const saved = new SavedState(deps.snapshotStore ?? new FileSnapshotStore(options.stateDir), clock, logger);
  /** What the status says of the last sync; replaced whole after each one (or by a state adopted from the leader). */
  let lastSync: LastSync = { finishedAtMs: 0 };
  const passParts = {
    tenants,
    credentials,
    identity,
    connectionsBudget: new RateBudget('connections', { ...limits, perDay: Number.MAX_SAFE_INTEGER }, callPolicy, app, budgetDeps),
    accounting: deps.accounting ?? new XeroAccounting(xero.apiUrl),
    confirmationStore,
    published,
    policy,
    allowList,
    concurrency: xero.concurrency,
    organisationRefreshMs: options.sync.organisationRefreshSeconds * 1000,
    clock,
    logger,
    ...(deps.onProgress ? { onProgress: deps.onProgress } : {}),
  };
  /** As one of several replicas: the leader's publishes and the follower's adoptions (`replica-sync.ts`). */
  const replica = deps.replication
    ? new ReplicaSync({
        replication: deps.replication,
        credentials,
        tenants,
        published,
        confirmationStore,
        policy,
        allowList,
        clock,
        logger,
        stopping: stopping.signal,
        followWaitMs: xero.timeoutMs,
        lastSync: { get: () => lastSync, set: (next) => (lastSync = next) },
      })
    : undefined;
  let loading: Promise<boolean> | undefined;

  function load(): Promise<boolean> {
    loading ??= (async () => {
      if (replica) return replica.adoptNewest('start');
      const state = await saved.load();
      if (!state) return false;
      const kept = restoreTenants(tenants, state, allowList);
      // The saved version and people are of every saved organisation: an allow-list that took one away makes other
      // content.
      const whole = kept.length === state.tenants.length;
      const snapshot = published.restore(kept, state.savedAt, whole ? { version: state.version, people: state.people } : {});
      const successfulAt = lastSuccessOf(state);
      lastSync = { ...lastSync, at: state.savedAt, ...(successfulAt ? { successfulAt } : {}) };
      logger.info({ organisations: snapshot.organisations.length, version: snapshot.version }, 'loaded the persisted directory');
      return true;
    })();
    return loading;
  }

  async function sync(): Promise<SyncReport> {
    await load();
    if (replica && !replica.leading()) return replica.followLeader();
    let result: SyncPassResult;
    if (replica) {
      const pass = await replica.leaderPass(() => runSyncPass(passParts));
      if (!pass.kept) return pass.result.report;
      result = pass.result;
    } else {
      result = await runSyncPass(passParts);
    }
    const { report, failure, consumed } = result;
    lastSync = afterSync(lastSync, report, failure);
    deps.onSync?.(report);
    if (!replica) {
      // Without a snapshot there is nothing to keep: an empty file would restart as an empty (lying) directory.
      // A pass that did not fail published (or found unchanged) exactly the states' data, so the snapshot's version is
      // that data's, and its people are the records' when the states still hold the lists it was built from: kept
      // with it, a restart need not hash or sort them again. A pass that failed as a whole (Xero or its
      // token unreachable) published nothing and changed nothing a restart needs but its times and error: it is
      // not saved, since at a million memberships a save is seconds of work, at every sync of an outage. (It
      // consumed no confirmation either: those are consumed below only once a save has applied them.)
      const current = published.current();
      const worthSaving = failure === undefined || consumed.length > 0;
      if (current && worthSaving) await saved.save(toPersisted(tenants.sorted(), isoTime(clock.now()), policy, failure === undefined ? current : undefined));
      // Only once the state that applied them is on disk: until then the next sync reads them again, which is harmless.
      if (consumed.length > 0 && saved.writeError === undefined) {
        await confirmationStore.consume(consumed).catch((err: unknown) => logger.error({ err }, 'cannot delete consumed confirmations from STATE_DIR'));
      }
    }
    logger.info(
      {
        outcome: report.outcome,
        durationMs: report.durationMs,
        organisations: report.tenants.filter((t) => t.result !== 'removed').length,
        // Flat names: the logger redacts any key called `token`, even a count.
        tokenCalls: report.calls.token,
        connectionsCalls: report.calls.connections,
        organisationCalls: report.calls.organisation,
        usersCalls: report.calls.users,
        rateLimited: report.rateLimited,
        changed: report.changed,
        version: report.snapshotVersion,
      },
      'sync finished',
    );
    return report;
  }

  const loop = new SyncLoop(
    sync,
    { mode: options.sync.mode, intervalMs: options.sync.intervalSeconds * 1000, liveMinFreshnessMs: options.sync.liveMinFreshnessSeconds * 1000 },
    clock,
    random,
    stopping,
  );

  /** Live mode, the last sync older than its freshness window: a read fetches first. */
  const readWaitsForSync = (): boolean => loop.mustSyncBeforeRead(lastSync.finishedAtMs);
  return {
    current: () => published.current(),
    snapshot: (version) => published.byVersion(version),
    async forRead(): Promise<DirectorySnapshot | undefined> {
      // On a follower the shared sync asks the leader and waits for its publish (`followLeader`): no Xero call here.
      if (readWaitsForSync()) await loop.syncOnce();
      return published.current();
    },
    readNow: () => (readWaitsForSync() ? undefined : published.current()),
    status: (): DirectoryStatus => {
      const status = directoryStatus({
        snapshot: published.current(),
        lastSync,
        terminal: credentials.terminal(),
        credentials: credentials.health(lastSync.error?.at),
        persistence: replica
          ? persistenceHealth(replica.lastPublishedAt, replica.publishError, credentials.writeError())
          : persistenceHealth(saved.lastSavedAt, saved.writeError, credentials.writeError()),
        tenants: tenants.sorted(),
        policy,
      });
      const shared = deps.replication?.status();
      return shared ? { ...status, replication: shared } : status;
    },
    syncOnce: () => loop.syncOnce(),
    load,
    async start(): Promise<void> {
      await load();
      if (replica) replica.start(loop, load);
      else loop.start();
    },
    async stop(): Promise<void> {
      await loop.stop();
      await deps.replication?.stop();
    },
    lastReport: () => lastSync.report,
  };
}
