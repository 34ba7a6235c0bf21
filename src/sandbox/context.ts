import type { Clock, SandboxClient } from './options';
import type { CallCounters } from './counters';
import type { HeldRequests } from './errors';
import type { FaultPlan } from './faults';
import type { Grants } from './identity/grants';
import type { RateLimiter } from './limits';
import type { SandboxStore } from './store';

/** Everything the routes share: one per sandbox. */
export interface SandboxContext {
  readonly clock: Clock;
  readonly store: SandboxStore;
  readonly grants: Grants;
  readonly limiter: RateLimiter;
  readonly faults: FaultPlan;
  readonly counters: CallCounters;
  readonly held: HeldRequests;
  readonly clients: { web: SandboxClient; custom: SandboxClient };
  readonly autoApprove: boolean;
}

/** Waits the configured latency; real time, because latency is what benchmarks measure. */
export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
