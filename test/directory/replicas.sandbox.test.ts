/**
 * The directory as one of several replicas (`XeroDirectoryDeps.replication`): two or three directories in this
 * process over one sandbox and one in-memory replication hub (`test/support/replication-hub.ts`, faithful to the
 * `Replication` contract, fencing included), read as an IGA tool would (the snapshot, and SCIM over HTTP). Each
 * replica's Xero calls are counted on its own (`onXeroCall`) and the sandbox counts what it was asked.
 */
import type { Config } from '../../src/config';
import { MemoryConfirmationStore } from '../../src/directory/confirmations';
import type { XeroDirectory } from '../../src/directory/sync';
import { createApp } from '../../src/http/app';
import { type ListeningServer, listen } from '../../src/http/listen';
import { silentLogger } from '../../src/log';
import { MemoryTokenStore } from '../../src/xero/tokens';
import { type HubReplica, ReplicationHub } from '../support/replication-hub';
import { ManualClock, until } from '../xero/helpers/clocks';
import { type World, replicaDirectory, world } from './helpers';

const TOKEN = 'replicas-test-token-0123456789';
const INTERVAL_MS = 300_000;

let clock: ManualClock;
let w: World;
let hub: ReplicationHub;
let tokenStore: MemoryTokenStore;
let confirmations: MemoryConfirmationStore;
const started: XeroDirectory[] = [];
const servers: ListeningServer[] = [];

interface Replica {
  readonly id: string;
  readonly directory: XeroDirectory;
  readonly replication: HubReplica;
  /** Xero calls this replica made. */
  calls: number;
}

function replica(id: string, options: Partial<Config> = {}): Replica {
  const replication = hub.replica(id);
  const r: Replica = {
    id,
    replication,
    calls: 0,
    directory: replicaDirectory({ ...w.config, ...options }, { clock, replication, tokenStore, confirmationStore: confirmations }, { onXeroCall: () => r.calls++ }),
  };
  started.push(r.directory);
  return r;
}

beforeEach(async () => {
  clock = new ManualClock();
  hub = new ReplicationHub();
  tokenStore = new MemoryTokenStore();
  confirmations = new MemoryConfirmationStore();
  w = await world({ clock, data: { seed: 16, organisations: 4, usersPerOrganisation: 6, partnerShare: 0 } });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  await Promise.all(started.splice(0).map((d) => d.stop()));
  await w.close();
});

const connectionsCalls = (): number => w.sandbox.data.counters().byEndpoint['GET /connections'] ?? 0;
const orgIds = (): string[] => w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());
const suspicionOf = (r: Replica, id: string) => r.directory.status().tenants.find((t) => t.organisationId === id)?.suspicion;
const leaderOf = (replicas: readonly Replica[]): Replica => replicas.find((r) => r.id === hub.leader())!;

/** Until every replica serves the newest published state. */
async function converged(replicas: readonly Replica[]): Promise<void> {
  await until(() => {
    const newest = hub.published();
    return newest !== undefined && replicas.every((r) => r.directory.current()?.version === newest.version && r.replication.sequence === newest.sequence);
  });
}

/** One sync interval later: the leader's loop wakes, syncs and publishes; every replica takes it. */
async function nextSync(replicas: readonly Replica[]): Promise<void> {
  const before = hub.publishes.length;
  clock.advance(INTERVAL_MS);
  await until(() => hub.publishes.length > before);
  await converged(replicas);
}

