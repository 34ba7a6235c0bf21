/**
 * The directory as one of several replicas over a shared store (`Replication`, `replication.ts`): the leader's half
 * (publish each sync's result, fenced, and consume the operator confirmations it applied once that succeeded) and the
 * follower's half (adopt what the leader published, wholesale, so every replica serves the same snapshot, the same
 * `builtAt` and the same ETags; ask the leader for a sync instead of calling Xero).
 *
 * `sync.ts` composes it when `XeroDirectoryDeps.replication` is given; without it none of this runs and STATE_DIR
 * keeps the state (`saved-state.ts`). The rules it keeps:
 * - only the lease holder syncs: the sync loop runs while this replica leads (`start`), and a result the store
 *   refuses (the lease moved on), or one another leader's publish overtook while it ran, is dropped, not reported
 *   as this replica's, and the newest published state taken;
 * - nothing empty is published (a leader without a snapshot publishes nothing), and nothing empty is adopted (no
 *   published state, or a store that cannot be read, leaves what is held);
 * - a published state is not adopted under this replica's own sync pass, and adoptions run one at a time, in order;
 * - a replica that becomes leader continues from the newest published state and seeds each organisation's day
 *   budget from it (`seedDayBudgets`).
 */
import type { Logger } from '../log';
import { type Clock, isoTime } from '../xero/clock';
import type { ConfirmationStore } from './confirmations';
import type { Credentials } from './credentials';
import type { GuardPolicy } from './guard';
import type { ProblemReport } from './model';
import type { PersistedDirectory } from './persistence';
import type { PublishedSnapshot } from './published';
import type { PublishedState, Replication } from './replication';
import { adoptTenants, lastSuccessOf, seedDayBudgets, toPersisted } from './saved-state';
import type { LastSync } from './status';
import type { SyncLoop } from './sync-loop';
import type { SyncPassResult } from './sync-pass';
import { type SyncReport, buildSyncReport, emptyCounts } from './sync-report';
import type { Tenants } from './tenant-state';

/** Why the newest published state is looked for (see `ReplicaSync.adoptNewest`). */
export type AdoptReason = 'start' | 'announced' | 'restarted' | 'leading' | 'dropped';

export interface ReplicaSyncParts {
  readonly replication: Replication;
  /** The token chain this replica would redeem on taking the lease: a follower keeps its copy of it current. */
  readonly credentials: Pick<Credentials, 'followShared'>;
  readonly tenants: Tenants;
  readonly published: PublishedSnapshot;
  readonly confirmationStore: ConfirmationStore;
  readonly policy: GuardPolicy;
  /** XERO_TENANT_IDS, lower case; empty means every connected organisation. */
  readonly allowList: ReadonlySet<string>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The directory's stop: a follower waiting for the leader stops waiting. */
  readonly stopping: AbortSignal;
  /** Longest a follower's sync waits for the leader's publish (real time: it bounds I/O like a call's timeout). */
  readonly followWaitMs: number;
  /** The directory's record of the last sync: an adopted state replaces it with the publisher's. */
  readonly lastSync: { get(): LastSync; set(lastSync: LastSync): void };
}

/** What became of a leader's sync result: published (or kept here while the store is unreachable), or dropped. */
type Publication = 'kept' | 'lost' | 'superseded';

/** A leader's sync pass with what became of its result: `kept` is false when it was dropped (the lease moved on). */
export interface LeaderPass {
  readonly result: SyncPassResult;
  readonly kept: boolean;
}

export class ReplicaSync {
  /** The published state this replica holds (adopted, or published by it). */
  /**
   * The published state this replica holds: its sequence and version, and what a new leader seeds its day budgets
   * from. Not its users: those live packed in the tenant states, and a parsed publish's plain records would double them.
   */
  private held: { sequence: number; version: string; state: Pick<PersistedDirectory, 'savedAt' | 'health'> } | undefined;
  /** True while this replica's own sync pass runs: a published state is not adopted under it. */
  private passing = false;
  /** The last publish, or why it failed (the status's `persistence`). */
  private lastPublished: string | undefined;
  private publishFailure: ProblemReport | undefined;
  /** Woken whenever a published state is adopted (syncs waiting on the leader). */
  private readonly arrivals = new Set<() => void>();
  /** Adoptions run one at a time, in order. */
  private adopting: Promise<unknown> = Promise.resolve();

  constructor(private readonly parts: ReplicaSyncParts) {}

  /** When this replica last published or adopted a state (the status's `persistence`). */
  get lastPublishedAt(): string | undefined {
    return this.lastPublished;
  }

