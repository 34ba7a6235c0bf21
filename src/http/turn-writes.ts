/**
 * Answers leave together, at the end of the event loop's poll phase, instead of one by one as each is computed.
 *
 * Why: writing an answer to a socket is a system call that, on a client or proxy on the same machine (an ingress
 * controller, a connector beside the server, a benchmark's load generator), also wakes that client's thread when it
 * is asleep, and a wake-up across CPUs is expensive (an interrupt to the other CPU; in a virtual machine, an exit to
 * the hypervisor). A server that writes each answer as soon as it is computed spreads its writes over the turn, and
 * the client, which handles each answer faster than the server makes the next, falls asleep and is woken again for
 * every one. Written back to back, the first write wakes the client and the next ones find it awake. The gain is
 * larger the longer each request takes (BENCHMARKS.md, "Answers written together").
 *
 * What it costs: an answer waits for the other requests read in the same turn, which fair admission
 * (`fair-admission.ts`) bounds to a few milliseconds. Its status and headers are fixed before it waits
 * (`res.writeHead`), so `headersSent` is true from the moment it is queued, as it would be after `end`, and nothing
 * else answers the request in between.
 */
import type { ServerResponse } from 'node:http';
// Node's own timer, not the global one, which a test's fake timers replace: answers must leave whatever the clock.
import { setImmediate } from 'node:timers';

/** An answer's body: one string or Buffer, or the Buffers it is made of, in order (a list page's, see `search.ts`). */
export type Body = string | Buffer | readonly Buffer[];

/** Responses and their bodies, in the order they were queued: `[res, body, res, body, …]`. */
let queued: (ServerResponse | Body)[] = [];

/**
 * Ends `res` with `body` once the current poll phase is over (in the check phase, `setImmediate`), with every other
 * answer queued in the same turn. The head must already be written (`writeHead`).
 */
export function endThisTurn(res: ServerResponse, body: Body): void {
  if (queued.length === 0) setImmediate(writeQueued);
  queued.push(res, body);
}

function writeQueued(): void {
  const due = queued;
  queued = [];
  for (let i = 0; i < due.length; i += 2) {
    const res = due[i] as ServerResponse;
    try {
      end(res, due[i + 1] as Body);
    } catch (error) {
      // One answer that cannot be written (a body that disagrees with its Content-Length, say) must not keep the
      // others waiting: its connection is closed, which the client sees as a failed request, not a hang.
      res.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

/** Ends `res` with `body`. A body in parts is written corked, so it leaves in one write when `end` uncorks. */
function end(res: ServerResponse, body: Body): void {
  if (!Array.isArray(body)) {
    res.end(body);
    return;
  }
  const chunks = body as readonly Buffer[];
  res.cork();
  const last = chunks.length - 1;
  for (let i = 0; i < last; i++) res.write(chunks[i]);
  res.end(chunks[last]);
}
