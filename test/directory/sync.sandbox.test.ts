import { promises as fs } from 'node:fs';
import { directoryOptions } from '../../src/commands/directory-options';
import type { DerivedPeople, DirectorySnapshot } from '../../src/directory/model';
import { FileSnapshotStore } from '../../src/directory/persistence';
import { isPacked } from '../../src/directory/packed-users';
import { type XeroDirectory, type XeroDirectoryDeps, createXeroDirectory } from '../../src/directory/sync';
import { snapshotVersion } from '../../src/directory/snapshot';
import { membersOf, membershipsOf, personWithUserName } from '../support/snapshot-objects';
import { SteppingClock } from '../xero/helpers/clocks';
import { type World, world } from './helpers';

let clock: SteppingClock;
let w: World;
const directories: XeroDirectory[] = [];

function directory(deps: XeroDirectoryDeps = {}): XeroDirectory {
  const d = createXeroDirectory(directoryOptions(w.config), { clock, random: () => 0.5, policy: { timeoutMs: 5000 }, ...deps });
  directories.push(d);
  return d;
}

beforeEach(async () => {
  clock = new SteppingClock();
  w = await world({ clock, data: { seed: 7, organisations: 6, usersPerOrganisation: 8 } });
});

afterEach(async () => {
  await Promise.all(directories.splice(0).map((d) => d.stop()));
  await w.close();
});

const orgIds = (): string[] => w.sandbox.data.organisations().map((o) => o.organisationId);

/** What the sandbox holds for one organisation, as (xeroUserId, e-mail, role) rows. */
function truth(organisationId: string): string[] {
  return w.sandbox.data
    .users(organisationId)
    .map((u) =>
      [u.userId.toLowerCase(), u.email, u.firstName, u.lastName, u.role, u.isSubscriber, new Date(u.updatedAt).toISOString()].join(' | '),
    )
    .sort();
}

/** What the snapshot serves for one organisation, field for field (dates from Xero's /Date(…)/ as ISO). */
function served(snapshot: DirectorySnapshot, organisationId: string): string[] {
  const tenant = snapshot.tenants.find((t) => t.organisation.id === organisationId.toLowerCase());
  return (tenant?.users ?? [])
    .map((u) => [u.xeroUserId, u.email, u.firstName, u.lastName, u.role, u.isSubscriber, u.updatedAt].join(' | '))
    .sort();
}

