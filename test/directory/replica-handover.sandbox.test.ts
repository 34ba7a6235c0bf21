/**
 * A leader that loses the lease in the middle of a sync and gets it back before the sync ends: meanwhile another
 * replica led, synced and published. The first one's result was built from the state before that publish, so it must
 * not become the shared truth over it: the removal an operator confirmed on the other replica stays removed.
 * Two directories over one sandbox and the in-memory hub (`test/support/replication-hub.ts`); the first one's
 * `/connections` call is held at a gate, so the hand-over happens while its sync is in flight.
 */
import { MemoryConfirmationStore } from '../../src/directory/confirmations';
import type { XeroDirectory } from '../../src/directory/sync';
import type { SyncReport } from '../../src/directory/sync-report';
import { MemoryTokenStore } from '../../src/xero/tokens';
import { type HubReplica, ReplicationHub } from '../support/replication-hub';
import { ManualClock, until } from '../xero/helpers/clocks';
import { type World, replicaDirectory, world } from './helpers';

const INTERVAL_MS = 300_000;

let clock: ManualClock;
let w: World;
const started: XeroDirectory[] = [];

beforeEach(async () => {
  clock = new ManualClock();
  w = await world({ clock, data: { seed: 16, organisations: 3, usersPerOrganisation: 4, partnerShare: 0 } });
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((d) => d.stop()));
  await w.close();
});

/** Holds this replica's `/connections` calls while `closed`, and says when one is waiting. */
class Gate {
  closed = false;
  waiting = false;
  private open: () => void = () => undefined;
  readonly fetch: typeof fetch = async (input, init) => {
    if (this.closed && String(input instanceof Request ? input.url : input).includes('/connections')) {
      this.waiting = true;
      await new Promise<void>((resolve) => (this.open = resolve));
    }
    return fetch(input, init);
  };

  release(): void {
    this.closed = false;
    this.open();
  }
}

it('a leader whose lease moved on and came back mid-sync does not publish over what the other leader published', async () => {
  const hub = new ReplicationHub();
  const tokenStore = new MemoryTokenStore();
  const confirmations = new MemoryConfirmationStore();
  const gate = new Gate();
  const replica = (id: string, replication: HubReplica, extra: { fetch?: typeof fetch } = {}): XeroDirectory => {
    const directory = replicaDirectory(w.config, { clock, replication, tokenStore, confirmationStore: confirmations }, extra);
    started.push(directory);
    return directory;
  };
  const [ra, rb] = [hub.replica('a'), hub.replica('b')];
  const a = replica('a', ra, { fetch: gate.fetch });
  const b = replica('b', rb);
  await a.start();
  await b.start();
  await until(() => hub.publishes.length === 1 && rb.sequence === 1);
  const ids = w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());

  w.sandbox.data.scriptFault({ path: 'connections', count: 50, kind: 'empty' }); // a mass drop, held for an operator
  clock.advance(INTERVAL_MS);
  await until(() => hub.publishes.length === 2 && rb.sequence === 2);
  expect(b.current()!.organisations).toHaveLength(ids.length);

  gate.closed = true;
  let reportOfA: SyncReport | undefined;
  void a.syncOnce().then((r) => (reportOfA = r)); // a's sync, held at /connections
  await until(() => gate.waiting);

  hub.depose({ to: 'b' }); // a is told it lost the lease; b leads, and syncs at once
  await until(() => hub.publishes.at(-1)!.publishedBy === 'b');
  await confirmations.add({ tenantIds: ids, at: new Date(clock.now()).toISOString() });
  await b.syncOnce(); // b applies the operator's confirmation, publishes, and consumes it
  expect(hub.published()!.state.tenants.length).toBe(0);
  expect(await confirmations.pending()).toHaveLength(0);
  const confirmed = hub.published()!;

  hub.depose({ to: 'a' }); // a leads again while its sync is still in flight
  await until(() => ra.leading());
  gate.release();
  await until(() => reportOfA !== undefined);
  await until(() => ra.sequence === hub.published()!.sequence); // a serves the newest publish, whoever made it

  // The removal b published stands: nothing built from the older state replaced it.
  expect(hub.published()!.state.tenants.length).toBe(0);
  expect(hub.publishes.filter((p) => p.sequence > confirmed.sequence).every((p) => p.state.tenants.length === 0)).toBe(true);
  expect(a.current()!.organisations).toHaveLength(0);
});
