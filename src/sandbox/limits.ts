import type { RateLimitOptions } from './options';

/**
 * Calls in a rolling window ("60 calls in a rolling 60 second window", "5000 in a rolling 24 hour window").
 * Minute windows use 1 ms buckets, i.e. exact times; the day uses 1 min buckets so a day of traffic costs at
 * most 1,440 numbers. A bucket leaves the window whole, so a call never counts for longer than the window.
 */
export class RollingWindow {
  private stamps: number[] = [];
  private counts: number[] = [];
  private head = 0;
  private total = 0;
  private readonly buckets: number;

  constructor(
    private readonly windowMs: number,
    private readonly bucketMs: number,
  ) {
    this.buckets = Math.ceil(windowMs / bucketMs);
  }

  used(now: number): number {
    this.evict(now);
    return this.total;
  }

  add(now: number): void {
    const bucket = Math.floor(now / this.bucketMs);
    const last = this.stamps.length - 1;
    if (last >= this.head && this.stamps[last] === bucket) this.counts[last]! += 1;
    else {
      this.stamps.push(bucket);
      this.counts.push(1);
    }
    this.total += 1;
  }

  /** Seconds until the oldest call leaves the window, so one more call fits. */
  secondsUntilRoom(now: number): number {
    this.evict(now);
    const oldest = this.stamps[this.head];
    if (oldest === undefined) return 0;
    return Math.max(1, Math.ceil(((oldest + this.buckets) * this.bucketMs - now) / 1000));
  }

  private evict(now: number): void {
    const first = Math.floor(now / this.bucketMs) - this.buckets + 1;
    while (this.head < this.stamps.length && this.stamps[this.head]! < first) {
      this.total -= this.counts[this.head]!;
      this.head += 1;
    }
    if (this.head > 512 && this.head * 2 > this.stamps.length) {
      this.stamps = this.stamps.slice(this.head);
      this.counts = this.counts.slice(this.head);
      this.head = 0;
    }
  }
}

/** `X-Rate-Limit-Problem` values (developer.xero.com "API rate limits"). */
export type RateLimitProblem = 'concurrent' | 'minute' | 'day' | 'appminute';

export type Admission =
  | { admitted: true; headers: Record<string, string>; release: () => void }
  | { admitted: false; headers: Record<string, string>; problem: RateLimitProblem; retryAfterSeconds: number };

interface TenantBudget {
  inFlight: number;
  minute: RollingWindow;
  day: RollingWindow;
}

export type ResolvedLimits = Required<RateLimitOptions>;

export const DEFAULT_LIMITS: ResolvedLimits = { enforce: true, concurrent: 5, perMinute: 60, perDay: 5000, appPerMinute: 10_000 };

/**
 * Xero's limits: per organisation and app 5 concurrent, 60 a minute, 5,000 a day; per app 10,000 a minute
 * (docs/xero.md, "Rate limits"). Calls refused with 429 do not count.
 */
export class RateLimiter {
  private readonly tenants = new Map<string, TenantBudget>();
  private readonly apps = new Map<string, RollingWindow>();

  constructor(private limits: ResolvedLimits) {}

  configure(limits: RateLimitOptions): void {
    this.limits = { ...this.limits, ...limits };
  }

  /** `/connections` and other tenant-less calls: only the app budget. */
  admitApp(clientId: string, now: number): Admission {
    const app = this.app(clientId);
    const remaining = (): Record<string, string> => ({ 'X-AppMinLimit-Remaining': String(Math.max(0, this.limits.appPerMinute - app.used(now))) });
    if (this.limits.enforce && app.used(now) >= this.limits.appPerMinute) {
      return { admitted: false, headers: remaining(), problem: 'appminute', retryAfterSeconds: app.secondsUntilRoom(now) };
    }
    app.add(now);
    return { admitted: true, headers: remaining(), release: () => undefined };
  }

  admitTenant(clientId: string, tenantId: string, now: number): Admission {
    const app = this.app(clientId);
    const key = `${clientId}\n${tenantId.toLowerCase()}`;
    let budget = this.tenants.get(key);
    if (!budget) {
      budget = { inFlight: 0, minute: new RollingWindow(60_000, 1), day: new RollingWindow(86_400_000, 60_000) };
      this.tenants.set(key, budget);
    }
    const b = budget;
    const headers = (): Record<string, string> => ({
      'X-DayLimit-Remaining': String(Math.max(0, this.limits.perDay - b.day.used(now))),
      'X-MinLimit-Remaining': String(Math.max(0, this.limits.perMinute - b.minute.used(now))),
      'X-AppMinLimit-Remaining': String(Math.max(0, this.limits.appPerMinute - app.used(now))),
    });
    if (this.limits.enforce) {
      const refuse = (problem: RateLimitProblem, retryAfterSeconds: number): Admission => ({ admitted: false, headers: headers(), problem, retryAfterSeconds });
      if (b.day.used(now) >= this.limits.perDay) return refuse('day', b.day.secondsUntilRoom(now));
      if (b.minute.used(now) >= this.limits.perMinute) return refuse('minute', b.minute.secondsUntilRoom(now));
      if (app.used(now) >= this.limits.appPerMinute) return refuse('appminute', app.secondsUntilRoom(now));
      if (b.inFlight >= this.limits.concurrent) return refuse('concurrent', 1);
    }
    b.day.add(now);
    b.minute.add(now);
    app.add(now);
    b.inFlight += 1;
    let released = false;
    return {
      admitted: true,
      headers: headers(),
      release: () => {
        if (!released) b.inFlight -= 1;
        released = true;
      },
    };
  }

  /** Calls admitted for this tenant whose connection has not closed yet, over all clients. */
  inFlight(tenantId: string): number {
    const suffix = `\n${tenantId.toLowerCase()}`;
    let total = 0;
    for (const [key, budget] of this.tenants) if (key.endsWith(suffix)) total += budget.inFlight;
    return total;
  }

  private app(clientId: string): RollingWindow {
    let window = this.apps.get(clientId);
    if (!window) {
      window = new RollingWindow(60_000, 1);
      this.apps.set(clientId, window);
    }
    return window;
  }
}
