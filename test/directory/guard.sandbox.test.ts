/**
 * Issue 13, part 1: an answer that looks like a removal is suspect, not truth. Xero's answers are scripted through
 * the sandbox's admin API (`/connections` → `200 []`, Users → `200 {"Users":[]}`, a real disconnect), and the
 * directory is read as an IGA tool and an operator would: the snapshot, STATE_DIR after a restart, `/readyz`,
 * `/metrics`, the status page, and `xero-scim confirm-disconnect`.
 */
import { promises as fs } from 'node:fs';
import { main } from '../../src/cli';
import { directoryOptions } from '../../src/commands/directory-options';
import type { Config } from '../../src/config';
import type { DirectorySnapshot } from '../../src/directory/model';
import { FileSnapshotStore } from '../../src/directory/persistence';
import { membersOf } from '../support/snapshot-objects';
import { type XeroDirectory, type XeroDirectoryDeps, createXeroDirectory } from '../../src/directory/sync';
import { silentLogger } from '../../src/log';
import { createApp } from '../../src/http/app';
import { type ListeningServer, listen } from '../../src/http/listen';
import { contract, exchangeOfFetch } from '../support/openapi';
import { SteppingClock } from '../xero/helpers/clocks';
import { type World, world } from './helpers';

let clock: SteppingClock;
let w: World;
const directories: XeroDirectory[] = [];
const servers: ListeningServer[] = [];

function directory(options: Partial<Config> = {}, deps: XeroDirectoryDeps = {}): XeroDirectory {
  const d = createXeroDirectory(directoryOptions({ ...w.config, ...options }), { clock, random: () => 0.5, policy: { timeoutMs: 5000 }, ...deps });
  directories.push(d);
  return d;
}

beforeEach(async () => {
  clock = new SteppingClock();
  w = await world({ clock, data: { seed: 13, organisations: 4, usersPerOrganisation: 6, partnerShare: 0 } });
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  await Promise.all(directories.splice(0).map((d) => d.stop()));
  await w.close();
});

const orgIds = (): string[] => w.sandbox.data.organisations().map((o) => o.organisationId.toLowerCase());
const memberships = (s: DirectorySnapshot): number => [...s.memberRecords.values()].reduce((n, m) => n + m.length, 0);
const suspicionOf = (d: XeroDirectory, id: string) => d.status().tenants.find((t) => t.organisationId === id)?.suspicion;

/** One sync interval later. */
async function sync(d: XeroDirectory) {
  clock.advance(300_000);
  return d.syncOnce();
}

