/**
 * Long synchronous work (a snapshot build, encoding the state file: seconds at a million memberships) written once as
 * a generator that yields at points where it may stop, and run either to the end at once or in slices of a few
 * milliseconds with a turn of the event loop between them, so probes and SCIM reads are answered while it runs.
 */
import { performance } from 'node:perf_hooks';

/** Work that yields where it may pause and returns its result. */
export type Steps<T> = Generator<void, T, void>;

/** Longest run of work between two turns of the event loop. */
export const SLICE_MS = 10;

/** Runs `steps` to the end without pausing. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Runs `steps`, giving the event loop a turn (`setImmediate`) whenever `sliceMs` have passed since the last one. */
export async function runInSlices<T>(steps: Steps<T>, sliceMs: number = SLICE_MS): Promise<T> {
  let started = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (performance.now() - started >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      started = performance.now();
    }
  }
}
