import type { FaultRates, LatencyOptions } from './options';
import { seededRandom, type Random } from './random';

/** Where a scripted fault strikes. `Users` covers both `/Users` and `/Users/{id}`. */
export type FaultPath = 'Users' | 'Organisation' | 'connections' | 'token';
export const FAULT_PATHS: readonly FaultPath[] = ['Users', 'Organisation', 'connections', 'token'];

/**
 * - `503`, `500`: a Xero-shaped problem body with that status.
 * - `429-minute`, `429-day`: an empty 429 with `Retry-After` and `X-Rate-Limit-Problem`.
 * - `timeout`: no answer at all until the client gives up (or the sandbox closes).
 * - `drop`: the connection is destroyed without an answer.
 * - `lose-token-response` (token only): the refresh token rotates, then the connection is destroyed, so the
 *   client never learns the new one and must retry with the old one within the grace period.
 * - `empty` (`connections` and `Users` only): a well-formed 200 with nothing in it, `[]` or `{"Users":[]}`, the
 *   glitch that looks like every organisation or person gone.
 */
export type FaultKind = 503 | 500 | '429-minute' | '429-day' | 'timeout' | 'drop' | 'lose-token-response' | 'empty';
export const FAULT_KINDS: readonly FaultKind[] = [503, 500, '429-minute', '429-day', 'timeout', 'drop', 'lose-token-response', 'empty'];

export interface ScriptedFault {
  path: FaultPath;
  /** Only calls for this tenant; any tenant when absent. */
  tenantId?: string;
  /** How many matching calls fail. */
  count: number;
  kind: FaultKind;
  /** For 429s. Default 60 for the minute, 43,200 (12 hours) for the day. */
  retryAfterSeconds?: number;
}

export interface Fault {
  kind: FaultKind;
  retryAfterSeconds: number;
}

/** Scripted faults first (in the order given), then the dice of the configured rates. */
export class FaultPlan {
  private scripts: ScriptedFault[] = [];
  private rates: Required<Omit<FaultRates, 'seed'>>;
  private random: Random;
  private latency: Required<LatencyOptions>;

  constructor(rates: FaultRates = {}, latency: LatencyOptions = {}) {
    this.rates = { serverErrorRate: 0, rateLimitRate: 0, timeoutRate: 0, dropRate: 0 };
    this.random = seededRandom(1);
    this.latency = { fixedMs: 0, jitterMs: 0 };
    this.setRates(rates);
    this.setLatency(latency);
  }

  script(fault: ScriptedFault): void {
    this.scripts.push({ ...fault });
  }

  setRates(rates: FaultRates): void {
    const { seed, ...rest } = rates;
    this.rates = { ...this.rates, ...rest };
    if (seed !== undefined) this.random = seededRandom(seed);
  }

  setLatency(latency: LatencyOptions): void {
    this.latency = { ...this.latency, ...latency };
  }

  delayMs(): number {
    const { fixedMs, jitterMs } = this.latency;
    return fixedMs + (jitterMs > 0 ? Math.floor(this.random() * (jitterMs + 1)) : 0);
  }

  /** The fault for this call, if any. `stage` separates faults before the work from the one after a token rotation. */
  take(path: FaultPath, tenantId: string | undefined, stage: 'before' | 'after-rotation' = 'before'): Fault | undefined {
    const index = this.scripts.findIndex(
      (s) =>
        s.path === path &&
        s.count > 0 &&
        (s.kind === 'lose-token-response') === (stage === 'after-rotation') &&
        (s.tenantId === undefined || (tenantId !== undefined && s.tenantId.toLowerCase() === tenantId.toLowerCase())),
    );
    if (index >= 0) {
      const script = this.scripts[index]!;
      script.count -= 1;
      if (script.count === 0) this.scripts.splice(index, 1);
      return { kind: script.kind, retryAfterSeconds: script.retryAfterSeconds ?? (script.kind === '429-day' ? 43_200 : 60) };
    }
    if (stage !== 'before') return undefined;
    return this.roll(tenantId !== undefined);
  }

  private roll(tenantCall: boolean): Fault | undefined {
    const { serverErrorRate, rateLimitRate, timeoutRate, dropRate } = this.rates;
    if (serverErrorRate + rateLimitRate + timeoutRate + dropRate <= 0) return undefined;
    const dice = this.random();
    let edge = serverErrorRate;
    if (dice < edge) return { kind: 503, retryAfterSeconds: 0 };
    edge += tenantCall ? rateLimitRate : 0;
    if (dice < edge) return { kind: '429-minute', retryAfterSeconds: 1 + Math.floor(this.random() * 60) };
    edge += timeoutRate;
    if (dice < edge) return { kind: 'timeout', retryAfterSeconds: 0 };
    edge += dropRate;
    if (dice < edge) return { kind: 'drop', retryAfterSeconds: 0 };
    return undefined;
  }
}
