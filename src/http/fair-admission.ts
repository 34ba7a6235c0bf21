/**
 * Fair admission: requests run in arrival order, but only for a bounded slice of each event-loop turn, so the loop
 * gets back to its poll phase often enough to accept the connections that are waiting.
 *
 * Why: libuv ≥ 1.45 (Node 20) accepts one connection per event-loop turn (libuv PR #3696), while each turn runs a
 * request from every connection already in. A burst of new connections against a busy server therefore waits
 * (connections ahead) × (turn length) to be taken in: seconds, although every request takes milliseconds
 * (RELIABILITY.md, "6. Load held", which names the test that measures it).
 *
 * How: a request runs at once when nothing is queued and the current turn has spent less than `turnBudgetMs` on
 * requests; otherwise it joins a FIFO queue. The queue is drained from `setImmediate` (the check phase, right after
 * the poll phase) with a fresh budget, and the drain reschedules itself while requests remain; each reschedule lets
 * the loop poll again, accept one more connection and read the requests that arrived, which join the same FIFO. The
 * budget counts the time spent in requests, timed from when a turn has lasted a budget's time: a younger turn cannot
 * have spent it, and timing a request costs about a twentieth of a lookup (BENCHMARKS.md, "The layers every request
 * passes"). From then on the turn so far counts as
 * spent, so other work in it (a sync's Xero answers arriving) can make later requests wait for the drain, which gives
 * them at least as long as that work took; before, that work does not use the budget up. While
 * connections keep arriving (one was accepted since the last drain), a drain runs a single request: the turns are then
 * as short as they can be, and a burst of connections is taken in at the fastest rate libuv allows.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const SETTLED = Promise.resolve();

/** Long enough that a turn runs a few SCIM lists, short enough that waiting connections are taken in promptly. */
const DEFAULT_TURN_BUDGET_MS = 3;

/**
 * Above this many queued requests, requests run at once again (the behaviour without this scheduler): a safety valve
 * against pipelining clients, see `fairAdmission`.
 */
const DEFAULT_MAX_QUEUED = 4096;

export interface FairAdmissionOptions {
  /** Time a turn may spend running requests before the rest wait for the next turn. */
  readonly turnBudgetMs?: number;
  readonly maxQueued?: number;
}

export interface FairAdmission {
  /** The `'request'` listener. */
  readonly admit: RequestHandler;
  /** The `'connection'` listener: while connections keep arriving, turns run one request each. */
  readonly connectionAccepted: () => void;
  /** Requests waiting for a turn. */
  queued(): number;
}

/**
 * Wraps `handler` (an Express app, or anything called as a `'request'` listener) in fair admission.
 *
 * The queue needs no limit of its own in practice: it only holds requests Node has already parsed and for which it
 * already holds a request and a response object. A client that waits for each answer before its next request (every
 * SCIM client, and every HTTP/1.1 client that does not pipeline) has at most one request queued, so the queue is at
 * most the number of open connections. A pipelining client can have more: Node pauses a socket only once its unsent
 * answers pass the high-water mark, and a queued request has sent nothing yet, so one read of a socket (64 KiB) could
 * queue a few thousand tiny requests. `maxQueued` caps that: beyond it, requests run at once, as they would without
 * this scheduler; their answers fill the socket and Node stops reading it.
 */
export function fairAdmission(handler: RequestHandler, options: FairAdmissionOptions = {}): FairAdmission {
  const budget = options.turnBudgetMs ?? DEFAULT_TURN_BUDGET_MS;
  const maxQueued = options.maxQueued ?? DEFAULT_MAX_QUEUED;
  // A FIFO as an array and a head index (shift() copies a large array).
  let queue: ([IncomingMessage, ServerResponse] | undefined)[] = [];
  let head = 0;
  /** Time requests have taken in the current turn (their microtasks included); -1 when no turn is open. */
  let spent = -1;
  /**
   * When the current turn's first request arrived. Until a budget's time has passed since, the turn cannot have spent
   * its budget, so requests run untimed; from then on each is timed, the turn so far counted as spent (at least what
   * its requests took). Timing a request costs a promise reaction and a tick, a few percent of a lookup.
   */
  let turnStarted = 0;
  let timing = false;
  let drainScheduled = false;
  /** When the last drain ended: the time since is what the rest of the loop (other work included) took. */
  let lastDrainEnd = performance.now();
  /** A connection was accepted since the last drain: more may be waiting in the listen backlog. */
  let accepting = false;

  const queued = () => queue.length - head;

  function scheduleDrain(): void {
    if (drainScheduled) return;
    drainScheduled = true;
    setImmediate(drain);
  }

  /**
   * Runs one request and counts its time against the turn's budget, then calls `then`. An Express handler does most
   * of its work after an `await` of something already resolved (a SCIM list renders after `await viewFor()`), in
   * microtasks that run once the handler has returned. So the time is read from a `nextTick` queued by a microtask:
   * Node runs it only when the microtask queue is empty again, after that work, and before any other I/O callback.
   */
  function run(req: IncomingMessage, res: ServerResponse, then?: () => void): void {
    const started = performance.now();
    try {
      handler(req, res);
    } finally {
      // A reaction to a settled promise rather than `queueMicrotask`, which makes an AsyncResource per call.
      SETTLED.then(() =>
        process.nextTick(() => {
          if (spent >= 0) spent += performance.now() - started;
          then?.();
        }),
      );
    }
  }

  function drain(): void {
    drainScheduled = false;
    spent = 0;
    // Requests get at least as much of the loop as everything else: when other work (a sync processing Xero's
    // answers) made the rest of this turn long, the drain may run as long, or requests would starve behind it.
    const limit = accepting ? 0 : Math.max(budget, performance.now() - lastDrainEnd);
    accepting = false;
    // One request at a time, each after the previous one's work is done; at least one per turn, whatever it costs,
    // so the queue always moves.
    const next = (): void => {
      while (head < queue.length) {
        const [req, res] = queue[head]!;
        queue[head++] = undefined; // not kept alive by the queue once answered
        // The client went away while it waited: nobody is left to answer.
        if (req.socket.destroyed) continue;
        run(req, res, () => (spent < limit ? next() : close()));
        return;
      }
      close();
    };
    next();
  }

  /** Closes the turn: the next request to arrive opens a new one (when nothing waits before it). */
  function close(): void {
    spent = -1;
    lastDrainEnd = performance.now();
    if (head === queue.length) {
      queue = [];
      head = 0;
      return;
    }
    if (head >= 1024 && head * 2 >= queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    scheduleDrain();
  }

  function admit(req: IncomingMessage, res: ServerResponse): void {
    const waiting = queued();
    if (waiting === 0) {
      if (spent < 0) {
        // The first request of this turn; the drain, which runs once the poll phase is over, closes the turn.
        spent = 0;
        turnStarted = performance.now();
        timing = false;
        scheduleDrain();
      }
      if (!timing) {
        const elapsed = performance.now() - turnStarted;
        if (elapsed < budget) {
          handler(req, res);
          return;
        }
        timing = true;
        spent = elapsed;
      }
      if (spent < budget) {
        run(req, res);
        return;
      }
    } else if (waiting >= maxQueued) {
      run(req, res);
      return;
    }
    queue.push([req, res]);
    scheduleDrain();
  }

  return {
    admit,
    connectionAccepted: () => {
      accepting = true;
    },
    queued,
  };
}
