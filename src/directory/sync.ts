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
 * - `published.ts`: the snapshot served; `saved-state.ts`: the state in STATE_DIR; `sync-loop.ts`: when syncs run.
 *
 * As one of several replicas (`deps.replication`, `replication.ts`) the state goes to the shared store instead of
 * STATE_DIR: only the replica holding the lease syncs, and publishes each result; the others adopt what it
 * published, wholesale, and serve the same snapshot (same version, same `builtAt`, same ETags). The rules are in
 * `startReplica`, `publishResult` and `adopt` below.
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
import type { Directory, DirectorySnapshot, DirectoryStatus, ProblemReport } from './model';
import { FileSnapshotStore, type SnapshotStore } from './persistence';
import type { PersistedDirectory } from './persistence';
import { PublishedSnapshot } from './published';
import type { PublishedState, Replication, ReplicationStatus } from './replication';
import { SavedState, adoptTenants, lastSuccessOf, restoreTenants, seedDayBudgets, toPersisted } from './saved-state';
import { type LastSync, afterSync, directoryStatus, persistenceHealth } from './status';
import { SyncLoop } from './sync-loop';
import { runSyncPass } from './sync-pass';
import { type SyncProgress, type SyncReport, buildSyncReport, emptyCounts } from './sync-report';
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
  const replication = deps.replication;
  /** What the status says of the last sync; replaced whole after each one. */
  let lastSync: LastSync = { finishedAtMs: 0 };
  /** As a replica: the published state this one holds (adopted or published by it). */
  let held: { sequence: number; version: string; state: PersistedDirectory } | undefined;
  /** True while this replica's own sync pass runs: a published state is not adopted under it. */
  let passing = false;
  /** As a replica: the last publish, or why it failed (the status's `persistence`). */
  let lastPublishedAt: string | undefined;
  let publishError: ProblemReport | undefined;
  /** As a replica: woken whenever a published state is adopted (reads and syncs waiting on the leader). */
  const arrivals = new Set<() => void>();
  /** As a replica: adoptions run one at a time, in order. */
  let adopting: Promise<unknown> = Promise.resolve();
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
  let loading: Promise<boolean> | undefined;

  function load(): Promise<boolean> {
    loading ??= (async () => {
      if (replication) return adoptNewest('start');
      const state = await saved.load();
      if (!state) return false;
      const snapshot = published.restore(restoreTenants(tenants, state, allowList), state.savedAt);
      const successfulAt = lastSuccessOf(state);
      lastSync = { ...lastSync, at: state.savedAt, ...(successfulAt ? { successfulAt } : {}) };
      logger.info({ organisations: snapshot.organisations.length, version: snapshot.version }, 'loaded the persisted directory');
      return true;
    })();
    return loading;
  }

  async function sync(): Promise<SyncReport> {
    await load();
    if (replication && !replication.leading()) return followLeader(replication);
    passing = true;
    let kept = true;
    let result;
    try {
      result = await runSyncPass(passParts);
      if (replication) kept = await publishResult(replication, result.consumed);
    } finally {
      passing = false;
    }
    const { report, failure, consumed } = result;
    if (replication) {
      if (!kept) {
        // The lease went to another replica meanwhile: its syncs are the truth, and this one's failures are not ours.
        logger.info({ version: report.snapshotVersion }, 'sync result dropped: this replica no longer leads');
        void enqueue(() => adoptNewest('dropped'));
        return report;
      }
    }
    lastSync = afterSync(lastSync, report, failure);
    deps.onSync?.(report);
    if (!replication) {
      // Without a snapshot there is nothing to keep: an empty file would restart as an empty (lying) directory.
      if (published.current()) await saved.save(toPersisted(tenants.sorted(), isoTime(clock.now()), policy));
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

  /**
   * The leader's half of a sync: publishes the result, fenced (only when a snapshot exists: nothing empty is
   * published), and consumes the confirmations it applied once that succeeded. False when the result must be
   * dropped: the lease is no longer this replica's. A store that cannot be reached keeps the result here, reported.
   */
  async function publishResult(replication: Replication, consumed: readonly string[]): Promise<boolean> {
    if (!replication.leading()) return false;
    const snapshot = published.current();
    if (!snapshot) return true;
    const state = toPersisted(tenants.sorted(), isoTime(clock.now()), policy);
    let result: false | PublishedState;
    try {
      result = await replication.publish({ version: snapshot.version, builtAt: snapshot.builtAt, state });
    } catch (err) {
      publishError = {
        code: 'STATE_NOT_PUBLISHED',
        message: `cannot publish the directory state to the shared store (${(err as Error).message}): the other replicas serve the previous one`,
        at: isoTime(clock.now()),
      };
      logger.error({ err }, 'cannot publish the directory state; serving it from this replica only');
      return true;
    }
    if (result === false) return false;
    held = { sequence: result.sequence, version: snapshot.version, state };
    lastPublishedAt = state.savedAt;
    publishError = undefined;
    replication.serving(snapshot.version, result.sequence);
    if (consumed.length > 0) {
      await confirmationStore.consume(consumed).catch((err: unknown) => logger.error({ err }, 'cannot delete consumed disconnect confirmations'));
    }
    return true;
  }

  /**
   * Takes the newest published state if it is newer than the one held. `dropped`: whatever it is, after this
   * replica's own unpublished sync; `restarted`: a lower sequence was announced (the store lost its data and
   * counts again), so any other one. No published state, or a store that cannot be read, leaves what is held:
   * nothing empty is taken as the truth.
   */
  async function adoptNewest(why: 'start' | 'announced' | 'restarted' | 'leading' | 'dropped'): Promise<boolean> {
    if (!replication) return false;
    let state: PublishedState | undefined;
    try {
      state = await replication.fetchPublished(why === 'dropped' || why === 'restarted' ? undefined : held?.sequence);
    } catch (err) {
      logger.warn({ err, why }, 'cannot read the published directory state; serving what this replica holds');
      return false;
    }
    if (!state || (passing && why !== 'dropped')) return false;
    if (why === 'restarted' && state.sequence === held?.sequence) return false;
    adopt(replication, state);
    return true;
  }

  /** A published state, taken wholesale: the tenant states, and the snapshot built with the publisher's `builtAt`. */
  function adopt(replication: Replication, state: PublishedState): void {
    const snapshot = published.adopt(adoptTenants(tenants, state.state, allowList), state.builtAt);
    if (snapshot.version !== state.version) {
      logger.warn({ published: state.version, built: snapshot.version }, 'the published state builds another version here: is XERO_TENANT_IDS the same on every replica?');
    }
    lastSync = followedSync(state.state);
    lastPublishedAt = state.state.savedAt;
    held = { sequence: state.sequence, version: snapshot.version, state: state.state };
    replication.serving(snapshot.version, state.sequence);
    // The leader rotated the refresh token for this sync: this replica's copy follows, in case it must reseed Redis.
    if (!replication.leading()) void credentials.followShared();
    logger.info({ sequence: state.sequence, version: snapshot.version, publishedBy: state.publishedBy }, 'loaded the published directory');
    for (const wake of [...arrivals]) wake();
  }

  function enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = adopting.then(task, task);
    adopting = run.catch(() => undefined);
    return run;
  }

  /** Waits until a published state is adopted, at most `ms` (real time: it bounds I/O like a call's timeout). */
  function nextArrival(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (arrived: boolean): void => {
        clearTimeout(timer);
        arrivals.delete(wake);
        stopping.signal.removeEventListener('abort', onStop);
        resolve(arrived);
      };
      const wake = (): void => done(true);
      const onStop = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      timer.unref?.();
      arrivals.add(wake);
      stopping.signal.addEventListener('abort', onStop, { once: true });
    });
  }

  /** A follower's "sync": asks the leader for one and waits for what it publishes. No Xero call is made here. */
  async function followLeader(replication: Replication): Promise<SyncReport> {
    const started = clock.now();
    const arrived = nextArrival(xero.timeoutMs);
    await replication.requestSync().catch((err: unknown) => logger.warn({ err }, 'cannot ask the leader for a sync'));
    await arrived;
    return heldReport(started);
  }

  /** What a follower reports of a sync it waited for: the states it holds, and no call of its own. */
  function heldReport(startedMs: number): SyncReport {
    return buildSyncReport({
      startedMs,
      finishedMs: clock.now(),
      ...(published.current() ? { snapshotVersion: published.current()!.version } : {}),
      changed: false,
      calls: { token: 0, connections: 0, organisation: 0, users: 0 },
      rateLimited: 0,
      states: tenants.sorted(),
      counts: emptyCounts(),
      removed: [],
      raised: [],
      policy,
    });
  }

  const loop = new SyncLoop(
    sync,
    { mode: options.sync.mode, intervalMs: options.sync.intervalSeconds * 1000, liveMinFreshnessMs: options.sync.liveMinFreshnessSeconds * 1000 },
    clock,
    random,
    stopping,
  );

  /** The lease's events: the loop runs while leading; announcements are adopted in order. */
  function startReplica(replication: Replication): void {
    replication.start({
      onLeadership: (leading) => {
        if (!leading) {
          logger.info('this replica no longer leads: it serves what the leader publishes');
          loop.pause();
          return;
        }
        void enqueue(async () => {
          await load();
          // Continue from the newest state (its guard counts, suspicions, detail ages), not from an older one.
          await adoptNewest('leading');
          if (!replication.leading() || stopping.signal.aborted) return;
          if (held) seedDayBudgets(tenants, held.state);
          logger.info({ sequence: held?.sequence }, 'this replica leads: it syncs from Xero and publishes');
          loop.start();
        });
      },
      onPublished: (sequence) => {
        // A leader's own publish comes back announced; a newer one while syncing is settled once the sync ends.
        if (held && sequence === held.sequence) return;
        if (passing) return;
        void enqueue(() => adoptNewest(held && sequence < held.sequence ? 'restarted' : 'announced'));
      },
      onSyncRequested: () => {
        if (!replication.leading()) return;
        // A follower's live read (or its `syncOnce`): one shared sync, unless one finished within the freshness window.
        if (!loop.fresh(lastSync.finishedAtMs)) void loop.syncOnce();
      },
    });
  }

  function replicationStatus(): ReplicationStatus | undefined {
    return replication?.status();
  }

  return {
    current: () => published.current(),
    snapshot: (version) => published.byVersion(version),
    async forRead(): Promise<DirectorySnapshot | undefined> {
      // On a follower the shared sync asks the leader and waits for its publish (`followLeader`): no Xero call here.
      if (loop.mustSyncBeforeRead(lastSync.finishedAtMs)) await loop.syncOnce();
      return published.current();
    },
    status: (): DirectoryStatus => {
      const status = directoryStatus({
        snapshot: published.current(),
        lastSync,
        terminal: credentials.terminal(),
        credentials: credentials.health(lastSync.error?.at),
        persistence: replication
          ? persistenceHealth(lastPublishedAt, publishError, credentials.writeError())
          : persistenceHealth(saved.lastSavedAt, saved.writeError, credentials.writeError()),
        tenants: tenants.sorted(),
        policy,
      });
      const shared = replicationStatus();
      return shared ? { ...status, replication: shared } : status;
    },
    syncOnce: () => loop.syncOnce(),
    load,
    async start(): Promise<void> {
      await load();
      if (replication) startReplica(replication);
      else loop.start();
    },
    async stop(): Promise<void> {
      await loop.stop();
      await replication?.stop();
    },
    lastReport: () => lastSync.report,
  };
}

/** What a follower's status says of the last sync: the publisher's, as the published state tells it. */
function followedSync(state: PersistedDirectory): LastSync {
  const successfulAt = lastSuccessOf(state);
  return { at: state.savedAt, finishedAtMs: Date.parse(state.savedAt), ...(successfulAt ? { successfulAt } : {}) };
}
