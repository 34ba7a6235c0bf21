/**
 * Xero's rate limits, kept rather than discovered (docs/xero.md, "Rate limits"): per organisation at most 5 calls in
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
  /** Longest wait for room inside one call; beyond it the call fails now (the organisation keeps its last data). */
  readonly maxWaitMs: number;
}

export const DEFAULT_POLICY: CallPolicy = {
  timeoutMs: 30_000,
  maxAttempts: 4,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  maxRateLimitWaits: 3,
  defaultRetryAfterSeconds: 60,
  maxWaitMs: 120_000,
};

export interface BudgetDeps {
  readonly clock?: Clock;
  readonly random?: () => number;
  /** Aborted on shutdown: waits end at once and no new call starts. */
  readonly signal?: AbortSignal;
  /** Told of every answer (or failure) from Xero, for metrics: the operation and the HTTP status (0 = none). */
  readonly onAnswer?: (operation: string, status: number) => void;
}

/** What a call gives back to the budget: its value and the response headers (for the limit headers). */
export interface Answer<T> {
  readonly value: T;
  readonly headers: Headers;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** Xero's day is rolling and it does not say when room returns: look again after this (a 429 would say). */
const DAY_RECHECK = 3_600_000;

function remainingHeader(headers: Headers, name: string): number | undefined {
  const raw = headers[name];
  if (raw === undefined || !/^\s*-?\d+\s*$/.test(raw)) return undefined;
  return Number(raw);
}

/** Where a call stood when it started, to judge later what Xero's answer to it had already counted. */
interface Ticket {
  readonly inFlightBefore: number;
  readonly startedBefore: number;
}

/**
 * A lower bound of what Xero has left, from its `…-Remaining` headers. An answer's count is as of some moment
 * while the call was in flight; any call that overlapped it, or started since, may be missing from it, so those
 * are subtracted. Every answer thus gives a valid lower bound and the best (highest) one is kept; each new call
 * lowers it by one. Answers arriving out of order cannot make it optimistic.
 */
export class RemainingEstimate {
  private bound: number | undefined;
  private inFlight = 0;
  private started = 0;
  /** When the bound was last set from an answer. */
  at = 0;

  begin(): Ticket {
    const ticket = { inFlightBefore: this.inFlight, startedBefore: this.started };
    this.inFlight++;
    this.started++;
    if (this.bound !== undefined) this.bound--;
    return ticket;
  }

  end(): void {
    this.inFlight--;
  }

  /** True when the answer raised the bound (and `at` is now). */
  observe(remaining: number | undefined, ticket: Ticket, now: number): boolean {
    if (remaining === undefined) return false;
    const uncounted = ticket.inFlightBefore + (this.started - ticket.startedBefore - 1);
    const candidate = remaining - uncounted;
    if (this.bound !== undefined && candidate <= this.bound) return false;
    this.bound = candidate;
    this.at = now;
    return true;
  }

  get value(): number | undefined {
    return this.bound === undefined ? undefined : Math.max(0, this.bound);
  }

  get exhausted(): boolean {
    return this.bound !== undefined && this.bound <= 0;
  }

  get callsInFlight(): number {
    return this.inFlight;
  }

  /**
   * Takes a bound another process observed (a replica that synced before this one led): kept only when it is lower
   * than what this estimate knows, so a seed never makes it optimistic.
   */
  seed(remaining: number, at: number): void {
    if (this.bound !== undefined && this.bound <= remaining) return;
    this.bound = remaining;
    this.at = at;
  }

  /** After the window has moved on: allow one probing call, whose answer sets a fresh bound. */
  probe(): void {
    this.bound = 1;
  }

  /** Calls this bound charged have left Xero's rolling window: the room they held is back. */
  returned(calls: number): void {
    if (this.bound !== undefined) this.bound += calls;
  }

  /**
   * Xero refused the call for this limit, so it had nothing left when the call arrived: the bound drops to that
   * (less the calls it may not have counted yet) unless it is lower already.
   */
  refused(ticket: Ticket, now: number): void {
    const candidate = -(ticket.inFlightBefore + (this.started - ticket.startedBefore - 1));
    if (this.bound === undefined || candidate < this.bound) {
      this.bound = candidate;
      this.at = now;
    }
  }
}

/** Xero's allowance per app, all organisations together, in a rolling minute (docs/xero.md, "Rate limits"). */
export const APP_CALLS_PER_MINUTE = 10_000;

/** Where one of our calls stood in the app's allowance: its place in the estimate and when it started. */
export interface AppTicket {
  readonly estimate: Ticket;
  readonly startedAt: number;
  /** Our calls Xero could be counting when this one started (itself included), and how many had begun by then. */
  readonly ownBefore: number;
  readonly begunBefore: number;
}

/**
 * Our own calls that have ended, oldest end first, kept while they may still be in Xero's rolling minute. A call is
 * admitted by Xero somewhere between its start and its end, so it has certainly left Xero's window a minute after
 * it ended: end times, not start times, are what may be counted on.
 */
class EndedCalls {
  private starts: number[] = [];
  private ends: number[] = [];
  private head = 0;

