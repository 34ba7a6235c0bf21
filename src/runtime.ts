/**
 * V8 settings for the server process, applied once at start by `xero-scim serve` (before the first sync).
 *
 * Allocation-site pretenuring is off: a snapshot build, whose objects all survive, teaches V8 to allocate some sites
 * straight into the old generation, and the per-request garbage from those sites then waits for a major collection
 * while the heap climbs. Figures: BENCHMARKS.md, "Allocation-site pretenuring off".
 */
import v8 from 'node:v8';

export const V8_FLAGS = ['--no-allocation-site-pretenuring'] as const;

let applied = false;

/** Applies `V8_FLAGS` to this process (once; V8 reads them at each collection). */
export function tuneRuntime(): void {
  if (applied) return;
  applied = true;
  for (const flag of V8_FLAGS) v8.setFlagsFromString(flag);
}
