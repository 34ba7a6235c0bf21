/**
 * Xero's rate limits, kept rather than discovered (XERO.md, "Rate limits"): per organisation at most 5 calls in
 * flight, 60 a minute and a daily allowance (5,000, fewer on small plans); 10,000 a minute per app. Xero reports
 * what is left in `X-MinLimit-Remaining`, `X-DayLimit-Remaining` and `X-AppMinLimit-Remaining` and we obey those
 * too, since other processes may share the allowance. A 429 waits `Retry-After`; a daily-limit 429 parks the
 * organisation until then instead of retrying. 5xx, timeouts and broken connections are retried with jittered
 * exponential backoff, and every call has a timeout.
 */
import { type Clock, systemClock } from './clock';
import { type Headers, XeroError, toXeroError } from './errors';

export interface RateLimits {
  /** Calls in flight at once, per organisation. */
  readonly concurrent: number;
  /** Calls per rolling minute, per organisation. */
  readonly perMinute: number;
  /** Calls per rolling day, per organisation. */
  readonly perDay: number;
}

export const XERO_LIMITS: RateLimits = { concurrent: 5, perMinute: 60, perDay: 5000 };

export interface CallPolicy {
  /** Real-time bound on each attempt. */
  readonly timeoutMs: number;
  /** Attempts on 5xx, timeouts and broken connections. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Minute-limit 429s waited out before giving up. */
  readonly maxRateLimitWaits: number;
  /** Retry-After to assume when a 429 has none. */
  readonly defaultRetryAfterSeconds: number;
}

export const DEFAULT_POLICY: CallPolicy = {
  timeoutMs: 30_000,
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRateLimitWaits: 3,
  defaultRetryAfterSeconds: 60,
};

export interface BudgetDeps {
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** What a call gives back to the budget: its value and the response headers (for the limit headers). */
export interface Answer<T> {
  readonly value: T;
  readonly headers: Headers;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

function remainingHeader(headers: Headers, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined || !/^\s*-?\d+\s*$/.test(raw)) return undefined;
  return Number(raw);
}

/** The app-wide minute allowance, shared by every organisation's budget. */
export class AppBudget {
  private blockedUntil = 0;
  remaining: number | undefined;

  constructor(private readonly clock: Clock = systemClock) {}

  observe(headers: Headers): void {
    const remaining = remainingHeader(headers, 'x-appminlimit-remaining');
    if (remaining === undefined) return;
    this.remaining = remaining;
    if (remaining <= 0) this.block(MINUTE);
  }

  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + ms);
  }

  /** Milliseconds to wait before the next call, 0 if none. */
  delay(): number {
    return Math.max(0, this.blockedUntil - this.clock.now());
  }
}

export interface BudgetStatus {
  readonly inFlight: number;
  /** Calls started in the last minute / day by this process. */
  readonly minuteCalls: number;
  readonly dayCalls: number;
  /** As last reported by Xero (less calls started since). */
  readonly minuteRemaining?: number;
  readonly dayRemaining?: number;
  /** Epoch ms until which the organisation is parked after a daily-limit 429. */
  readonly parkedUntil?: number;
  /** Every call attempted, and 429s received, since creation. */
  readonly calls: number;
  readonly rateLimited: number;
}

/** One organisation's allowance. `call()` runs a Xero call inside it, with retries. */
export class RateBudget {
  private readonly clock: Clock;
  private readonly random: () => number;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly minuteStarts: number[] = [];
  private readonly dayStarts: number[] = [];
  private gate: Promise<void> = Promise.resolve();
  /** Xero's last word on what is left, and the sequence number of the call that brought it. */
  private reported: { minute?: number; day?: number; seq: number; at: number } = { seq: -1, at: 0 };
  private started = 0;
  private blockedUntil = 0;
  private parkedUntil = 0;
  private calls = 0;
  private rateLimited = 0;

  constructor(
    readonly tenantId: string,
    private readonly limits: RateLimits = XERO_LIMITS,
    private readonly policy: CallPolicy = DEFAULT_POLICY,
    private readonly app: AppBudget = new AppBudget(),
    deps: BudgetDeps = {},
  ) {
    this.clock = deps.clock ?? systemClock;
    this.random = deps.random ?? Math.random;
  }

  status(): BudgetStatus {
    const now = this.clock.now();
    this.prune(now);
    const since = this.started - 1 - this.reported.seq;
    return {
      inFlight: this.inFlight,
      minuteCalls: this.minuteStarts.length,
      dayCalls: this.dayStarts.length,
      ...(this.reported.minute === undefined ? {} : { minuteRemaining: Math.max(0, this.reported.minute - since) }),
      ...(this.reported.day === undefined ? {} : { dayRemaining: Math.max(0, this.reported.day - since) }),
      ...(this.parkedUntil > now ? { parkedUntil: this.parkedUntil } : {}),
      calls: this.calls,
      rateLimited: this.rateLimited,
    };
  }

  /**
   * Runs `send` under the budget: waits for room, bounds it by the timeout, retries what is worth retrying.
   * `send` gets an AbortSignal that fires on timeout (calls that cannot be aborted keep their slot until they end).
   */
  async call<T>(operation: string, send: (signal: AbortSignal) => Promise<Answer<T>>): Promise<T> {
    let attempt = 0;
    let rateLimitWaits = 0;
    for (;;) {
      attempt++;
      try {
        return await this.once(operation, send);
      } catch (err) {
        const error = toXeroError(err, operation, this.clock.now());
        if (error.code === 'XERO_RATE_LIMITED' && rateLimitWaits < this.policy.maxRateLimitWaits) {
          rateLimitWaits++;
          attempt--; // waiting out a 429 is not a failed attempt
          await this.clock.sleep(Math.max(this.blockedUntil, this.app.delay() + this.clock.now()) - this.clock.now());
          continue;
        }
        if (error.retryable && error.code !== 'XERO_RATE_LIMITED' && attempt < this.policy.maxAttempts) {
          // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
          const cap = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
          await this.clock.sleep(cap * this.random());
          continue;
        }
        throw error;
      }
    }
  }

