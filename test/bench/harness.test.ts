/**
 * The benchmark's own pieces, at a tiny size: the Express floor and the SCIMMY reference must answer the same users
 * as xero-scim renders them, correctly, or their figures would mean nothing. No timing is asserted here.
 */
import { itemsOf } from '../../src/scim/resource-set';
import type { AddressInfo } from 'node:net';
import { createServer, type RequestListener, type Server } from 'node:http';
import type { Express } from 'express';
import { checkUserPage } from '../../bench/check';
import type { Corpus } from '../../bench/corpus';
import { expectedFrom } from '../../bench/dataset';
import { crawl, pathFor } from '../../bench/driver/driver-process';
import { sameRun, type BenchResults } from '../../bench/report';
import { createFloorApp } from '../../bench/servers/floor';
import { createHttpFloorHandler } from '../../bench/servers/http-floor';
import { createScimmyApp } from '../../bench/servers/scimmy';
import { validateServer } from '../../bench/validate';
import type { Organisation, TenantData } from '../../src/directory/model';
import { buildSnapshot } from '../../src/directory/snapshot';
import { generateData, type SandboxData } from '../../src/sandbox';
import { ViewCache } from '../../src/scim/views';

const TOKEN = 'harness-token-0123456789';
const PUBLIC_URL = 'https://scim.bench.invalid';

/** The sandbox's data as the sync would see it (a test-sized stand-in for the real sync the benchmark runs). */
function tenantsOf(data: SandboxData): TenantData[] {
  return data.organisations.map((org) => {
    const id = org.organisationId.toLowerCase();
    const organisation: Organisation = {
      id,
      name: org.name,
      edition: org.edition,
      createdAt: new Date(org.createdAt).toISOString(),
      connectionId: `connection-${id}`,
      tenantType: org.tenantType,
    };
    return {
      organisation,
      syncedAt: '2026-11-27T00:00:00.000Z',
      users: org.users.map((u) => ({
        organisationId: id,
        xeroUserId: u.userId.toLowerCase(),
        email: u.email,
        firstName: u.firstName,
        lastName: u.lastName,
        role: u.role,
        isSubscriber: u.isSubscriber,
        updatedAt: new Date(u.updatedAt).toISOString(),
      })),
    };
  });
}

const data = generateData({ seed: 3, organisations: 4, usersPerOrganisation: 9 });
const expected = expectedFrom(data);
const view = new ViewCache().viewOf(buildSnapshot(tenantsOf(data), '2026-11-27T00:00:00.000Z'), `${PUBLIC_URL}/scim/v2`)!;
const corpus: Corpus = {
  users: itemsOf(view.resources('User')).map((i) => i.bytes.toString('utf8')),
  groups: itemsOf(view.resources('Group')).map((i) => i.bytes.toString('utf8')),
};
const ids = corpus.users.map((t) => (JSON.parse(t) as { id: string }).id);
const samples = { ids, userNames: [...expected.users.keys()], startIndexes: [1, 2, ids.length - 3, ids.length] };

const servers: Server[] = [];
function listen(app: Express | RequestListener): Promise<string> {
  return new Promise((resolve) => {
    const server = createServer(app as RequestListener).listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`));
    servers.push(server);
  });
}
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('the reference servers answer the same users correctly', () => {
  it('has merged people across organisations in the tiny data set', () => {
    expect(expected.users.size).toBe(ids.length);
    expect(expected.memberships).toBeGreaterThan(expected.users.size);
  });

  it.each([
    ['the Express floor', () => createFloorApp({ corpus, tokens: [TOKEN] })],
    ['the node:http floor', () => createHttpFloorHandler({ corpus, tokens: [TOKEN] })],
    ['the SCIMMY reference', () => createScimmyApp({ corpus, tokens: [TOKEN], publicUrl: PUBLIC_URL })],
  ])('%s passes every check the benchmark makes before timing', async (_name, create) => {
    const base = await listen(create());
    const validation = await validateServer(`${base}/scim/v2`, TOKEN, expected, samples);
    expect(validation.errors).toEqual([]);
    const result = await crawl({ url: base, token: TOKEN, pageSize: 10, workers: 8, timeLimitMs: 20_000, expectedUsers: ids.length });
    expect(result).toMatchObject({ complete: true, usersListed: ids.length, usersFetched: ids.length, duplicates: 0, fetchFailures: 0 });
  });

  it('refuses the node:http floor without the bearer token as the Express floor does, and serves a group by id', async () => {
    const [http, express] = await Promise.all([listen(createHttpFloorHandler({ corpus, tokens: [TOKEN] })), listen(createFloorApp({ corpus, tokens: [TOKEN] }))]);
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`]) {
      const answers = await Promise.all(
        [http, express].map(async (base) => {
          const response = await fetch(`${base}/scim/v2/Users?count=1`, { headers: authorization ? { Authorization: authorization } : {} });
          return { status: response.status, challenge: response.headers.get('www-authenticate'), body: await response.text() };
        }),
      );
      expect(answers[0]!.status).toBe(401);
      expect(answers[0]).toEqual(answers[1]);
      expect(answers[0]!.body).not.toContain(TOKEN);
    }
    const groupId = (JSON.parse(corpus.groups[0]!) as { id: string }).id;
    const group = await fetch(`${http}/scim/v2/Groups/${groupId}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(await group.text()).toBe(corpus.groups[0]);
    const unknown = await fetch(`${http}/scim/v2/Groups/${groupId}-x`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(unknown.status).toBe(404);
  });

  it('pages SCIMMY correctly under Express 5 (its routers write req.query)', async () => {
    const base = await listen(createScimmyApp({ corpus, tokens: [TOKEN], publicUrl: PUBLIC_URL }));
    const response = await fetch(`${base}/scim/v2/Users?startIndex=3&count=2`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    const body = (await response.json()) as { startIndex: number; Resources: { id: string }[] };
    expect(body.startIndex).toBe(3);
    expect(body.Resources.map((r) => r.id)).toEqual(ids.slice(2, 4));
  });
});

describe('the checks catch wrong answers', () => {
  it('rejects a page with a wrong total and a user in the wrong organisations', () => {
    const user = JSON.parse(corpus.users[0]!) as Record<string, unknown>;
    const wrong = { ...user, groups: [] };
    const result = checkUserPage({ totalResults: ids.length + 1, startIndex: 1, itemsPerPage: 1, Resources: [wrong] }, expected, 1, 1, 'page');
    expect(result.errors).toEqual(expect.arrayContaining([expect.stringContaining('totalResults'), expect.stringContaining('groups')]));
  });

  it('builds only valid request paths', () => {
    const args = { ids: ['x-1'], userNames: ['a@b.c'], totalUsers: 5 };
    expect(pathFor('a', args)).toBe('/scim/v2/Users/x-1');
    expect(pathFor('b', args)).toMatch(/^\/scim\/v2\/Users\?startIndex=[1-5]&count=100$/);
    expect(decodeURIComponent(pathFor('c', args))).toBe('/scim/v2/Users?filter=userName eq "a@b.c"');
    expect(pathFor('d', args)).toBe('/scim/v2/Groups?excludedAttributes=members');
  });

  it('refuses to put figures of different runs side by side', () => {
    const run = (runId: string) => ({ runId }) as BenchResults;
    expect(sameRun([run('r1'), run('r1')]).runId).toBe('r1');
    expect(() => sameRun([run('r1'), run('r2')])).toThrow(/different runs/);
  });
});