/** Moves virtual time on (backoff, Retry-After) until `done` holds: for syncs that retry. */
async function driving(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    clock.advance(30_000);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

/** Behind one Service every replica answers for the same public URL. */
async function serve(r: Replica): Promise<string> {
  const app = createApp({ directory: r.directory, tokens: [TOKEN], logger: silentLogger, clock, publicUrl: 'https://scim.example.com' });
  const server = await listen(app, 0, '127.0.0.1');
  servers.push(server);
  return server.url;
}

async function users(url: string): Promise<{ body: string; etag: string | null }> {
  const res = await fetch(`${url}/scim/v2/Users?count=100`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return { body: await res.text(), etag: res.headers.get('etag') };
}

describe('replicas over one store (cached mode)', () => {
  it('only the leader calls Xero; followers serve the same version, builtAt, bytes and ETags', async () => {
    const replicas = ['a', 'b', 'c'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const leader = leaderOf(replicas);
    const followers = replicas.filter((r) => r !== leader);
    expect(leader.calls).toBeGreaterThan(0);
    for (const f of followers) expect(f.calls).toBe(0);
    expect(connectionsCalls()).toBe(1); // one sync, whoever serves

    await nextSync(replicas);
    expect(connectionsCalls()).toBe(2);
    for (const f of followers) expect(f.calls).toBe(0);
    const snapshot = leader.directory.current()!;
    for (const f of followers) {
      expect(f.directory.current()!.version).toBe(snapshot.version);
      expect(f.directory.current()!.builtAt).toBe(snapshot.builtAt);
    }
    // A follower remembers the snapshots it served by version, as the leader does: a crawl begun on one goes on.
    const org = w.sandbox.data.organisations()[0]!.organisationId;
    w.sandbox.data.setRole(org, w.sandbox.data.users(org).find((u) => u.role === 'STANDARD' || u.role === 'READONLY')!.userId, 'INVOICEONLY');
    await nextSync(replicas);
    expect(leader.directory.current()!.version).not.toBe(snapshot.version);
    for (const f of followers) expect(f.directory.snapshot?.(snapshot.version)).toMatchObject({ version: snapshot.version, builtAt: snapshot.builtAt });

    const [one, two] = await Promise.all([serve(leader), serve(followers[0]!)]);
    const [fromLeader, fromFollower] = await Promise.all([users(one), users(two)]);
    expect(fromFollower.etag).toBeTruthy();
    expect(fromFollower).toEqual(fromLeader);

    // Roles and the store's state, as /readyz shows them.
    expect(leader.directory.status().replication).toMatchObject({ role: 'leader', leader: leader.id, store: { state: 'up' } });
    expect(followers[0]!.directory.status().replication).toMatchObject({ role: 'follower', leader: leader.id });
    expect(followers[0]!.directory.status()).toMatchObject({ ready: true, lastSuccessfulSyncAt: expect.any(String) });
  });

  it('a replica started later serves the published state at once, without a Xero call', async () => {
    const first = replica('a');
    await first.directory.start();
    await until(() => hub.publishes.length === 1);
    const late = replica('b');
    await late.directory.start();
    expect(late.directory.current()?.version).toBe(hub.published()!.version); // loaded before start resolved
    expect(late.directory.status().ready).toBe(true);
    expect(late.calls).toBe(0);
  });

  it('after a leader change the new leader continues: a held suspicion keeps counting, nothing is removed early', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const gone = orgIds()[1]!;
    w.sandbox.data.disconnect(gone);
    await nextSync(replicas);
    const [a, b] = [leaderOf(replicas), replicas.find((r) => r.id !== hub.leader())!];
    expect(suspicionOf(b, gone)).toMatchObject({ reason: 'disconnected', answers: 1, answersLeft: 2 });

    hub.depose({ to: b.id });
    await until(() => b.replication.leading() && !a.replication.leading());
    const callsOfA = a.calls;
    await until(() => hub.publishes.at(-1)!.publishedBy === b.id); // its first sync as leader
    await converged(replicas);
    expect(suspicionOf(b, gone)).toMatchObject({ reason: 'disconnected', answers: 2, answersLeft: 1 });
    expect(suspicionOf(a, gone)).toMatchObject({ answers: 2 });
    for (const r of replicas) expect(r.directory.current()!.organisationById.has(gone)).toBe(true);

    await nextSync(replicas);
    for (const r of replicas) expect(r.directory.current()!.organisationById.has(gone)).toBe(false);
    // Taken wholesale: the follower drops the organisation from its status too, as the leader did.
    expect(a.directory.status().tenants.map((t) => t.organisationId)).toEqual(b.directory.status().tenants.map((t) => t.organisationId));
    expect(a.directory.status().tenants.map((t) => t.organisationId)).not.toContain(gone);
    expect(a.calls).toBe(callsOfA); // the deposed leader made no call since
  });

  it("a new leader's budgets start from the day allowance the old one last saw left", async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const [a, b] = [leaderOf(replicas), replicas.find((r) => r.id !== hub.leader())!];
    const org = orgIds()[0]!;
    const dayLeft = (r: Replica) => r.directory.status().tenants.find((t) => t.organisationId === org)?.rateBudget?.dayRemaining;
    expect(dayLeft(a)).toBeGreaterThan(0);
    expect(dayLeft(b)).toBeUndefined(); // a follower's own budget has seen nothing

    // b's first sync as leader stalls on /connections (retries wait on the clock), so no answer of its own sets the bound.
    w.sandbox.data.scriptFault({ path: 'connections', count: 4, kind: 503 });
    hub.depose({ to: b.id });
    await until(() => b.replication.leading() && dayLeft(b) !== undefined);
    expect(dayLeft(b)).toBe(dayLeft(a));
    expect(b.calls).toBeLessThanOrEqual(1);
    await driving(() => hub.publishes.at(-1)!.publishedBy === b.id);
  });

  it('`syncOnce` on a follower makes no Xero call: it asks the leader, which syncs once, and reports what it then holds', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const follower = replicas.find((r) => r.id !== hub.leader())!;
    clock.advance(w.config.liveMinFreshnessSeconds * 1000);
    const before = hub.publishes.length;
    const report = await follower.directory.syncOnce();
    expect(follower.calls).toBe(0);
    expect(report.calls).toEqual({ token: 0, connections: 0, organisation: 0, users: 0 });
    expect(hub.publishes.length).toBe(before + 1);
    expect(connectionsCalls()).toBe(2);
    expect(report.snapshotVersion).toBe(hub.published()!.version);
    expect(follower.replication.sequence).toBe(hub.published()!.sequence);
  });

  it('a deposed leader that does not know it yet cannot publish over its successor, and its sync is not its failure', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const [a, b] = [leaderOf(replicas), replicas.find((r) => r.id !== hub.leader())!];
    const statusBefore = a.directory.status();

    hub.depose({ to: b.id, tell: false }); // a still believes it leads (a paused process)
    await until(() => b.replication.leading());
    await until(() => hub.publishes.at(-1)!.publishedBy === b.id);
    w.sandbox.data.scriptFault({ path: 'connections', count: 10, kind: 503 });
    let report: Awaited<ReturnType<XeroDirectory['syncOnce']>> | undefined;
    void a.directory.syncOnce().then((r) => (report = r)); // a's own sync, failing: its result is dropped
    await driving(() => report !== undefined);
    expect(report!.outcome).toBe('failed');
    expect(hub.publishes.every((p, i) => i === 0 || p.publishedBy === b.id)).toBe(true);
    expect(a.directory.status().lastSyncOutcome).not.toBe('failed');
    expect(a.directory.status().lastSyncError).toBeUndefined();
    expect(a.directory.status().ready).toBe(statusBefore.ready);
    await until(() => a.replication.sequence === hub.published()!.sequence); // and it serves what b published
  });
});

