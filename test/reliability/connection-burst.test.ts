/**
 * Guarantee 6 — load held, the connection burst. libuv (Node 20) accepts one connection per event-loop turn; without
 * fair admission (src/http/fair-admission.ts) each turn of a busy server also runs one request from every connection
 * already established, so a burst of new connections waits seconds to be taken in, although every request takes a
 * millisecond. The server runs the real `listen()` from dist/ in a child process (the load generator must not share
 * its event loop), with a handler that busy-waits per request; autocannon keeps it busy, then bursts of new
 * connections open at once and each must get its first answer within a bound the old code exceeded several times
 * over (old: 4.6–4.8 s for 150 connections; with fair admission: about 0.6 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import autocannon from 'autocannon';
import { fairAdmission } from '../../src/http/fair-admission';
import { CLI, ensureBuilt, reportFigures, size, waitFor } from './support';

/** Connections keeping the server busy, and how many new ones open at once in each burst. */
const BUSY_CONNECTIONS = size(50, 100);
const BURST = size(150, 300);
const BURSTS = size(1, 5);
/** What each request costs the server, synchronously (a SCIM list page costs about that). */
const BUSY_MS = 1;
/** The slowest first answer allowed in a burst. */
const BOUND_MS = size(2000, 4000);
/** A socket that gets no answer at all is counted at this (and fails the bound). */
const GIVE_UP_MS = 15_000;

/** The server: dist/http/listen.js's listen() in front of a handler that costs BUSY_MS and answers 17 KB (a Users page). */
const SERVER = `
const { listen } = require(${JSON.stringify(path.join(path.dirname(CLI), 'http', 'listen.js'))});
const body = 'x'.repeat(17000);
const handler = (req, res) => { const end = performance.now() + ${BUSY_MS}; while (performance.now() < end); res.end(body); };
listen(handler, 0, '127.0.0.1').then((s) => console.log('listening ' + s.url));
`;

interface Burst {
  connectMaxMs: number;
  firstAnswerMs: number[];
  failures: string[];
}

