/**
 * The app's minute allowance (10,000 calls a rolling minute over all organisations) decides how long a first sync of
 * thousands of organisations takes. These tests drive `AppBudget` on virtual time against the sandbox's own rolling
 * window (`RateLimiter`, what the sandbox answers 429 from), and check that it starts a call exactly when Xero's
 * window has room again, never more than the window holds, and backs off when someone else uses the allowance.
 */
import { RateLimiter, DEFAULT_LIMITS } from '../../src/sandbox/limits';
import { AppBudget, type AppTicket } from '../../src/xero/budget';
import { ManualClock, T0 } from './helpers/clocks';

const CLIENT = 'the-app';

interface Call {
  readonly ticket: AppTicket;
  readonly endsAt: number;
  readonly remaining?: number;
  readonly retryAfterMs?: number;
}

interface RunOptions {
  readonly calls: number;
  readonly concurrency: number;
  readonly durationMs: number | (() => number);
  /** Pass X-AppMinLimit-Remaining to the budget (false: as if Xero sent none). */
  readonly headers: boolean;
  /** Runs before each step: another process sharing the allowance. */
  readonly other?: (now: number) => void;
  /** Stop after this much virtual time even if calls remain. */
  readonly forMs?: number;
}

interface RunResult {
  readonly starts: number[];
  readonly refused: number[];
}

/** One process making `calls` calls through the budget, `concurrency` at a time; Xero admits each as it starts. */
function run(clock: ManualClock, xero: RateLimiter, app: AppBudget, options: RunOptions): RunResult {
  const inFlight: Call[] = [];
  const starts: number[] = [];
  const refused: number[] = [];
  let left = options.calls;
  const deadline = clock.now() + (options.forMs ?? 3_600_000);
  while ((left > 0 || inFlight.length > 0) && clock.now() < deadline) {
    const now = clock.now();
    options.other?.(now);
    inFlight.sort((a, b) => a.endsAt - b.endsAt);
    while (inFlight.length > 0 && inFlight[0]!.endsAt <= now) {
      const call = inFlight.shift()!;
      app.end(call.ticket);
      if (call.retryAfterMs !== undefined) app.refused(call.ticket, call.retryAfterMs);
      else app.observe(options.headers ? call.remaining : undefined, call.ticket);
    }
    if (left === 0 && inFlight.length === 0) break;
    const delay = app.delay();
    const free = left > 0 && inFlight.length < options.concurrency;
    if (free && delay === 0) {
      const ticket = app.begin();
      const duration = (): number => (typeof options.durationMs === 'number' ? options.durationMs : options.durationMs());
      const admission = xero.admitApp(CLIENT, now);
      if (admission.admitted) {
        starts.push(now);
        left--;
        inFlight.push({ ticket, endsAt: now + duration(), remaining: Number(admission.headers['X-AppMinLimit-Remaining']) });
      } else {
        refused.push(now);
        inFlight.push({ ticket, endsAt: now + duration(), retryAfterMs: admission.retryAfterSeconds * 1000 });
      }
      continue;
    }
    const next = Math.min(inFlight[0]?.endsAt ?? Infinity, free ? now + delay : Infinity, deadline);
    clock.advance(Math.max(1, next - now));
  }
  return { starts, refused };
}