  private async once<T>(operation: string, send: (signal: AbortSignal) => Promise<Answer<T>>): Promise<T> {
    const { release, seq } = await this.acquire(operation);
    const controller = new AbortController();
    const pending = Promise.resolve().then(() => send(controller.signal));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new XeroError('XERO_TIMEOUT', `${operation}: no answer from Xero within ${this.policy.timeoutMs} ms`));
      }, this.policy.timeoutMs);
      timer.unref?.();
    });
    // The slot is Xero's concurrency, so it stays taken until the request really ends (bounded, so a call that
    // never settles cannot starve the organisation).
    pending.then(release, release);
    setTimeout(release, 2 * this.policy.timeoutMs).unref?.();
    try {
      const answer = await Promise.race([pending, timedOut]);
      this.observe(answer.headers, seq);
      return answer.value;
    } catch (err) {
      const error = toXeroError(err, operation, this.clock.now());
      this.observe(error.headers, seq);
      this.onFailure(error);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Records Xero's remaining counts. They are as of call `seq`; every call started after it may not be in them
   * yet, so it is subtracted (conservative: some of those Xero had already counted). Answers to older calls that
   * arrive late are ignored.
   */
  private observe(headers: Headers, seq: number): void {
    this.app.observe(headers);
    const minute = remainingHeader(headers, 'x-minlimit-remaining');
    const day = remainingHeader(headers, 'x-daylimit-remaining');
    if ((minute === undefined && day === undefined) || seq < this.reported.seq) return;
    this.reported = { seq, at: this.clock.now(), ...(minute === undefined ? {} : { minute }), ...(day === undefined ? {} : { day }) };
  }

  /** Calls started after the one whose answer brought `reported`. */
  private startedSinceReport(): number {
    return this.started - 1 - this.reported.seq;
  }

  private onFailure(error: XeroError): void {
    if (error.status !== 429) return;
    this.rateLimited++;
    const retryMs = (error.retryAfterSeconds ?? this.policy.defaultRetryAfterSeconds) * 1000;
    const problem = (error.headers['x-rate-limit-problem'] ?? '').toLowerCase();
    if (error.code === 'XERO_DAILY_LIMIT') this.park(retryMs);
    else if (problem === 'appminute') this.app.block(retryMs);
    else this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + retryMs);
  }

  private park(ms: number): void {
    this.parkedUntil = Math.max(this.parkedUntil, this.clock.now() + ms);
  }

  private parkedError(operation: string): XeroError {
    const seconds = Math.ceil((this.parkedUntil - this.clock.now()) / 1000);
    return new XeroError('XERO_DAILY_LIMIT', `${operation}: this organisation's daily Xero allowance is used up; next try in ${seconds} s`, {
      retryAfterSeconds: seconds,
    });
  }

  /** Waits, in arrival order, until a call may start; then takes the slot. */
  private acquire(operation: string): Promise<{ release: () => void; seq: number }> {
    const turn = this.gate.then(() => this.waitForRoom(operation));
    this.gate = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async waitForRoom(operation: string): Promise<{ release: () => void; seq: number }> {
    for (;;) {
      const now = this.clock.now();
      const delay = this.delay(now);
      if (this.parkedUntil > now) throw this.parkedError(operation);
      if (this.inFlight >= this.limits.concurrent) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (delay > 0) {
        await this.clock.sleep(delay);
        continue;
      }
      this.inFlight++;
      this.calls++;
      this.minuteStarts.push(now);
      this.dayStarts.push(now);
      const seq = this.started++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.inFlight--;
        this.waiters.shift()?.();
      };
      return { release, seq };
    }
  }

  /** Milliseconds until the minute windows (ours, Xero's, the app's) leave room; parks when the day is spent. */
  private delay(now: number): number {
    this.prune(now);
    const since = this.startedSinceReport();
    if (this.dayStarts.length >= this.limits.perDay) this.park(this.dayStarts[0]! + DAY - now);
    // Xero's day is rolling and it does not say when room returns: look again in an hour (a 429 would say).
    else if (this.reported.day !== undefined && this.reported.day - since <= 0 && this.reported.at + DAY > now) {
      this.park(Math.max(0, this.reported.at + 3_600_000 - now));
    }
    let until = Math.max(this.blockedUntil, now + this.app.delay());
    if (this.minuteStarts.length >= this.limits.perMinute) until = Math.max(until, this.minuteStarts[0]! + MINUTE);
    if (this.reported.minute !== undefined && this.reported.minute - since <= 0) {
      // Room returns when the oldest call Xero may be counting leaves its rolling minute.
      until = Math.max(until, Math.min(this.minuteStarts[0] ?? this.reported.at, this.reported.at) + MINUTE);
    }
    return Math.max(0, until - now);
  }

  private prune(now: number): void {
    while (this.minuteStarts.length > 0 && this.minuteStarts[0]! <= now - MINUTE) this.minuteStarts.shift();
    while (this.dayStarts.length > 0 && this.dayStarts[0]! <= now - DAY) this.dayStarts.shift();
  }
}