describe('a store that loses or withholds its data', () => {
  it('a follower never replaces a held snapshot with nothing; after a flush the sequence restarts and is followed', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const [a, b] = [leaderOf(replicas), replicas.find((r) => r.id !== hub.leader())!];
    const version = b.directory.current()!.version;
    await nextSync(replicas);
    expect(b.replication.sequence).toBe(2);

    hub.flush();
    hub.announce(7); // as the polling fallback would, of a sequence it saw: there is nothing to load
    await new Promise<void>((resolve) => setTimeout(resolve, 20));
    expect(b.directory.current()!.version).toBe(version);
    expect(b.directory.status().ready).toBe(true);
    hub.down = true;
    clock.advance(INTERVAL_MS); // the leader syncs; its publish fails
    await until(() => a.directory.status().persistence?.ok === false);
    expect(a.directory.status().persistence?.error?.code).toBe('STATE_NOT_PUBLISHED');
    expect(b.directory.current()!.version).toBe(version);
    expect(b.directory.status()).toMatchObject({ ready: true, replication: { store: { state: 'down' } } });

    hub.down = false;
    hub.depose({ to: b.id }); // b leads with an empty store: it continues from what it holds
    await until(() => hub.publishes.at(-1)!.publishedBy === b.id);
    expect(hub.published()).toMatchObject({ sequence: 1, version });
    await until(() => a.replication.sequence === 1); // a lower sequence than a held: the store restarted
    expect(a.directory.current()!.version).toBe(version);
  });

  it('a confirmation is consumed only once the sync that applied it is published', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id));
    for (const r of replicas) await r.directory.start();
    await converged(replicas);
    const follower = replicas.find((r) => r.id !== hub.leader())!;
    w.sandbox.data.scriptFault({ path: 'connections', count: 10, kind: 'empty' }); // a mass drop, held for an operator
    await nextSync(replicas);
    expect(suspicionOf(follower, orgIds()[0]!)).toMatchObject({ reason: 'suspect-disconnect', awaitsOperator: true });
    await confirmations.add({ tenantIds: orgIds(), at: new Date(clock.now()).toISOString() });

    hub.down = true;
    clock.advance(INTERVAL_MS); // applied by the leader, but not published
    await until(() => leaderOf(replicas).directory.status().persistence?.ok === false);
    expect(await confirmations.pending()).toHaveLength(1);
    expect(follower.directory.current()!.organisations).toHaveLength(orgIds().length); // followers still serve the last publish

    hub.down = false;
    await nextSync(replicas);
    expect(await confirmations.pending()).toHaveLength(0);
    expect(follower.directory.current()!.organisations).toHaveLength(0);
  });

  it('a leader that never read Xero publishes nothing: an empty directory is never the shared truth', async () => {
    w.sandbox.data.scriptFault({ path: 'connections', count: 50, kind: 503 });
    const a = replica('a');
    await a.directory.start();
    await driving(() => a.directory.lastReport()?.outcome === 'failed');
    expect(hub.published()).toBeUndefined();
    expect(a.directory.status().persistence).toMatchObject({ ok: true }); // not a failed publish: none was attempted
    expect(a.directory.status().ready).toBe(false);
  });
});

