/**
 * V8 settings for the server process. They go on Node's command line, so V8 has them from its first allocation:
 * the image's ENTRYPOINT, the `start` and `demo` npm scripts and the `#!` line of `dist/cli.js` (what `npx
 * xero-scim` and an installed `xero-scim` run) all carry them. `NODE_OPTIONS` does not accept the first, and changing
 * V8 flags in a running process (`v8.setFlagsFromString`) is undefined behaviour by Node's documentation.
 *
 * Allocation-site pretenuring is off: a snapshot build, whose objects all survive, teaches V8 to allocate some sites
 * straight into the old generation, and the per-request garbage from those sites then waits for a major collection
 * while the heap climbs. Figures: BENCHMARKS.md, "Allocation-site pretenuring off".
 *
 * Each semi-space of the young generation is at most 16 MiB, as Node 20 has them. Node 24 grows them to 64 MiB, and
 * that young generation of 128 MiB sits on top of a million memberships' peak. Figures: BENCHMARKS.md, "The young
 * generation's size".
 */

export const V8_FLAGS = ['--no-allocation-site-pretenuring', '--max-semi-space-size=16'] as const;

/** The flags of `V8_FLAGS` a process started with `execArgv` lacks (`serve` says so in its log). */
export function missingV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  return V8_FLAGS.filter((flag) => !execArgv.includes(flag));
}