describe('Sync against the sandbox over HTTP', () => {
  it('reads every connected organisation, its details and its users', async () => {
    const d = directory();
    expect(d.readNow!()).toBeUndefined();
    const report = await d.syncOnce();
    expect(report).toMatchObject({ outcome: 'ok', changed: true, rateLimited: 0 });
    expect(report.calls).toEqual({ token: 1, connections: 1, organisation: 6, users: 6 });
    const snapshot = d.current()!;
    // Cached mode never fetches for a read: it is answered at once from the published snapshot.
    expect(d.readNow!()).toBe(snapshot);
    expect(snapshot.organisations.map((o) => o.id).sort()).toEqual(orgIds().map((id) => id.toLowerCase()).sort());
    for (const id of orgIds()) expect(served(snapshot, id)).toEqual(truth(id));
    const first = w.sandbox.data.organisations()[0]!;
    expect(snapshot.organisationById.get(first.organisationId.toLowerCase())).toMatchObject({
      name: first.name,
      shortCode: first.shortCode,
      countryCode: first.countryCode,
      baseCurrency: first.baseCurrency,
      edition: first.edition,
      class: first.class,
      createdAt: new Date(first.createdAt).toISOString(),
    });
    expect(d.status()).toMatchObject({ ready: true, lastSyncOutcome: 'ok' });
    expect(d.status().tenants.every((t) => t.state === 'current' && t.rateBudget?.minuteRemaining !== undefined)).toBe(true);
  });

  it('costs one Users call per organisation in steady state; details wait for their own period', async () => {
    const d = directory();
    await d.syncOnce();
    w.sandbox.data.resetCounters();
    const report = await d.syncOnce();
    const counters = w.sandbox.data.counters();
    for (const id of orgIds()) expect(counters.byTenant[id.toLowerCase()]).toMatchObject({ Users: 1, Organisation: 0 });
    expect(counters.byEndpoint['GET /connections']).toBe(1);
    expect(report.calls).toEqual({ token: 0, connections: 1, organisation: 0, users: 6 });

    clock.advance(w.config.organisationRefreshSeconds * 1000);
    w.sandbox.data.resetCounters();
    await d.syncOnce();
    for (const id of orgIds()) expect(w.sandbox.data.counters().byTenant[id.toLowerCase()]).toMatchObject({ Users: 1, Organisation: 1 });
  });

  it('keeps the same snapshot object while nothing changed, and shows a change made through the admin API in the next one', async () => {
    const d = directory();
    await d.syncOnce();
    const before = d.current()!;
    // Users are held packed from the sync on (src/directory/packed-users.ts).
    for (const tenant of before.tenants) expect(isPacked(tenant.users)).toBe(true);
    expect((await d.syncOnce()).changed).toBe(false);
    expect(d.current()).toBe(before);

    const [a, b] = orgIds();
    const victim = w.sandbox.data.users(a!)[0]!;
    w.sandbox.data.setRole(a!, victim.userId, 'REMOVED');
    const added = w.sandbox.data.addUser(b!, { email: 'New.Person@Example.com', firstName: 'New', lastName: 'Person', role: 'READONLY' });
    const report = await d.syncOnce();
    expect(report.changed).toBe(true);
    const after = d.current()!;
    expect(after.version).not.toBe(before.version);
    expect(served(after, a!)).toEqual(truth(a!));
    // An organisation Xero answered the same for keeps the very same records; the changed ones are packed anew.
    for (const id of orgIds().slice(2).map((o) => o.toLowerCase())) expect(after.tenantById.get(id)!.users).toBe(before.tenantById.get(id)!.users);
    for (const tenant of after.tenants) expect(isPacked(tenant.users)).toBe(true);
    const person = personWithUserName(after, 'new.person@example.com')!;
    expect(person.records).toEqual([expect.objectContaining({ xeroUserId: added.userId.toLowerCase(), role: 'READONLY' })]);
    const membership = membershipsOf(after, a!.toLowerCase()).find((m) => m.record.xeroUserId === victim.userId.toLowerCase())!;
    expect(membership.record.role).toBe('REMOVED');
    expect(membersOf(after, a!.toLowerCase()).some((m) => m.record.xeroUserId === victim.userId.toLowerCase())).toBe(false);
  });

  it('shows a change made over HTTP through the sandbox admin API (/__sandbox) in the next snapshot', async () => {
    const d = directory();
    await d.syncOnce();
    const [org] = orgIds();
    const user = w.sandbox.data.users(org!).find((u) => u.role !== 'REMOVED')!;
    const removed = await fetch(`${w.url}/__sandbox/organisations/${org}/users/${user.userId}`, { method: 'DELETE' });
    expect(removed.ok).toBe(true);
    await d.syncOnce();
    expect(membershipsOf(d.current()!, org!.toLowerCase()).some((m) => m.record.xeroUserId === user.userId.toLowerCase())).toBe(false);
    expect(served(d.current()!, org!)).toEqual(truth(org!));
  });

  it('removes an organisation that was disconnected (at once with XERO_DISCONNECT_CONFIRMATIONS=1; the guard is in guard.sandbox.test.ts)', async () => {
    const d = createXeroDirectory(directoryOptions({ ...w.config, xeroDisconnectConfirmations: 1 }), { clock, random: () => 0.5, policy: { timeoutMs: 5000 } });
    directories.push(d);
    await d.syncOnce();
    const gone = orgIds()[2]!;
    w.sandbox.data.disconnect(gone);
    const report = await d.syncOnce();
    expect(report.tenants).toContainEqual(expect.objectContaining({ organisationId: gone.toLowerCase(), result: 'removed' }));
    expect(d.current()!.organisationById.has(gone.toLowerCase())).toBe(false);
    expect(d.current()!.organisations).toHaveLength(5);
    expect(d.status().tenants.map((t) => t.organisationId)).not.toContain(gone.toLowerCase());

    w.sandbox.data.connect(gone);
    await d.syncOnce();
    expect(served(d.current()!, gone)).toEqual(truth(gone));
  });
});

