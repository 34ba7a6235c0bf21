/**
 * The last day of syncs, in memory, for the status page's charts: per sync its time, outcome and duration, and per
 * organisation its result, user count and duration. Bounded three ways, so a short sync interval or thousands of
 * organisations cannot grow it: by age (24 h), by number of syncs, and by organisation points in all. It is lost on
 * restart (the persisted state keeps the directory, not its history).
 */
import type { SyncReport, TenantSyncReport } from '../directory/sync-report';

export interface TenantPoint {
  readonly organisationId: string;
  readonly name?: string;
  readonly result: TenantSyncReport['result'];
  readonly userCount?: number;
  readonly durationMs?: number;
}

export interface SyncPoint {
  /** When the sync finished, in milliseconds since the epoch. */
  readonly at: number;
  readonly outcome: SyncReport['outcome'];
  readonly durationMs: number;
  readonly tenants: readonly TenantPoint[];
}

export interface SyncHistoryLimits {
  /** Syncs older than this (before the newest one) are dropped; default 24 h. */
  readonly windowMs?: number;
  /** Most syncs kept; default 1,440 (one a minute for a day; at a shorter interval, the newest 1,440). */
  readonly maxSyncs?: number;
  /** Most organisation points kept across all syncs; default 50,000 (a few MB). */
  readonly maxPoints?: number;
}

export const DAY_MS = 86_400_000;

export class SyncHistory {
  readonly windowMs: number;
  private readonly maxSyncs: number;
  private readonly maxPoints: number;
  private points: SyncPoint[] = [];
  private tenantPoints = 0;

  constructor(limits: SyncHistoryLimits = {}) {
    this.windowMs = limits.windowMs ?? DAY_MS;
    this.maxSyncs = limits.maxSyncs ?? 1440;
    this.maxPoints = limits.maxPoints ?? 50_000;
  }

  /** Keeps what the charts draw of `report` (wire it to the directory's `onSync`). */
  record(report: SyncReport): void {
    const point: SyncPoint = {
      at: Date.parse(report.finishedAt),
      outcome: report.outcome,
      durationMs: report.durationMs,
      tenants: report.tenants
        .filter((t) => t.result !== 'removed')
        .map((t) => ({
          organisationId: t.organisationId,
          ...(t.name === undefined ? {} : { name: t.name }),
          result: t.result,
          ...(t.userCount === undefined ? {} : { userCount: t.userCount }),
          ...(t.durationMs === undefined ? {} : { durationMs: t.durationMs }),
        })),
    };
    this.points.push(point);
    this.tenantPoints += point.tenants.length;
    const oldest = point.at - this.windowMs;
    let drop = 0;
    let dropped = 0;
    // Always keep the newest sync, even when it alone is over the point limit.
    while (
      drop < this.points.length - 1 &&
      (this.points[drop]!.at < oldest || this.points.length - drop > this.maxSyncs || this.tenantPoints - dropped > this.maxPoints)
    ) {
      dropped += this.points[drop]!.tenants.length;
      drop++;
    }
    if (drop > 0) {
      this.points = this.points.slice(drop);
      this.tenantPoints -= dropped;
    }
  }

  /** The syncs of the window ending at `now`, oldest first. */
  recent(now: number): readonly SyncPoint[] {
    const from = now - this.windowMs;
    return this.points.filter((p) => p.at >= from && p.at <= now);
  }

  /** Syncs and organisation points held (what the limits bound). */
  size(): { syncs: number; points: number } {
    return { syncs: this.points.length, points: this.tenantPoints };
  }
}