describe('live mode over replicas', () => {
  it('concurrent reads on two replicas share one sync, made by the leader alone', async () => {
    const replicas = ['a', 'b'].map((id) => replica(id, { syncMode: 'live' }));
    for (const r of replicas) await r.directory.start();
    await until(() => hub.leader() !== undefined && leaderOf(replicas).replication.leading());
    const leader = leaderOf(replicas);
    const follower = replicas.find((r) => r !== leader)!;

    const [fromLeader, fromFollower] = await Promise.all([leader.directory.forRead(), follower.directory.forRead(), follower.directory.forRead()]);
    expect(connectionsCalls()).toBe(1);
    expect(follower.calls).toBe(0);
    expect(fromFollower?.version).toBe(fromLeader?.version);
    expect(fromFollower?.builtAt).toBe(fromLeader?.builtAt);

    // Fresh enough: nobody syncs.
    await Promise.all([leader.directory.forRead(), follower.directory.forRead()]);
    expect(connectionsCalls()).toBe(1);

    // Stale: a read on the follower alone asks the leader, which syncs once.
    clock.advance(w.config.liveMinFreshnessSeconds * 1000);
    await Promise.all([follower.directory.forRead(), follower.directory.forRead()]);
    expect(connectionsCalls()).toBe(2);
    expect(follower.calls).toBe(0);
    expect(follower.replication.sequence).toBe(hub.published()!.sequence);
  });
});