describe('Failures never drop what Xero last said', () => {
  it('a failing organisation keeps its last good data, marked stale; the others stay current', async () => {
    const d = directory();
    await d.syncOnce();
    const [bad, other] = orgIds();
    const before = served(d.current()!, bad!);
    w.sandbox.data.setRole(other!, w.sandbox.data.users(other!)[0]!.userId, 'READONLY');
    w.sandbox.data.addUser(bad!, { email: 'unseen@example.com', firstName: 'Un', lastName: 'Seen', role: 'STANDARD' });
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: bad!, count: 100, kind: 503 });

    clock.advance(300_000);
    const report = await d.syncOnce();
    expect(report.outcome).toBe('partial');
    expect(report.tenants.find((t) => t.organisationId === bad!.toLowerCase())).toMatchObject({
      result: 'stale',
      error: { code: 'XERO_SERVER_ERROR' },
      calls: 4, // DEFAULT_POLICY.maxAttempts
    });
    expect(report.tenants.find((t) => t.organisationId === bad!.toLowerCase())!.ageSeconds).toBeGreaterThanOrEqual(300);
    expect(report.tenants.find((t) => t.organisationId === other!.toLowerCase())).toMatchObject({ result: 'current' });
    expect(report.tenants.find((t) => t.organisationId === other!.toLowerCase())!.ageSeconds).toBeLessThan(60);
    const snapshot = d.current()!;
    expect(served(snapshot, bad!)).toEqual(before);
    expect((personWithUserName(snapshot, 'unseen@example.com') !== undefined)).toBe(false);
    expect(served(snapshot, other!)).toEqual(truth(other!));
    const health = d.status().tenants.find((t) => t.organisationId === bad!.toLowerCase())!;
    expect(health).toMatchObject({ state: 'stale', lastError: { code: 'XERO_SERVER_ERROR' }, userCount: before.length });
    expect(d.status().ready).toBe(true);
  });

  it('an organisation never read successfully is missing, not empty', async () => {
    const [bad] = orgIds();
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: bad!, count: 100, kind: 500 });
    const d = directory();
    const report = await d.syncOnce();
    expect(report.tenants.find((t) => t.organisationId === bad!.toLowerCase())).toMatchObject({ result: 'missing' });
    expect(d.current()!.organisationById.has(bad!.toLowerCase())).toBe(false);
    expect(d.status().tenants.find((t) => t.organisationId === bad!.toLowerCase())).toMatchObject({ state: 'missing' });
  });

  it('publishes (and persists) no snapshot when no connected organisation could ever be read', async () => {
    w.sandbox.data.scriptFault({ path: 'Users', count: 1000, kind: 503 });
    const d = directory();
    const report = await d.syncOnce();
    expect(report.outcome).toBe('partial');
    expect(d.current()).toBeUndefined();
    expect(d.status()).toMatchObject({ ready: false });
    const restarted = directory();
    expect(await restarted.load()).toBe(false);
    expect(restarted.current()).toBeUndefined();
  });

  it('a first sync that cannot reach /connections leaves nothing that a restart would serve as empty', async () => {
    w.sandbox.data.scriptFault({ path: 'connections', count: 1000, kind: 503 });
    const d = directory();
    expect((await d.syncOnce()).outcome).toBe('failed');
    expect(d.status()).toMatchObject({ ready: false, reason: expect.stringContaining('no directory snapshot yet') });
    expect(await directory().load()).toBe(false);
  });

  it('waits out a 429 storm (Retry-After) and ends with every organisation current', async () => {
    w.sandbox.data.scriptFault({ path: 'Users', count: 9, kind: '429-minute', retryAfterSeconds: 20 });
    const d = directory();
    const report = await d.syncOnce();
    expect(report).toMatchObject({ outcome: 'ok', rateLimited: 9 });
    expect(clock.sleeps.filter((ms) => ms >= 20_000).length).toBeGreaterThan(0);
    for (const id of orgIds()) expect(served(d.current()!, id)).toEqual(truth(id));
  });

  it('does not hold a sync for a Retry-After longer than its maximum wait: that organisation waits for a later sync', async () => {
    const d = directory();
    await d.syncOnce();
    const [slow] = orgIds();
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: slow!, count: 1, kind: '429-minute', retryAfterSeconds: 900 });
    const started = clock.now();
    let report = await d.syncOnce();
    expect(clock.now() - started).toBeLessThan(120_000);
    expect(report.tenants.find((t) => t.organisationId === slow!.toLowerCase())).toMatchObject({ result: 'stale', error: { code: 'XERO_RATE_LIMITED' }, calls: 1 });
    report = await d.syncOnce(); // still inside Retry-After: Xero is not asked
    expect(report.tenants.find((t) => t.organisationId === slow!.toLowerCase())).toMatchObject({ result: 'stale', calls: 0 });
    clock.advance(900_000);
    expect((await d.syncOnce()).outcome).toBe('ok');
  });

  it('retries 5xx bursts, timeouts and dropped connections', async () => {
    const [a, b, c] = orgIds();
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: a!, count: 2, kind: 503 });
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: b!, count: 1, kind: 'timeout' });
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: c!, count: 2, kind: 'drop' });
    w.sandbox.data.scriptFault({ path: 'connections', count: 1, kind: 500 });
    const d = directory({ policy: { timeoutMs: 2000 } });
    const report = await d.syncOnce();
    expect(report.outcome).toBe('ok');
    expect(report.calls.connections).toBe(2);
    const calls = Object.fromEntries(report.tenants.map((t) => [t.organisationId, t.calls]));
    expect(calls[a!.toLowerCase()]).toBe(4); // Organisation + 2 failed Users + 1
    expect(calls[b!.toLowerCase()]).toBe(3);
    expect(calls[c!.toLowerCase()]).toBe(4);
    for (const id of orgIds()) expect(served(d.current()!, id)).toEqual(truth(id));
  });

  it('parks an organisation after a daily-limit 429 instead of retrying it, and resumes after Retry-After', async () => {
    const d = directory();
    await d.syncOnce();
    const [parked] = orgIds();
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: parked!, count: 1, kind: '429-day', retryAfterSeconds: 3 * 3600 });
    w.sandbox.data.resetCounters();
    let report = await d.syncOnce();
    expect(report.tenants.find((t) => t.organisationId === parked!.toLowerCase())).toMatchObject({ result: 'stale', error: { code: 'XERO_DAILY_LIMIT' }, calls: 1 });
    expect(w.sandbox.data.counters().byTenant[parked!.toLowerCase()]).toMatchObject({ Users: 1 });

    w.sandbox.data.resetCounters();
    report = await d.syncOnce();
    expect(w.sandbox.data.counters().byTenant[parked!.toLowerCase()]?.Users ?? 0).toBe(0);
    expect(report.tenants.find((t) => t.organisationId === parked!.toLowerCase())).toMatchObject({ result: 'stale', error: { code: 'XERO_DAILY_LIMIT' } });

    clock.advance(3 * 3600_000);
    report = await d.syncOnce();
    expect(report.outcome).toBe('ok');
  });

  it('under a storm of random 429s, 5xx, drops and timeouts every organisation is either current or its last good data: none is dropped', async () => {
    const d = directory({ policy: { timeoutMs: 2000 } });
    await d.syncOnce();
    const lastGood = new Map(orgIds().map((id) => [id, served(d.current()!, id)]));
    for (const id of orgIds()) {
      const user = w.sandbox.data.users(id)[0]!;
      w.sandbox.data.setRole(id, user.userId, user.role === 'READONLY' ? 'STANDARD' : 'READONLY');
    }
    w.sandbox.data.setFaults({ rateLimitRate: 0.4, serverErrorRate: 0.3, dropRate: 0.1, timeoutRate: 0.02, seed: 42 });
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const report = await d.syncOnce();
      for (const t of report.tenants) seen.add(t.result);
      const snapshot = d.current()!;
      expect(snapshot.organisations).toHaveLength(6);
      for (const t of report.tenants) {
        const id = orgIds().find((o) => o.toLowerCase() === t.organisationId)!;
        expect(['current', 'stale']).toContain(t.result);
        expect(served(snapshot, id)).toEqual(t.result === 'current' ? truth(id) : lastGood.get(id));
        lastGood.set(id, served(snapshot, id));
      }
    }
    expect([...seen].sort()).toEqual(['current', 'stale']); // the storm really made some organisations fail
    w.sandbox.data.setFaults({ rateLimitRate: 0, serverErrorRate: 0, dropRate: 0, timeoutRate: 0 });
    expect((await d.syncOnce()).outcome).toBe('ok');
    for (const id of orgIds()) expect(served(d.current()!, id)).toEqual(truth(id));
  });

  it('keeps every organisation when /connections itself fails, and says why', async () => {
    const d = directory();
    await d.syncOnce();
    const before = d.current();
    w.sandbox.data.scriptFault({ path: 'connections', count: 100, kind: 503 });
    const report = await d.syncOnce();
    expect(report).toMatchObject({ outcome: 'failed', error: { code: 'XERO_SERVER_ERROR' } });
    expect(d.current()).toBe(before);
    expect(d.status().tenants.every((t) => t.state === 'stale')).toBe(true);
  });
});