  get size(): number {
    return this.starts.length - this.head;
  }

  push(startedAt: number, endedAt: number): void {
    this.starts.push(startedAt);
    this.ends.push(endedAt);
  }

  /** The oldest call still kept, if any. */
  oldest(): { startedAt: number; endedAt: number } | undefined {
    if (this.head >= this.starts.length) return undefined;
    return { startedAt: this.starts[this.head]!, endedAt: this.ends[this.head]! };
  }

  /** The first call (oldest end first) that started after `startedAfter`, if any. */
  firstStartedAfter(startedAfter: number): { startedAt: number; endedAt: number } | undefined {
    for (let i = this.head; i < this.starts.length; i++) {
      if (this.starts[i]! > startedAfter) return { startedAt: this.starts[i]!, endedAt: this.ends[i]! };
    }
    return undefined;
  }

  shift(): void {
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.starts.length) {
      this.starts = this.starts.slice(this.head);
      this.ends = this.ends.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * The app-wide minute allowance (X-AppMinLimit-Remaining), shared by every organisation's budget. Two things bound
 * it. Our own calls: those in flight plus those that ended in the last minute never reach `perMinute`. Xero's count:
 * the estimate (a lower bound from the headers, which see other processes' calls too) falls by one per call we
 * start, and rises by one whenever one of our calls it charged leaves Xero's rolling minute, so in a full window a
 * call waits exactly until room returns rather than a whole minute. Being a lower bound, the estimate may lack room
 * it over-charged: while our own calls of the last minute are fewer than the allowance and nothing in the last
 * minute showed others using it (a 429, or an answer with less left than our calls leave), a spent estimate with
 * nothing in flight lets one call probe. When the estimate is spent and none of our calls will free room, it waits a
 * minute from the last answer and then lets one probing call find out what is left; a probe that finds nothing left
 * is itself a call of ours that must age out first. A 429 blocks every call for its `Retry-After` and lowers the
 * estimate to what Xero said, nothing; room our older calls free is then no longer counted on (someone else took
 * it), so under contention it tries about once a minute.
 */
export class AppBudget {
  private blockedUntil = 0;
  readonly estimate = new RemainingEstimate();
  private readonly ended = new EndedCalls();
  /**
   * Our calls that started after this give room back when they leave Xero's window: those the estimate charged.
   * After a 429 only calls started since count, since room that came back was taken by someone else.
   */
  private creditAfter = -Infinity;
  /**
   * When Xero last showed others using the allowance: a 429, or fewer calls left than our own calls of the last
   * minute leave (Xero cannot count more of ours than those in flight or ended in the last minute).
   */
  private othersSeenAt = -Infinity;
  /** Calls begun since creation. */
  private begun = 0;

  constructor(
    private readonly clock: Clock = systemClock,
    readonly perMinute: number = APP_CALLS_PER_MINUTE,
  ) {}

  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + ms);
  }

  /** A call starts now: the estimate is charged for it. */
  begin(): AppTicket {
    const now = this.clock.now();
    this.age(now);
    const ticket = { estimate: this.estimate.begin(), startedAt: now, ownBefore: this.ownCalls(), begunBefore: this.begun };
    this.begun++;
    return ticket;
  }

  /** The call really ended (answered, failed or aborted): a minute from now it has left Xero's window. */
  end(ticket: AppTicket): void {
    this.estimate.end();
    this.ended.push(ticket.startedAt, this.clock.now());
  }

  /** An answer's X-AppMinLimit-Remaining. */
  observe(remaining: number | undefined, ticket: AppTicket): void {
    const now = this.clock.now();
    this.age(now);
    if (remaining !== undefined && remaining < this.perMinute - this.mostOfOursCounted(ticket)) this.othersSeenAt = now;
    if (this.estimate.observe(remaining, ticket.estimate, now)) {
      this.creditAfter = now - MINUTE;
    }
  }

  /** Xero refused a call for the app's minute limit: it had nothing left when the call arrived. */
  refused(ticket: AppTicket, retryAfterMs: number): void {
    const now = this.clock.now();
    this.age(now);
    this.estimate.refused(ticket.estimate, now);
    this.creditAfter = now;
    this.othersSeenAt = now;
    this.block(retryAfterMs);
  }

  /** Milliseconds to wait before the next call, 0 if none. */
  delay(): number {
    const now = this.clock.now();
    this.age(now);
    let until = this.blockedUntil;
    if (this.ownCalls() >= this.perMinute) {
      const oldest = this.ended.oldest();
      until = Math.max(until, oldest ? oldest.endedAt + MINUTE : now + 1000);
    }
    if (this.estimate.exhausted) until = Math.max(until, this.roomReturns(now));
    return Math.max(0, until - now);
  }

  /** When Xero's count, spent as far as we know, has room again (probing once a minute when nothing of ours will free some). */
  private roomReturns(now: number): number {
    // Our own calls cannot fill the window and nothing says others share it: the room the estimate lacks is what its
    // lower bound over-charged (calls in flight that the answer had counted already). One probe at a time finds out.
    const roomOfOurs = this.ownCalls() < this.perMinute && now - this.othersSeenAt >= MINUTE;
    if (roomOfOurs && this.estimate.callsInFlight === 0) return this.probe(now);
    const charged = this.ended.firstStartedAfter(this.creditAfter);
    // An answer in flight will bring a fresh count: look again once it may have come.
    const recheck = this.estimate.callsInFlight > 0 ? now + 1000 : Infinity;
    if (charged) return roomOfOurs ? Math.min(recheck, charged.endedAt + MINUTE) : charged.endedAt + MINUTE;
    if (recheck < Infinity) return recheck;
    const windowEnd = this.estimate.at + MINUTE;
    if (windowEnd > now) return windowEnd;
    return this.probe(now);
  }

  /**
   * The most of our calls Xero can have counted when it answered the call of `ticket`: those it could count when
   * the call started, plus every call begun since (the answer's count is as of some moment in between).
   */
  private mostOfOursCounted(ticket: AppTicket): number {
    return ticket.ownBefore + (this.begun - ticket.begunBefore - 1);
  }

  /** Our calls Xero may still be counting: in flight, or ended less than a minute ago. */
  private ownCalls(): number {
    return this.estimate.callsInFlight + this.ended.size;
  }

  /** Lets one call go whose answer will say what Xero has left. */
  private probe(now: number): number {
    this.estimate.probe();
    return now;
  }

  /**
   * Forgets our calls that have left Xero's window. Each that the estimate charged (it started less than a minute
   * before the answer that set the estimate, or after it) gives its room back.
   */
  private age(now: number): void {
    for (let call = this.ended.oldest(); call && call.endedAt + MINUTE <= now; call = this.ended.oldest()) {
      if (call.startedAt > this.creditAfter) this.estimate.returned(1);
      this.ended.shift();
    }
  }
}

export interface BudgetStatus {
  /** Lower bounds of what Xero has left, from its headers. */
  readonly minuteRemaining?: number;
  readonly dayRemaining?: number;
  /** Epoch ms until which the organisation is parked (daily allowance used up). */
  readonly parkedUntil?: number;
  /** Every call attempted, and 429s received, since creation. */
  readonly calls: number;
  readonly rateLimited: number;
}

/** One organisation's allowance. `call()` runs a Xero call inside it, with retries. */
export class RateBudget {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly signal: AbortSignal | undefined;
  private readonly onAnswer: ((operation: string, status: number) => void) | undefined;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private readonly minuteStarts: number[] = [];
  private readonly dayStarts: number[] = [];
  private gate: Promise<void> = Promise.resolve();
  private readonly minute = new RemainingEstimate();
  private readonly day = new RemainingEstimate();
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
    this.signal = deps.signal;
    this.onAnswer = deps.onAnswer;
  }

