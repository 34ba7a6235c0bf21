import type { Clock } from '../../../src/xero/clock';

export const T0 = Date.parse('2026-11-27T05:00:00.000Z');

/**
 * Virtual time that jumps forward whenever someone sleeps: waits (backoff, Retry-After) cost no real time, and the
 * sandbox, sharing this clock, sees the same time pass. Only for code that does not sleep in a loop forever.
 */
export class SteppingClock implements Clock {
  readonly sleeps: number[] = [];

  constructor(public time = T0) {}

  now(): number {
    return this.time;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.sleeps.push(ms);
    this.time += Math.max(0, ms);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  advance(ms: number): void {
    this.time += ms;
  }
}

/** Virtual time that moves only when the test says so; sleepers wake when their time comes. */
export class ManualClock implements Clock {
  private timers: { at: number; resolve: () => void }[] = [];

  constructor(public time = T0) {}

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const onAbort = () => {
        this.timers = this.timers.filter((t) => t !== timer);
        resolve();
      };
      // A wait that ends on time takes its abort listener with it, as systemClock's does.
      const timer = {
        at: this.time + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      this.timers.push(timer);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get pending(): number {
    return this.timers.length;
  }

  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.resolve();
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Polls until `condition` holds: for waiting on real I/O (HTTP to the sandbox), never on virtual time. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}