describe('Persistence in STATE_DIR', () => {
  it('a restart during a Xero outage serves the last known truth', async () => {
    const first = directory();
    await first.syncOnce();
    const version = first.current()!.version;
    await first.stop();

    w.sandbox.data.scriptFault({ path: 'connections', count: 100, kind: 503 });
    const restarted = directory();
    expect(await restarted.load()).toBe(true);
    expect(restarted.current()!.version).toBe(version);
    const report = await restarted.syncOnce();
    expect(report.outcome).toBe('failed');
    expect(restarted.current()!.version).toBe(version);
    expect(restarted.status()).toMatchObject({ ready: true });
  });

  it('does not rewrite the state after a sync that failed as a whole (a save at a million memberships holds the thread for seconds)', async () => {
    const d = directory();
    await d.syncOnce();
    const store = new FileSnapshotStore(w.stateDir);
    const before = await fs.readFile(store.file);

    w.sandbox.data.scriptFault({ path: 'connections', count: 100, kind: 503 });
    clock.advance(60_000);
    expect((await d.syncOnce()).outcome).toBe('failed');
    expect((await fs.readFile(store.file)).equals(before)).toBe(true);
    expect(d.status()).toMatchObject({ ready: true, persistence: { ok: true } });
  });

  it('keeps the content version with the state, and a restart takes it rather than hashing every record again', async () => {
    const first = directory();
    await first.syncOnce();
    const store = new FileSnapshotStore(w.stateDir);
    const saved = (await store.load())!;
    expect(saved.version).toBe(first.current()!.version);
    expect(snapshotVersion(saved.tenants)).toBe(saved.version);
    await first.stop();

    // Proof that it is taken: a version no hash of this content gives is what the restarted snapshot carries.
    await store.save({ ...saved, version: 'taken-from-the-file' });
    const restarted = directory();
    expect(await restarted.load()).toBe(true);
    expect(restarted.current()!.version).toBe('taken-from-the-file');
    await restarted.stop();

    // An allow-list that leaves an organisation out makes other content: its version is computed.
    const kept = saved.tenants.slice(1).map((t) => t.organisation.id);
    const allowed = createXeroDirectory(directoryOptions({ ...w.config, xeroTenantIds: kept }), { clock, random: () => 0.5, policy: { timeoutMs: 5000 } });
    directories.push(allowed);
    expect(await allowed.load()).toBe(true);
    expect(allowed.current()!.version).toBe(snapshotVersion(saved.tenants.slice(1)));
  });

  it('keeps the people with the state, and a restart reads them rather than deriving them again', async () => {
    const first = directory();
    await first.syncOnce();
    const ids = [...first.current()!.people].map((p) => p.id);
    const store = new FileSnapshotStore(w.stateDir);
    const idsOf = (people: DerivedPeople | undefined) => Array.from({ length: people?.count ?? 0 }, (_, p) => people!.idAt(p));
    const firstSave = (await store.load())!;
    expect(idsOf(firstSave.people)).toEqual(ids);
    // A sync that finds Xero's answer unchanged shares the lists the snapshot was built from: the people are kept.
    clock.advance(60_000);
    expect((await first.syncOnce()).outcome).toBe('ok');
    const saved = (await store.load())!;
    expect(saved.savedAt).not.toBe(firstSave.savedAt);
    expect(idsOf(saved.people)).toEqual(ids);
    await first.stop();

    // Proof that they are read: other ids (still ascending) are what the restarted snapshot serves.
    const renamed = { ...saved.people!, idAt: (p: number) => `person-${String(p).padStart(6, '0')}` };
    await store.save({ ...saved, people: renamed });
    const restarted = directory();
    expect(await restarted.load()).toBe(true);
    expect([...restarted.current()!.people].map((p) => p.id)).toEqual(idsOf(renamed));
    await restarted.stop();

    // An allow-list that leaves an organisation out makes other records: their people are derived.
    const kept = saved.tenants.slice(1).map((t) => t.organisation.id);
    const allowed = createXeroDirectory(directoryOptions({ ...w.config, xeroTenantIds: kept }), { clock, random: () => 0.5, policy: { timeoutMs: 5000 } });
    directories.push(allowed);
    expect(await allowed.load()).toBe(true);
    expect([...allowed.current()!.people].every((p) => ids.includes(p.id))).toBe(true);
  });

  it('writes the state atomically, mode 0600, and nothing else in STATE_DIR but the token file', async () => {
    const d = directory();
    await d.syncOnce();
    await d.syncOnce();
    expect((await fs.readdir(w.stateDir)).sort()).toEqual(['directory.state', 'xero-tokens.json']);
    const store = new FileSnapshotStore(w.stateDir);
    expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
    const saved = (await store.load())!;
    expect(saved.tenants).toHaveLength(6);
    expect(saved.health.every((h) => h.state === 'current')).toBe(true);
    expect(await fs.readFile(store.file, 'utf8')).not.toContain(w.config.xeroClientSecret!);
  });

  it('a failed write of STATE_DIR shows in the status until a write succeeds again, and the snapshot keeps serving', async () => {
    const store = new FileSnapshotStore(w.stateDir);
    const save = store.save.bind(store);
    let refuse = true;
    store.save = (state) => (refuse ? Promise.reject(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })) : save(state));
    const d = directory({ snapshotStore: store });
    expect((await d.syncOnce()).outcome).toBe('ok');
    expect(d.status()).toMatchObject({
      ready: true,
      persistence: { ok: false, error: { code: 'STATE_NOT_WRITABLE', message: 'cannot save the directory state in STATE_DIR (ENOSPC): a restart would lose it' } },
    });
    expect(d.status().persistence).not.toHaveProperty('lastSavedAt');
    refuse = false;
    clock.advance(60_000);
    await d.syncOnce();
    expect(d.status().persistence).toEqual({ ok: true, lastSavedAt: expect.any(String) });
  });

  it('a corrupt format-1 state file is ignored, not fatal', async () => {
    const store = new FileSnapshotStore(w.stateDir);
    await fs.writeFile(store.legacyFile, '{"format":1,');
    const d = directory();
    expect(await d.load()).toBe(false);
    expect((await d.syncOnce()).outcome).toBe('ok');
    expect(await store.load()).toMatchObject({ format: 1 });
    expect((await fs.readdir(w.stateDir)).sort()).toEqual(['directory.state', 'xero-tokens.json']);
  });

  it.each<[string, (bytes: Buffer) => Buffer]>([
    ['a flipped byte', (b) => (b[b.length >> 1]! ^= 0x01, b)],
    ['a truncated file', (b) => b.subarray(0, b.length >> 1)],
    ['wrong magic', (b) => (b.write('garbage!', 0, 'latin1'), b)],
    ['a future format number', (b) => (b.writeUInt32LE(9, 8), b)],
  ])('a state file with %s is refused on restart, and the server resyncs and writes a good one', async (_name, damage) => {
    const first = directory();
    await first.syncOnce();
    await first.stop();
    const store = new FileSnapshotStore(w.stateDir);
    await fs.writeFile(store.file, damage(await fs.readFile(store.file)));
    await expect(store.load()).rejects.toThrow(`${store.file}: `);

    const restarted = directory();
    expect(await restarted.load()).toBe(false);
    expect(restarted.current()).toBeUndefined();
    expect((await restarted.syncOnce()).outcome).toBe('ok');
    expect(restarted.status()).toMatchObject({ ready: true });
    expect((await store.load())!.tenants).toHaveLength(6);
  });

  it('right after an upgrade, a restart during a Xero outage serves the format-1 directory.json until the next good sync replaces it', async () => {
    const first = directory();
    await first.syncOnce();
    const version = first.current()!.version;
    await first.stop();
    // What an older version left in STATE_DIR: the same state as one JSON document, and no directory.state.
    const store = new FileSnapshotStore(w.stateDir);
    const state = (await store.load())!;
    await fs.writeFile(store.legacyFile, JSON.stringify(state), { mode: 0o600 });
    await fs.rm(store.file);

    w.sandbox.data.scriptFault({ path: 'connections', count: 12, kind: 503 });
    const restarted = directory();
    expect(await restarted.load()).toBe(true);
    expect(restarted.current()!.version).toBe(version);
    expect((await restarted.syncOnce()).outcome).toBe('failed');
    expect(restarted.status()).toMatchObject({ ready: true });
    // A failed sync saves nothing, so the old file is still what a restart reads.
    expect((await fs.readdir(w.stateDir)).sort()).toEqual(['directory.json', 'xero-tokens.json']);
    await restarted.stop();

    const again = directory();
    expect(await again.load()).toBe(true);
    expect(again.current()!.version).toBe(version);
    // Once Xero answers, the sync saves format 2 and the old file goes.
    let outcome = 'failed';
    for (let tries = 0; outcome === 'failed' && tries < 12; tries++) outcome = (await again.syncOnce()).outcome;
    expect(outcome).toBe('ok');
    expect((await fs.readdir(w.stateDir)).sort()).toEqual(['directory.state', 'xero-tokens.json']);
    expect((await store.load())!.version).toBe(version);
  });
});

