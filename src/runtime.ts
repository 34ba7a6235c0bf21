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
 * Each semi-space of the young generation is at most 16 MiB, as Node 20 has them: under allocation Node 24 grows its
 * new space to 64 or 128 MiB, two to four times Node 20's, and at a million memberships that sits on top of the peak. Figures:
 * BENCHMARKS.md, "The young generation's size".
 */

export const V8_FLAGS = ['--no-allocation-site-pretenuring', '--max-semi-space-size=16'] as const;

/** The flags of `V8_FLAGS` a process started with `execArgv` lacks (`serve` says so in its log). */
export function missingV8Flags(execArgv: readonly string[] = process.execArgv): string[] {
  return V8_FLAGS.filter((flag) => !execArgv.includes(flag));
}