/** Opens `count` connections at once; each sends one request and times its first answer byte from the burst's start. */
async function burst(port: number, count: number): Promise<Burst> {
  const started = performance.now();
  const connectMs: number[] = [];
  const firstAnswerMs: number[] = [];
  const failures: string[] = [];
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1');
          const done = (failure?: string) => {
            clearTimeout(timer);
            if (failure) failures.push(failure);
            socket.destroy();
            resolve();
          };
          const timer = setTimeout(() => {
            firstAnswerMs.push(GIVE_UP_MS);
            done(`no answer within ${GIVE_UP_MS} ms`);
          }, GIVE_UP_MS);
          socket.on('connect', () => {
            connectMs.push(performance.now() - started);
            socket.write(`GET /burst HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
          });
          socket.once('data', (chunk: Buffer) => {
            firstAnswerMs.push(performance.now() - started);
            done(chunk.toString('latin1').startsWith('HTTP/1.1 200') ? undefined : `answered ${chunk.toString('latin1', 0, 20)}`);
          });
          socket.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
        }),
    ),
  );
  return { connectMaxMs: Math.max(...connectMs), firstAnswerMs: firstAnswerMs.sort((a, b) => a - b), failures };
}

describe('fair admission (src/http/fair-admission.ts)', () => {
  const nextTurn = () => new Promise((r) => setImmediate(r));
  /** What Node does between two sockets' callbacks: ticks and microtasks run (the scheduler counts time there). */
  const nextCallback = () => new Promise<void>((r) => queueMicrotask(() => process.nextTick(r)));
  /** A request whose handler costs `ms`; only what the scheduler reads of it is real. */
  const request = (id: number, destroyed = false) => [{ id, socket: { destroyed } }, {}] as unknown as [IncomingMessage, ServerResponse];
  const busyFor = (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end);
  };

  /**
   * Forty requests of 3 ms each, admitted one socket callback apart, to a scheduler with a 5 ms budget; `schedule`
   * decides when a handler does its work (at once, or after an await as an Express route does).
   */
  async function fortyRequests(schedule: (work: () => void) => void) {
    const ran: number[] = [];
    const admission = fairAdmission(
      (req) =>
        schedule(() => {
          ran.push((req as unknown as { id: number }).id);
          busyFor(3);
        }),
      { turnBudgetMs: 5 },
    );
    for (let id = 0; id < 40; id++) {
      admission.admit(...request(id));
      await nextCallback();
    }
    return { ran, ...admission };
  }

  it('runs requests at once while the turn has budget, then in arrival order over later turns', async () => {
    const { ran, admit, queued } = await fortyRequests((work) => work());
    // 0 and 3 ms into the turn; at 6 ms the budget is spent (on a loaded machine a request may take longer: then 1 waits)
    expect(ran.slice(0, 1)).toEqual([0]);
    expect(ran.length).toBeLessThanOrEqual(2);
    expect(queued()).toBe(40 - ran.length);
    await nextTurn();
    expect(ran.length).toBeLessThan(40); // a turn runs about its budget (or as long as the rest of the loop), not 120 ms
    admit(...request(40)); // arrives while others wait: joins the end of the queue
    while (queued() > 0) await nextTurn();
    expect(ran).toEqual(Array.from({ length: 41 }, (_, id) => id));
  });

  it('counts the work a handler does after an await (an Express route renders there) against the budget', async () => {
    const { ran, queued } = await fortyRequests((work) => {
      void (async () => {
        await Promise.resolve();
        work();
      })();
    });
    expect(ran.slice(0, 1)).toEqual([0]);
    expect(ran.length).toBeLessThanOrEqual(2);
    await nextTurn();
    expect(ran.length).toBeLessThan(40);
    while (queued() > 0) await nextTurn();
    expect(ran).toEqual(Array.from({ length: 40 }, (_, id) => id));
  });

  it('runs one request per turn while connections arrive, and skips a request whose client went away while it waited', async () => {
    const ran: number[] = [];
    const { admit, queued, connectionAccepted } = fairAdmission(
      (req) => {
        const { id } = req as unknown as { id: number };
        ran.push(id);
        if (id === 0) busyFor(5); // spends the turn's budget: the rest wait
      },
      { turnBudgetMs: 3 },
    );
    admit(...request(0));
    await nextCallback();
    admit(...request(1));
    admit(...request(2, true));
    for (let id = 3; id < 6; id++) admit(...request(id));
    expect(ran).toEqual([0]);
    connectionAccepted();
    await nextTurn();
    expect(ran).toEqual([0, 1]); // one request: the loop goes back to accept the next connection
    await nextTurn();
    expect(ran).toEqual([0, 1, 3, 4, 5]); // a whole budget again; 2 was skipped
    expect(queued()).toBe(0);
  });
});

describe('Guarantee 6: load held (a burst of new connections)', () => {
  jest.setTimeout(size(60_000, 300_000));
  let child: ChildProcess | undefined;

  beforeAll(ensureBuilt, 120_000);

  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it(`takes in bursts of ${BURST} new connections within ${BOUND_MS} ms while ${BUSY_CONNECTIONS} others keep the server busy`, async () => {
    const figures: Record<string, unknown> = { busyConnections: BUSY_CONNECTIONS, busyMs: BUSY_MS, burst: BURST, bursts: BURSTS, boundMs: BOUND_MS, violations: 0 };
    try {
      child = spawn(process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += String(d)));
      child.stderr!.on('data', (d: Buffer) => (out += String(d)));
      const started = child;
      await waitFor(() => /listening /.test(out) || started.exitCode !== null, 20_000, 'the server to listen');
      const url = /listening (http:\/\/\S+)/.exec(out)?.[1];
      if (!url) throw new Error(`the server did not start:\n${out}`);
      const port = Number(new URL(url).port);

      const busy = autocannon({ url, connections: BUSY_CONNECTIONS, duration: 600, timeout: 20 });
      const slowest: number[] = [];
      const medians: number[] = [];
      const failures: string[] = [];
      let connectMaxMs = 0;
      for (let round = 0; round < BURSTS; round++) {
        await new Promise((r) => setTimeout(r, 1000)); // the busy connections settle in (again)
        const result = await burst(port, BURST);
        slowest.push(Math.round(result.firstAnswerMs.at(-1)!));
        medians.push(Math.round(result.firstAnswerMs[result.firstAnswerMs.length >> 1]!));
        failures.push(...result.failures);
        connectMaxMs = Math.max(connectMaxMs, Math.round(result.connectMaxMs));
      }
      busy.stop();
      const background = await busy;
      Object.assign(figures, {
        connectMaxMs,
        firstAnswerP50Ms: medians,
        firstAnswerMaxMs: slowest,
        busy: { requests: background.requests.total, p50: background.latency.p50, p99: background.latency.p99, max: background.latency.max },
      });

      expect(failures).toEqual([]);
      // The handshakes complete at once (the kernel does them): only the server's taking them in is measured.
      expect(Math.max(...slowest)).toBeLessThan(BOUND_MS);
      expect(background.errors + background.timeouts + background.non2xx).toBe(0);
    } catch (err) {
      figures.violations = 1;
      throw err;
    } finally {
      reportFigures('connection-burst', figures);
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