describe('Live mode', () => {
  it('concurrent reads share one fetch, and a fresh snapshot is served without calling Xero', async () => {
    const d = createXeroDirectory(directoryOptions({ ...w.config, syncMode: 'live' }), { clock, policy: { timeoutMs: 5000 } });
    directories.push(d);
    // Nothing fetched yet: a read must wait for Xero, so none is answered at once.
    expect(d.readNow!()).toBeUndefined();
    const reads = await Promise.all([d.forRead(), d.forRead(), d.forRead()]);
    expect(reads[0]).toBeDefined();
    expect(new Set(reads).size).toBe(1);
    expect(w.sandbox.data.counters().byEndpoint['GET /connections']).toBe(1);
    // Fresh: answered at once, with what forRead answers, and no call to Xero.
    expect(d.readNow!()).toBe(reads[0]);
    await d.forRead();
    expect(w.sandbox.data.counters().byEndpoint['GET /connections']).toBe(1);
    clock.advance(w.config.liveMinFreshnessSeconds * 1000);
    // Stale: the snapshot is still held, but a read must fetch first.
    expect(d.current()).toBe(reads[0]);
    expect(d.readNow!()).toBeUndefined();
    await d.forRead();
    expect(w.sandbox.data.counters().byEndpoint['GET /connections']).toBe(2);
  });
});