async function confirm(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['confirm-disconnect', ...args], { out: (t) => out.push(t), err: (t) => err.push(t), env: { STATE_DIR: w.stateDir } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('/connections answering 200 [] (a mass drop)', () => {
  it('keeps every organisation with its last good data, marked suspect-disconnect; the next good answer ends it', async () => {
    const d = directory();
    await d.syncOnce();
    const before = d.current()!;
    w.sandbox.data.scriptFault({ path: 'connections', count: 1, kind: 'empty' });

    const report = await sync(d);
    expect(d.current()!.version).toBe(before.version);
    expect(d.current() === before).toBe(true); // not even a rebuild: nothing changed for SCIM
    expect(report.outcome).toBe('partial');
    expect(report.suspicionsRaised).toEqual(orgIds().map(() => 'suspect-disconnect'));
    for (const t of d.status().tenants) {
      expect(t).toMatchObject({ state: 'stale', suspicion: { reason: 'suspect-disconnect', answers: 1, awaitsOperator: true } });
      expect(t.suspicion!.answersLeft).toBeUndefined();
    }
    expect(d.status()).toMatchObject({ ready: true });

    expect((await sync(d)).outcome).toBe('ok');
    expect(d.current()!.version).toBe(before.version);
    expect(d.status().tenants.every((t) => t.state === 'current' && t.suspicion === undefined)).toBe(true);
  });

  it('is never applied on its own, however long it lasts, and a restart meanwhile serves the last good data', async () => {
    let d = directory();
    await d.syncOnce();
    const version = d.current()!.version;
    const people = d.current()!.people.length;
    w.sandbox.data.scriptFault({ path: 'connections', count: 20, kind: 'empty' });
    for (let i = 0; i < 6; i++) await sync(d);
    expect(d.current()!.version).toBe(version);
    expect(suspicionOf(d, orgIds()[0]!)).toMatchObject({ reason: 'suspect-disconnect', answers: 6, awaitsOperator: true });

    // What STATE_DIR holds is the last good truth, with the suspicion beside it.
    const saved = (await new FileSnapshotStore(w.stateDir).load())!;
    expect(saved.tenants).toHaveLength(4);
    expect(Object.values(saved.suspicions ?? {}).map((s) => s.reason)).toEqual(orgIds().map(() => 'suspect-disconnect'));
    await d.stop();
    d = directory();
    expect(await d.load()).toBe(true);
    expect(d.current()!.version).toBe(version);
    expect(d.current()!.people).toHaveLength(people);
    expect(suspicionOf(d, orgIds()[1]!)).toMatchObject({ reason: 'suspect-disconnect', answers: 6 });
    await sync(d);
    expect(d.current()!.version).toBe(version);
    expect(suspicionOf(d, orgIds()[1]!)).toMatchObject({ answers: 7 });
  });

  it('is applied once an operator confirms (`xero-scim confirm-disconnect --all`), and an empty directory is not ready', async () => {
    const d = directory();
    await d.syncOnce();
    w.sandbox.data.scriptFault({ path: 'connections', count: 5, kind: 'empty' });
    await sync(d);

    const confirmed = await confirm('--all');
    expect(confirmed).toMatchObject({ code: 0, err: '' });
    expect(confirmed.out).toContain('Confirmed the removal of 4 organisations');
    for (const id of orgIds()) expect(confirmed.out).toContain(`(${id}): suspect-disconnect since`);
    expect(await fs.readdir(`${w.stateDir}/confirm-disconnect`)).toHaveLength(1);

    const report = await sync(d);
    expect(report.tenants.map((t) => t.result)).toEqual(orgIds().map(() => 'removed'));
    expect(d.current()!.organisations).toHaveLength(0);
    expect(d.status()).toMatchObject({ ready: false, reason: expect.stringContaining('no organisation') });
    expect(await fs.readdir(`${w.stateDir}/confirm-disconnect`)).toEqual([]); // consumed
    expect((await new FileSnapshotStore(w.stateDir).load())!.tenants).toEqual([]);
  });

  it('a confirmation of one organisation applies to it alone; one that came back meanwhile stays', async () => {
    const d = directory();
    await d.syncOnce();
    const [a, b] = orgIds();
    w.sandbox.data.scriptFault({ path: 'connections', count: 1, kind: 'empty' });
    await sync(d);
    expect((await confirm(a!.toUpperCase(), b!)).code).toBe(0);
    w.sandbox.data.disconnect(a!); // a really left; b is back with the rest
    await sync(d);
    expect(d.current()!.organisationById.has(a!)).toBe(false);
    expect(d.current()!.organisationById.has(b!)).toBe(true);
    expect(d.status().tenants.every((t) => t.suspicion === undefined)).toBe(true);
  });

  it('`confirm-disconnect` refuses an organisation that is not held back, and says what is', async () => {
    const d = directory();
    await d.syncOnce();
    const [a] = orgIds();
    w.sandbox.data.disconnect(a!);
    await sync(d);
    const refused = await confirm(orgIds()[1]!);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(`not held back as of the last sync`);
    expect(refused.err).toContain(`(${a}): disconnected since`);
    expect((await confirm()).code).toBe(2); // neither ids nor --all
    expect((await confirm('--all', a!)).code).toBe(2);
  });
});

describe('an organisation disconnected in Xero', () => {
  it('keeps its last good data, marked disconnected, and is removed when it has stayed out for 3 syncs', async () => {
    const d = directory();
    await d.syncOnce();
    const gone = orgIds()[2]!;
    const before = membersOf(d.current()!, gone).length;
    w.sandbox.data.disconnect(gone);

    for (const answers of [1, 2]) {
      const report = await sync(d);
      expect(report.tenants.find((t) => t.organisationId === gone)).toMatchObject({ result: 'stale', suspicion: { reason: 'disconnected', answers, answersLeft: 3 - answers } });
      expect(membersOf(d.current()!, gone)).toHaveLength(before);
    }
    const report = await sync(d);
    expect(report.tenants.find((t) => t.organisationId === gone)).toMatchObject({ result: 'removed' });
    expect(d.current()!.organisationById.has(gone)).toBe(false);
    expect(d.current()!.organisations).toHaveLength(3);

    w.sandbox.data.connect(gone);
    await sync(d);
    expect(membersOf(d.current()!, gone)).toHaveLength(before);
  });

  it('is removed at once with XERO_DISCONNECT_CONFIRMATIONS=1', async () => {
    const d = directory({ xeroDisconnectConfirmations: 1 });
    await d.syncOnce();
    const gone = orgIds()[0]!;
    w.sandbox.data.disconnect(gone);
    await sync(d);
    expect(d.current()!.organisationById.has(gone)).toBe(false);
  });

  it('three of four leaving at once is a mass drop (XERO_MAX_DISCONNECT_SHARE 0.5): held, never removed on its own', async () => {
    const d = directory();
    await d.syncOnce();
    const [, ...three] = orgIds();
    for (const id of three) w.sandbox.data.disconnect(id);
    for (let i = 0; i < 5; i++) await sync(d);
    expect(d.current()!.organisations).toHaveLength(4);
    for (const id of three) expect(suspicionOf(d, id)).toMatchObject({ reason: 'suspect-disconnect', awaitsOperator: true });
  });

  it('leaving XERO_TENANT_IDS applies at once, even before the first sync after a restart', async () => {
    let d = directory();
    await d.syncOnce();
    const [keep] = orgIds();
    await d.stop();
    d = directory({ xeroTenantIds: [keep!] });
    await d.load();
    expect(d.current()!.organisations.map((o) => o.id)).toEqual([keep]);
    const report = await sync(d);
    expect(report.outcome).toBe('ok');
    expect(d.current()!.organisations.map((o) => o.id)).toEqual([keep]);
  });
});

describe('Users answering 200 {"Users":[]}', () => {
  it('keeps the last good users, marked suspect-empty, not persisted, and takes the answer after 3 in a row', async () => {
    let d = directory();
    await d.syncOnce();
    const [empty] = orgIds();
    const members = membersOf(d.current()!, empty!).length;
    expect(members).toBeGreaterThan(0);
    w.sandbox.data.scriptFault({ path: 'Users', tenantId: empty!, count: 3, kind: 'empty' });

    let report = await sync(d);
    expect(report.tenants.find((t) => t.organisationId === empty)).toMatchObject({ result: 'stale', suspicion: { reason: 'suspect-empty', answers: 1, answersLeft: 2 } });
    expect(membersOf(d.current()!, empty!)).toHaveLength(members);

    // A restart in the middle serves the last good users, and keeps counting.
    await d.stop();
    d = directory();
    await d.load();
    expect(membersOf(d.current()!, empty!)).toHaveLength(members);
    report = await sync(d);
    expect(report.tenants.find((t) => t.organisationId === empty)).toMatchObject({ suspicion: { reason: 'suspect-empty', answers: 2 } });

    await sync(d);
    expect(d.current()!.organisationById.has(empty!)).toBe(true);
    expect(membersOf(d.current()!, empty!)).toEqual([]);
    expect(suspicionOf(d, empty!)).toBeUndefined();
  });

  it('one good answer in between ends the suspicion', async () => {
    const d = directory();
    await d.syncOnce();
    const [empty] = orgIds();
    const members = membersOf(d.current()!, empty!).length;
    for (let i = 0; i < 4; i++) {
      if (i !== 2) w.sandbox.data.scriptFault({ path: 'Users', tenantId: empty!, count: 1, kind: 'empty' });
      await sync(d);
      expect(membersOf(d.current()!, empty!)).toHaveLength(members);
    }
    expect(suspicionOf(d, empty!)).toMatchObject({ answers: 1 });
  });

  it('every organisation answering empty at once is a mass drop: held until an operator confirms', async () => {
    const d = directory();
    await d.syncOnce();
    const total = memberships(d.current()!);
    w.sandbox.data.scriptFault({ path: 'Users', count: 40, kind: 'empty' });
    for (let i = 0; i < 5; i++) await sync(d);
    expect(memberships(d.current()!)).toBe(total);
    expect(suspicionOf(d, orgIds()[0]!)).toMatchObject({ reason: 'suspect-empty', awaitsOperator: true });
  });

  it('a partial drop (a user or two) applies at once', async () => {
    const d = directory();
    await d.syncOnce();
    const [org] = orgIds();
    const users = w.sandbox.data.users(org!).filter((u) => u.role !== 'REMOVED');
    w.sandbox.data.removeUser(org!, users[0]!.userId);
    w.sandbox.data.removeUser(org!, users[1]!.userId);
    expect((await sync(d)).outcome).toBe('ok');
    expect(membersOf(d.current()!, org!)).toHaveLength(users.length - 2);
  });
});

describe('what an operator sees', () => {
  it('/readyz, /metrics and the status page show each suspicion with its age and how to confirm it', async () => {
    const d = directory();
    const app = createApp({ directory: d, tokens: ['guard-status-token-0123'], logger: silentLogger, clock });
    const server = await listen(app, 0, '127.0.0.1');
    servers.push(server);
    await d.syncOnce();
    const [gone] = orgIds();
    w.sandbox.data.disconnect(gone!);
    await sync(d);
    clock.advance(120_000);

    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    const text = await ready.text();
    expect(contract().problems(exchangeOfFetch('GET', `${server.url}/readyz`, ready, text))).toEqual([]); // as openapi/scim.yaml says
    const body = JSON.parse(text) as { status: string; tenants: { id: string; state: string; suspicion?: unknown }[] };
    expect(body.status).toBe('ready');
    expect(body.tenants.find((t) => t.id === gone)).toMatchObject({
      state: 'stale',
      suspicion: { reason: 'disconnected', since: expect.any(String), ageSeconds: 120, answers: 1, answersLeft: 2, awaitsOperator: false },
    });
    expect(body.tenants.filter((t) => t.suspicion)).toHaveLength(1);

    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^xero_scim_suspect_organisations\{reason="disconnected"\} 1$/m);
    expect(metrics).toMatch(/^xero_scim_suspect_organisations\{reason="suspect-disconnect"\} 0$/m);
    expect(metrics).toMatch(new RegExp(`^xero_scim_suspicion_age_seconds\\{tenant="${gone}",reason="disconnected"\\} 120$`, 'm'));
    expect(metrics).toMatch(/^xero_scim_suspicions_total\{reason="suspect-empty"\} 0$/m);

    const page = await (await fetch(`${server.url}/`, { headers: { authorization: 'Bearer guard-status-token-0123' } })).text();
    expect(page).toContain('Removals held back (1)');
    expect(page).toContain('node dist/cli.js confirm-disconnect &lt;tenantId&gt;');
    expect(page).toMatch(new RegExp(`<small>${gone}</small>: <span class="reason">disconnected</span> since <time[^>]*>2 min ago</time>, 1 answer; applies after 2 more answers`));
  });

  it('a directory with no organisation is never ready, even on a first sync that succeeded', async () => {
    w.sandbox.data.scriptFault({ path: 'connections', count: 1, kind: 'empty' });
    const d = directory();
    expect((await d.syncOnce()).outcome).toBe('ok');
    expect(d.current()!.organisations).toHaveLength(0);
    expect(d.status()).toMatchObject({ ready: false, reason: expect.stringContaining('no organisation') });
    await sync(d);
    expect(d.status()).toMatchObject({ ready: true });
  });
});