  /** Why the last publish failed, until one succeeds. */
  get publishError(): ProblemReport | undefined {
    return this.publishFailure;
  }

  /** True while this replica holds the lease: it syncs from Xero; otherwise it follows (`followLeader`). */
  leading(): boolean {
    return this.parts.replication.leading();
  }

  /** Listens to the lease and the announcements: `loop` runs while leading; `load` is the directory's first load. */
  start(loop: SyncLoop, load: () => Promise<boolean>): void {
    const { replication, logger, stopping, tenants } = this.parts;
    replication.start({
      onLeadership: (leading) => {
        if (!leading) {
          logger.info('this replica no longer leads: it serves what the leader publishes');
          loop.pause();
          return;
        }
        void this.enqueue(async () => {
          await load();
          // Continue from the newest state (its guard counts, suspicions, detail ages), not from an older one.
          await this.adoptNewest('leading');
          if (!replication.leading() || stopping.aborted) return;
          if (this.held) seedDayBudgets(tenants, this.held.state);
          logger.info({ sequence: this.held?.sequence }, 'this replica leads: it syncs from Xero and publishes');
          loop.start();
        });
      },
      onPublished: (sequence) => {
        // A leader's own publish comes back announced; a newer one while syncing is settled once the sync ends.
        if (this.held && sequence === this.held.sequence) return;
        if (this.passing) return;
        void this.enqueue(() => this.adoptNewest(this.held && sequence < this.held.sequence ? 'restarted' : 'announced'));
      },
      onSyncRequested: () => {
        if (!replication.leading()) return;
        // A follower's live read (or its `syncOnce`): one shared sync, unless one finished within the freshness window.
        if (!loop.fresh(this.parts.lastSync.get().finishedAtMs)) void loop.syncOnce();
      },
    });
  }

  /**
   * The leader's sync: runs `pass` with adoptions held off, then publishes its result. A result that must be
   * dropped (the lease is no longer this replica's) is logged and the newest published state taken instead.
   */
  async leaderPass(pass: () => Promise<SyncPassResult>): Promise<LeaderPass> {
    this.passing = true;
    let result: SyncPassResult;
    let kept: Publication;
    try {
      result = await pass();
      kept = await this.publishResult(result.consumed);
    } finally {
      this.passing = false;
    }
    if (kept !== 'kept') {
      // The lease went to another replica meanwhile: its syncs are the truth, and this one's failures are not ours.
      const why = kept === 'superseded' ? 'another replica published while it ran' : 'this replica no longer leads';
      this.parts.logger.info({ version: result.report.snapshotVersion }, `sync result dropped: ${why}`);
      void this.enqueue(() => this.adoptNewest('dropped'));
    }
    return { result, kept: kept === 'kept' };
  }

  /**
   * Takes the newest published state if it is newer than the one held. `dropped`: whatever it is, after this
   * replica's own unpublished sync; `restarted`: a lower sequence was announced (the store lost its data and
   * counts again), so any other one. No published state, or a store that cannot be read, leaves what is held:
   * nothing empty is taken as the truth.
   */
  async adoptNewest(why: AdoptReason): Promise<boolean> {
    let state: PublishedState | undefined;
    try {
      state = await this.parts.replication.fetchPublished(why === 'dropped' || why === 'restarted' ? undefined : this.held?.sequence);
    } catch (err) {
      this.parts.logger.warn({ err, why }, 'cannot read the published directory state; serving what this replica holds');
      return false;
    }
    if (!state || (this.passing && why !== 'dropped')) return false;
    if (why === 'restarted' && state.sequence === this.held?.sequence) return false;
    this.adopt(state);
    return true;
  }

  /** A follower's "sync": asks the leader for one and waits for what it publishes. No Xero call is made here. */
  async followLeader(): Promise<SyncReport> {
    const started = this.parts.clock.now();
    const arrived = this.nextArrival(this.parts.followWaitMs);
    await this.parts.replication.requestSync().catch((err: unknown) => this.parts.logger.warn({ err }, 'cannot ask the leader for a sync'));
    await arrived;
    return this.heldReport(started);
  }

