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
        stopWaiting?.();
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      const stopWaiting = signal ? onAbort(signal, done) : undefined;
    }),
};

interface Waiters {
  readonly wake: Set<() => void>;
  readonly listener: () => void;
}

const waitersOf = new WeakMap<AbortSignal, Waiters>();

/**
 * Calls `wake` when `signal` aborts, until the returned function is called. Every wait on one signal shares a single
 * 'abort' listener on it: the directory's stop signal reaches every organisation's budget, and with
 * XERO_CONCURRENCY organisations waiting for room at once, a listener each would pile up on that one long-lived
 * signal. The listener goes once its last wait ends.
 */
function onAbort(signal: AbortSignal, wake: () => void): () => void {
  let waiters = waitersOf.get(signal);
  if (!waiters) {
    const wakeAll = new Set<() => void>();
    const listener = (): void => {
      waitersOf.delete(signal);
      for (const w of [...wakeAll]) w();
    };
    waiters = { wake: wakeAll, listener };
    waitersOf.set(signal, waiters);
    signal.addEventListener('abort', listener, { once: true });
  }
  const mine = waiters;
  mine.wake.add(wake);
  return () => {
    if (!mine.wake.delete(wake) || mine.wake.size > 0 || waitersOf.get(signal) !== mine) return;
    waitersOf.delete(signal);
    signal.removeEventListener('abort', mine.listener);
  };
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
