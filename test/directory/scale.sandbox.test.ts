import { directoryOptions } from '../../src/commands/directory-options';
import { createXeroDirectory } from '../../src/directory/sync';
import { SteppingClock } from '../xero/helpers/clocks';
import { type World, world } from './helpers';

const ORGANISATIONS = Number(process.env.SCALE_ORGANISATIONS ?? 200);

let w: World;
let clock: SteppingClock;

beforeAll(async () => {
  clock = new SteppingClock();
  w = await world({
    clock,
    data: { seed: 200, organisations: ORGANISATIONS, usersPerOrganisation: 10 },
    limits: { enforce: true },
    latency: { fixedMs: 10, jitterMs: 20 },
  });
});

afterAll(async () => {
  await w.close();
});

describe(`${ORGANISATIONS} organisations with Xero's limits enforced (issue 3, "Proof")`, () => {
  it('syncs them all with zero 429s, then costs exactly one Users call per organisation per steady-state sync', async () => {
    const d = createXeroDirectory(directoryOptions(w.config), { clock });
    const ids = w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());

    let started = Date.now();
    const first = await d.syncOnce();
    const firstMs = Date.now() - started;
    expect(first).toMatchObject({ outcome: 'ok', rateLimited: 0 });
    expect(d.current()!.organisations).toHaveLength(ORGANISATIONS);
    expect(w.sandbox.data.counters().status429).toBe(0);

    w.sandbox.data.resetCounters();
    started = Date.now();
    const steady = await d.syncOnce();
    const steadyMs = Date.now() - started;
    const counters = w.sandbox.data.counters();
    expect(steady).toMatchObject({ outcome: 'ok', changed: false, rateLimited: 0 });
    expect(counters.status429).toBe(0);
    expect(counters.byEndpoint['GET /connections']).toBe(1);
    expect(Object.keys(counters.byTenant).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(counters.byTenant[id]).toEqual({ Users: 1, User: 0, Organisation: 0, status429: 0 });
    expect(steady.calls).toEqual({ token: 0, connections: 1, organisation: 0, users: ORGANISATIONS });

    if (process.env.REPORT_FIGURES) {
      process.stdout.write(
        `${ORGANISATIONS} organisations, ${d.current()!.people.length} people: first sync ${firstMs} ms (${first.calls.organisation + first.calls.users + 2} calls), steady sync ${steadyMs} ms (${counters.total} calls)\n`,
      );
    }
    // How long a sync takes against Xero's limits is the benchmark's question (BENCHMARKS.md, "Targets"), not this test's.
  });
});