  /**
   * The leader's half of a sync: publishes the result, fenced (only when a snapshot exists: nothing empty is
   * published), and consumes the confirmations it applied once that succeeded. The result is dropped when the lease
   * is no longer this replica's (`lost`), or when another replica published while the pass ran (`superseded`: the
   * lease moved on and came back, and this result was built without what the other leader applied, a confirmed
   * removal say). A store that cannot be reached keeps the result here, reported.
   */
  private async publishResult(consumed: readonly string[]): Promise<Publication> {
    const { replication, published, tenants, clock, policy, logger, confirmationStore } = this.parts;
    if (!replication.leading()) return 'lost';
    const snapshot = published.current();
    if (!snapshot) return 'kept';
    const state = toPersisted(tenants.sorted(), isoTime(clock.now()), policy);
    let result: false | PublishedState;
    try {
      // Adoptions wait while a pass runs, so `held` is what the pass started from; no other replica can publish
      // between this read and the fenced publish below while this one holds the lease.
      if (await replication.fetchPublished(this.held?.sequence)) return 'superseded';
      result = await replication.publish({ version: snapshot.version, builtAt: snapshot.builtAt, state });
    } catch (err) {
      this.publishFailure = {
        code: 'STATE_NOT_PUBLISHED',
        message: `cannot publish the directory state to the shared store (${(err as Error).message}): the other replicas serve the previous one`,
        at: isoTime(clock.now()),
      };
      logger.error({ err }, 'cannot publish the directory state; serving it from this replica only');
      return 'kept';
    }
    if (result === false) return 'lost';
    this.held = { sequence: result.sequence, version: snapshot.version, state: { savedAt: state.savedAt, health: state.health } };
    this.lastPublished = state.savedAt;
    this.publishFailure = undefined;
    replication.serving(snapshot.version, result.sequence);
    if (consumed.length > 0) {
      await confirmationStore.consume(consumed).catch((err: unknown) => logger.error({ err }, 'cannot delete consumed disconnect confirmations'));
    }
    return 'kept';
  }

  /** A published state, taken wholesale: the tenant states, and the snapshot built with the publisher's `builtAt`. */
  private adopt(state: PublishedState): void {
    const { replication, published, tenants, allowList, logger } = this.parts;
    // With no allow-list of its own this replica builds exactly what the leader published: its version is the leader's.
    const snapshot = published.adopt(adoptTenants(tenants, state.state, allowList), state.builtAt, allowList.size === 0 ? state.version : undefined);
    if (snapshot.version !== state.version) {
      logger.warn({ published: state.version, built: snapshot.version }, 'the published state builds another version here: is XERO_TENANT_IDS the same on every replica?');
    }
    this.parts.lastSync.set(followedSync(state.state));
    this.lastPublished = state.state.savedAt;
    this.held = { sequence: state.sequence, version: snapshot.version, state: { savedAt: state.state.savedAt, health: state.state.health } };
    replication.serving(snapshot.version, state.sequence);
    // The leader rotated the refresh token for this sync: this replica's copy follows, in case it must reseed Redis.
    if (!replication.leading()) void this.parts.credentials.followShared();
    logger.info({ sequence: state.sequence, version: snapshot.version, publishedBy: state.publishedBy }, 'loaded the published directory');
    for (const wake of [...this.arrivals]) wake();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.adopting.then(task, task);
    this.adopting = run.catch(() => undefined);
    return run;
  }

  /** Waits until a published state is adopted, at most `ms` (real time: it bounds I/O like a call's timeout). */
  private nextArrival(ms: number): Promise<boolean> {
    const { stopping } = this.parts;
    return new Promise((resolve) => {
      const done = (arrived: boolean): void => {
        clearTimeout(timer);
        this.arrivals.delete(wake);
        stopping.removeEventListener('abort', onStop);
        resolve(arrived);
      };
      const wake = (): void => done(true);
      const onStop = (): void => done(false);
      const timer = setTimeout(() => done(false), ms);
      timer.unref?.();
      this.arrivals.add(wake);
      stopping.addEventListener('abort', onStop, { once: true });
    });
  }

  /** What a follower reports of a sync it waited for: the states it holds, and no call of its own. */
  private heldReport(startedMs: number): SyncReport {
    const { published, clock, tenants, policy } = this.parts;
    const snapshot = published.current();
    return buildSyncReport({
      startedMs,
      finishedMs: clock.now(),
      ...(snapshot ? { snapshotVersion: snapshot.version } : {}),
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
}

/** What a follower's status says of the last sync: the publisher's, as the published state tells it. */
function followedSync(state: PersistedDirectory): LastSync {
  const successfulAt = lastSuccessOf(state);
  return { at: state.savedAt, finishedAtMs: Date.parse(state.savedAt), ...(successfulAt ? { successfulAt } : {}) };
}