/** The most calls started in any rolling minute. */
function busiestMinute(starts: number[]): number {
  let most = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while (starts[j]! <= starts[i]! - 60_000) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe('AppBudget: the app-wide rolling minute (docs/xero.md, "Rate limits")', () => {
  it('waits exactly until the oldest call of the full window has left it, one call per call that left', () => {
    const clock = new ManualClock();
    const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 10 });
    const app = new AppBudget(clock);
    // Ten calls one second apart, each answered in 5 ms: Xero's window is full after the tenth.
    const ends: number[] = [];
    for (let i = 0; i < 10; i++) {
      expect(app.delay()).toBe(0);
      const ticket = app.begin();
      const admission = xero.admitApp(CLIENT, clock.now());
      clock.advance(5);
      app.end(ticket);
      app.observe(Number(admission.headers['X-AppMinLimit-Remaining']), ticket);
      ends.push(clock.now());
      clock.advance(995);
    }
    // Room returns when the first call (ended at T0 + 5 ms) leaves the minute, not a minute after the last answer.
    expect(clock.now() + app.delay()).toBe(ends[0]! + 60_000);
    clock.advance(ends[0]! + 60_000 - clock.now());
    expect(app.delay()).toBe(0);
    const ticket = app.begin();
    expect(xero.admitApp(CLIENT, clock.now()).admitted).toBe(true);
    // That call took the one place that came back: the next waits for the second oldest, a second later.
    expect(clock.now() + app.delay()).toBe(ends[1]! + 60_000);
    clock.advance(5);
    app.end(ticket);
    app.observe(0, ticket);
    expect(clock.now() + app.delay()).toBe(ends[1]! + 60_000);
  });

  it('runs three windows of calls in three minutes, with no 429, learning the allowance from X-AppMinLimit-Remaining', () => {
    const clock = new ManualClock();
    const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 50 });
    const { starts, refused } = run(clock, xero, new AppBudget(clock), { calls: 150, concurrency: 5, durationMs: 10, headers: true });
    expect(refused).toEqual([]);
    expect(starts).toHaveLength(150);
    expect(busiestMinute(starts)).toBe(50);
    // The 101st call cannot start before two minutes have passed; it starts as soon as the window lets it.
    expect(starts[100]! - T0).toBeGreaterThanOrEqual(120_000);
    expect(starts[149]! - T0).toBeLessThan(121_000);
  });

  it('never starts more calls in a minute than its own allowance, even when Xero sends no Remaining header', () => {
    const clock = new ManualClock();
    const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 50 });
    const { starts, refused } = run(clock, xero, new AppBudget(clock, 50), { calls: 150, concurrency: 20, durationMs: 30, headers: false });
    expect(refused).toEqual([]);
    expect(busiestMinute(starts)).toBe(50);
    expect(starts[149]! - T0).toBeLessThan(121_000);
  });

  it('backs off when another process uses the allowance: about one refused call a minute, never a stream of 429s', () => {
    const clock = new ManualClock();
    const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 50 });
    const app = new AppBudget(clock);
    // Our process fills the window and learns it is full.
    const first = run(clock, xero, app, { calls: 50, concurrency: 5, durationMs: 10, headers: true });
    expect(first.refused).toEqual([]);
    // Then another process, invisible to us, takes every place the moment it comes back, for five minutes.
    const greedy = (now: number): void => {
      while (xero.admitApp(CLIENT, now).admitted);
    };
    const contended = run(clock, xero, app, { calls: 1000, concurrency: 5, durationMs: 10, headers: true, other: greedy, forMs: 300_000 });
    expect(contended.starts).toEqual([]);
    // The room our own calls free when they age out is tried once (at most one call each, as many as are in flight
    // at once); after that refusal, one probing call a minute.
    const [first429, ...rest] = contended.refused;
    expect(first429).toBeDefined();
    const firstBurst = rest.filter((t) => t === first429);
    expect(firstBurst.length).toBeLessThan(5);
    const probes = rest.filter((t) => t !== first429);
    expect(probes.length).toBeLessThanOrEqual(4);
    for (let i = 1; i < probes.length; i++) expect(probes[i]! - probes[i - 1]!).toBeGreaterThanOrEqual(60_000);
  });

  it('probes for room its lower bound over-charged when its own calls cannot fill the window, never when others share it', () => {
    for (const othersUsed of [0, 1]) {
      const clock = new ManualClock();
      const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 3 });
      for (let i = 0; i < othersUsed; i++) xero.admitApp(CLIENT, clock.now());
      const app = new AppBudget(clock, 3);
      // A is admitted first; B's answer cannot tell whether A (still in flight) was counted, so it charges A twice.
      const a = app.begin();
      expect(xero.admitApp(CLIENT, clock.now()).admitted).toBe(true);
      clock.advance(1);
      const b = app.begin();
      const bAdmission = xero.admitApp(CLIENT, clock.now());
      clock.advance(4);
      app.end(b);
      app.observe(Number(bAdmission.headers['X-AppMinLimit-Remaining']), b);
      expect(app.estimate.exhausted).toBe(true);
      // A's connection breaks: no header brings the count up to date.
      clock.advance(95);
      app.end(a);
      app.observe(undefined, a);
      if (othersUsed === 0) {
        // Two calls of ours in a window of three: one probing call may go, and Xero has room for it.
        expect(app.delay()).toBe(0);
        app.begin();
        expect(xero.admitApp(CLIENT, clock.now()).admitted).toBe(true);
        expect(app.delay()).toBeGreaterThan(0);
      } else {
        // B's answer left less than our calls leave: someone else uses the allowance, so no probe into a full window.
        expect(app.delay()).toBeGreaterThan(50_000);
        expect(xero.admitApp(CLIENT, clock.now()).admitted).toBe(false);
      }
    }
  });

  it('probes once the minute has passed when none of its calls will free room, and a probe that finds nothing waits again', () => {
    const clock = new ManualClock();
    const app = new AppBudget(clock);
    // An answer says nothing is left (other processes used it), while none of our calls are in Xero's window.
    const ticket = app.begin();
    clock.advance(5);
    app.end(ticket);
    app.observe(0, ticket);
    clock.advance(61_000);
    // All of our calls have aged out, the minute after the answer has passed: one probing call may go.
    expect(app.delay()).toBe(0);
    const probe = app.begin();
    expect(app.delay()).toBeGreaterThan(0);
    clock.advance(5);
    app.end(probe);
    app.observe(0, probe);
    // It found nothing left: the next call waits until the probe itself has left the window.
    expect(app.delay()).toBe(60_000);
  });
});

describe('AppBudget with calls of uneven length', () => {
  it('finishes three windows of calls as soon as the rolling minute allows, whatever the answers\' timing', () => {
    for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const clock = new ManualClock();
      const xero = new RateLimiter({ ...DEFAULT_LIMITS, appPerMinute: 50 });
      let state = seed;
      const random = (): number => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const { starts, refused } = run(clock, xero, new AppBudget(clock), { calls: 101, concurrency: 8, durationMs: () => 5 + Math.floor(random() * 2000), headers: true });
      expect(refused).toEqual([]);
      // The 101st call waits for the 51st to leave the minute, the 51st for the 1st: two minutes and two answers.
      expect(starts[100]! - T0).toBeLessThan(124_000);
    }
  });
});
