/**
 * When syncs run: one at a time (concurrent callers share the one in progress), every SYNC_INTERVAL_SECONDS with
 * ±10% jitter in cached mode until stopped, and, in live mode, before a read unless a sync finished within
 * LIVE_MIN_FRESHNESS_SECONDS. What a sync does is the caller's `run`. As one of several replicas the loop runs only
 * while this replica leads: `pause` ends it when the lease is lost and `start` begins it again when regained.
 */
import type { Clock } from '../xero/clock';
import type { SyncReport } from './sync-report';

export interface SyncSchedule {
  readonly mode: 'cached' | 'live';
  readonly intervalMs: number;
  readonly liveMinFreshnessMs: number;
}

export class SyncLoop {
  private inFlight: Promise<SyncReport> | undefined;
  private loop: Promise<void> | undefined;
  /** Ends the current loop alone (`pause`), leaving the directory's stop signal and a sync in progress alone. */
  private halt: AbortController | undefined;

  /** `stopping` also reaches every rate budget, so waits inside a sync end at once when it aborts. */
  constructor(
    private readonly run: () => Promise<SyncReport>,
    private readonly schedule: SyncSchedule,
    private readonly clock: Clock,
    private readonly random: () => number,
    private readonly stopping: AbortController,
  ) {}

  /** One sync now, or the one in progress. */
  syncOnce(): Promise<SyncReport> {
    this.inFlight ??= this.run().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Live mode: a recent sync attempt (successful or not) is fresh enough; this protects Xero's limits. */
  mustSyncBeforeRead(lastFinishedAtMs: number): boolean {
    return this.schedule.mode === 'live' && !this.fresh(lastFinishedAtMs);
  }

  /** A sync finished within LIVE_MIN_FRESHNESS_SECONDS: another one now would only spend Xero's allowance. */
  fresh(lastFinishedAtMs: number): boolean {
    return lastFinishedAtMs > 0 && this.clock.now() - lastFinishedAtMs < this.schedule.liveMinFreshnessMs;
  }

  /** Cached mode: syncs now and every interval until `stop` or `pause` (once, however often it is called). */
  start(): void {
    if (this.schedule.mode !== 'cached' || this.loop || this.stopping.signal.aborted) return;
    const halt = (this.halt = new AbortController());
    const signal = AbortSignal.any([this.stopping.signal, halt.signal]);
    this.loop = (async () => {
      while (!signal.aborted) {
        await this.syncOnce();
        if (signal.aborted) break;
        // ±10% jitter so replicas and restarts do not call Xero in lockstep.
        await this.clock.sleep(this.schedule.intervalMs * (0.9 + 0.2 * this.random()), signal);
      }
    })();
  }

  /** Ends the loop without cancelling a sync in progress (its result is the caller's to keep or drop); `start` resumes. */
  pause(): void {
    this.halt?.abort();
    this.halt = undefined;
    this.loop = undefined;
  }

  /** True while a sync runs. */
  syncing(): boolean {
    return this.inFlight !== undefined;
  }

  /** Ends the loop; a sync in progress stops waiting (Retry-After, backoff) and keeps what it had. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    this.loop = undefined;
    await this.inFlight?.catch(() => undefined);
  }
}
