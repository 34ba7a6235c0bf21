/**
 * The shared crawl-pin store (`SharedCrawlPins`) as list pages use it: a store that fails or stalls never fails or
 * holds up a request. Each call is bounded by `SHARED_PIN_DEADLINE_MS`; a call that rejects or runs past it counts
 * as a failure, the caller falls back to this replica's own pins, and the failures are logged at warn, at most once a
 * `WARN_INTERVAL_MS`, with how many there were since the last warning.
 */
import type { Logger } from '../log';
import type { SharedCrawlPins } from './crawl-pins';

/** Longest a page waits for the store: far above a healthy Redis's round trip, far below a client's timeout. */
export const SHARED_PIN_DEADLINE_MS = 500;
const WARN_INTERVAL_MS = 60_000;

/** What the store said of a crawl: its pinned version, or none; `undefined` instead when the store did not answer. */
export type SharedPinRead = { readonly version: string | undefined } | undefined;

export class SharedPins {
  /** Failures since the last warning, and when that warning was logged. */
  private failuresUnreported = 0;
  private warnedAt = Number.NEGATIVE_INFINITY;
  private failuresTotal = 0;

  constructor(
    private readonly store: SharedCrawlPins,
    private readonly logger: Logger,
    private readonly clock: { now(): number },
  ) {}

  /** Failures (errors and deadlines) since this replica started. */
  get failures(): number {
    return this.failuresTotal;
  }

  /** The crawl's pinned version (extending the pin to `ttlMs`), or undefined when the store cannot say. */
  async read(key: string, ttlMs: number): Promise<SharedPinRead> {
    const version = await this.guarded(() => this.store.get(key, ttlMs), 'read');
    return version === FAILED ? undefined : { version };
  }

  /** Pins the crawl in the store; never rejects (a failure is counted, and the replica's own pin still holds). */
  async write(key: string, version: string, ttlMs: number): Promise<void> {
    await this.guarded(() => this.store.set(key, version, ttlMs), 'write');
  }

  private async guarded<T>(call: () => Promise<T>, what: 'read' | 'write'): Promise<T | typeof FAILED> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof FAILED>((resolve) => {
      timer = setTimeout(() => resolve(FAILED), SHARED_PIN_DEADLINE_MS);
      timer.unref();
    });
    try {
      const result = await Promise.race([call(), deadline]);
      if (result === FAILED) this.failed(what, new Error(`no answer within ${SHARED_PIN_DEADLINE_MS} ms`));
      return result;
    } catch (err) {
      this.failed(what, err);
      return FAILED;
    } finally {
      clearTimeout(timer);
    }
  }

  private failed(what: 'read' | 'write', err: unknown): void {
    this.failuresTotal += 1;
    this.failuresUnreported += 1;
    const now = this.clock.now();
    if (now - this.warnedAt < WARN_INTERVAL_MS) return;
    this.logger.warn(
      { failures: this.failuresUnreported, last: what, error: err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200) },
      "the shared crawl-pin store failed; index crawls fall back to this replica's own pins",
    );
    this.failuresUnreported = 0;
    this.warnedAt = now;
  }
}

const FAILED = Symbol('failed');
