/**
 * V8 settings for the server process, applied once at start by `xero-scim serve` (before the first sync).
 *
 * Allocation-site pretenuring is off. V8 watches where objects are allocated, and when most objects from one site
 * survive, it allocates that site's objects directly in the old generation. Building a snapshot is such a phase:
 * hundreds of thousands of objects that all live as long as the snapshot. Some of those sites are also used per
 * request, and after the build their short-lived objects went straight to the old generation. There only a major
 * collection frees them, so between collections the heap grew by about half a megabyte per scavenge under load.
 * Measured at 100,000 users under `userName eq` lookups (BENCHMARKS.md): with pretenuring, the heap after each
 * scavenge climbed from 154 to 211 MB in 38 s; without it, it stayed at 157–161 MB. Peak RSS over workloads (a) and (c)
 * went from 483 to 415 MiB. The price is that a snapshot build copies its objects through the young generation once
 * more. The first sync took 5.9–7.0 s without pretenuring and 5.6–6.9 s with it: within noise.
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