  status(): BudgetStatus {
    const now = this.clock.now();
    const minute = this.minute.value;
    const day = this.day.value;
    return {
      ...(minute === undefined ? {} : { minuteRemaining: minute }),
      ...(day === undefined ? {} : { dayRemaining: day }),
      ...(this.parkedUntil > now ? { parkedUntil: this.parkedUntil } : {}),
      calls: this.calls,
      rateLimited: this.rateLimited,
    };
  }

  /**
   * Seeds the day's remaining allowance from what another replica last saw of it (`at`: when), so a new leader
   * does not start as if the day were untouched; a lower bound this budget already has wins.
   */
  seedDayRemaining(remaining: number, at: number): void {
    if (Number.isFinite(remaining) && remaining >= 0) this.day.seed(Math.floor(remaining), at);
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
        if (error.code === 'XERO_RATE_LIMITED' && error.status === 429 && rateLimitWaits < this.policy.maxRateLimitWaits) {
          rateLimitWaits++;
          attempt--; // waiting out a 429 is not a failed attempt; the wait itself happens in waitForRoom
          continue;
        }
        if (error.retryable && error.code !== 'XERO_RATE_LIMITED' && attempt < this.policy.maxAttempts) {
          // Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter").
          const cap = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
          await this.clock.sleep(cap * this.random(), this.signal);
          continue;
        }
        throw error;
      }
    }
  }

  private async once<T>(operation: string, send: (signal: AbortSignal) => Promise<Answer<T>>): Promise<T> {
    const slot = await this.acquire(operation);
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
    const backstop = setTimeout(slot.release, 2 * this.policy.timeoutMs);
    backstop.unref?.();
    const settle = (): void => {
      clearTimeout(backstop);
      slot.release();
    };
    pending.then(settle, settle);
    try {
      const answer = await Promise.race([pending, timedOut]);
      this.observe(answer.headers, slot);
      this.onAnswer?.(operation, 200);
      return answer.value;
    } catch (err) {
      const error = toXeroError(err, operation, this.clock.now());
      this.observe(error.headers, slot);
      this.onAnswer?.(operation, error.status ?? 0);
      this.onFailure(error, slot);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private observe(headers: Headers, slot: Slot): void {
    const now = this.clock.now();
    this.app.observe(remainingHeader(headers, 'x-appminlimit-remaining'), slot.app);
    this.minute.observe(remainingHeader(headers, 'x-minlimit-remaining'), slot.minute, now);
    this.day.observe(remainingHeader(headers, 'x-daylimit-remaining'), slot.day, now);
  }

  private onFailure(error: XeroError, slot: Slot): void {
    if (error.status !== 429) return;
    this.rateLimited++;
    const retryMs = (error.retryAfterSeconds ?? this.policy.defaultRetryAfterSeconds) * 1000;
    const problem = (error.headers['x-rate-limit-problem'] ?? '').toLowerCase();
    if (error.code === 'XERO_DAILY_LIMIT') this.park(retryMs);
    else if (problem === 'appminute') this.app.refused(slot.app, retryMs);
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
  private acquire(operation: string): Promise<Slot> {
    const turn = this.gate.then(() => this.waitForRoom(operation));
    this.gate = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  private async waitForRoom(operation: string): Promise<Slot> {
    for (;;) {
      if (this.signal?.aborted) throw new XeroError('XERO_CANCELLED', `${operation}: stopped before the call was made`);
      const now = this.clock.now();
      const delay = this.delay(now);
      if (this.parkedUntil > now) throw this.parkedError(operation);
      if (this.inFlight >= this.limits.concurrent) {
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (delay > this.policy.maxWaitMs) {
        throw new XeroError('XERO_RATE_LIMITED', `${operation}: Xero's rate limit leaves no room for ${Math.ceil(delay / 1000)} s`, {
          retryAfterSeconds: Math.ceil(delay / 1000),
        });
      }
      if (delay > 0) {
        await this.clock.sleep(delay, this.signal);
        continue;
      }
      if (this.minute.exhausted && this.inFlight > 0) {
        // The window has moved on, but an answer in flight will say by how much: wait for it.
        await new Promise<void>((resolve) => this.waiters.push(resolve));
        continue;
      }
      if (this.minute.exhausted) this.minute.probe();
      this.inFlight++;
      this.calls++;
      this.minuteStarts.push(now);
      this.dayStarts.push(now);
      const slot: Slot = {
        minute: this.minute.begin(),
        day: this.day.begin(),
        app: this.app.begin(),
        release: () => {
          if (slot.released) return;
          slot.released = true;
          this.inFlight--;
          this.minute.end();
          this.day.end();
          this.app.end(slot.app);
          this.waiters.shift()?.();
        },
        released: false,
      };
      return slot;
    }
  }

  /** Milliseconds until the minute windows (ours, Xero's, the app's) leave room; parks when the day is spent. */
  private delay(now: number): number {
    this.prune(now);
    if (this.dayStarts.length >= this.limits.perDay) this.park(this.dayStarts[0]! + DAY - now);
    else if (this.day.exhausted) {
      if (this.day.at + DAY_RECHECK > now) this.park(this.day.at + DAY_RECHECK - now);
      else if (this.day.callsInFlight === 0) this.day.probe();
    }
    let until = Math.max(this.blockedUntil, now + this.app.delay());
    if (this.minuteStarts.length >= this.limits.perMinute) until = Math.max(until, this.minuteStarts[0]! + MINUTE);
    // Room returns when the oldest call Xero may be counting leaves its rolling minute.
    if (this.minute.exhausted) until = Math.max(until, Math.min(this.minuteStarts[0] ?? this.minute.at, this.minute.at) + MINUTE);
    return Math.max(0, until - now);
  }

  private prune(now: number): void {
    while (this.minuteStarts.length > 0 && this.minuteStarts[0]! <= now - MINUTE) this.minuteStarts.shift();
    while (this.dayStarts.length > 0 && this.dayStarts[0]! <= now - DAY) this.dayStarts.shift();
  }
}

interface Slot {
  readonly minute: Ticket;
  readonly day: Ticket;
  readonly app: AppTicket;
  readonly release: () => void;
  released: boolean;
}
