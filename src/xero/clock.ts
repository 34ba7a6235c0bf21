/**
 * Time as the Xero client sees it: `now()` for budgets, token expiry and ages, `sleep()` for every deliberate wait
 * (backoff, Retry-After, the sync interval). Injected so tests move time forward instead of waiting for it.
 *
 * Timeouts on calls are not measured with this clock: they bound real I/O, which happens in real time.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
