/**
 * RFC 9865 cursor paging: the RFC's own examples, its errors, what a cursor may and may not reveal, exactness across
 * snapshot swaps, and a crawl the way a baton-sdk connector (ConductorOne's baton-scim) runs one. Every answer is
 * also held to openapi/scim.yaml.
 */
import fc from 'fast-check';
import request from 'supertest';
import type express from 'express';
import type { DirectorySnapshot, TenantData, XeroUserRecord } from '../../src/directory/model';
import { createApp } from '../../src/http/app';
import { SEARCH_REQUEST_SCHEMA } from '../../src/scim/schemas';
import { expectContract } from '../support/openapi';
import { AUTH, PUBLIC_URL, TOKEN, appFor, fixedDirectory, generatedTenants, snapshotOf } from './fixtures';

const LIST = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** RFC 9865 §2: a cursor holds only RFC 3986 §2.3 unreserved characters. */
const UNRESERVED = /^[A-Za-z0-9._~-]+$/;

interface Page {
  totalResults: number;
  itemsPerPage: number;
  startIndex?: number;
  nextCursor?: string;
  previousCursor?: string;
  Resources: { id: string; schemas: string[]; userName?: string }[];
  /** When the answer is an error instead. */
  scimType?: string;
}

const ORG = '33333333-3333-4333-8333-333333333333';

/**
 * One organisation whose 150 people are 100 whose userName starts with "j" (the RFC's example: "the first 10 Users
 * with userName starting with J", 100 in all) and 50 with "k". The first 100 are also called Smith.
 */
function rfcExampleTenants(): TenantData[] {
  const users: XeroUserRecord[] = Array.from({ length: 150 }, (_, n) => ({
    organisationId: ORG,
    xeroUserId: `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`,
    email: `${n < 100 ? 'j' : 'k'}${n}@example.com`,
    firstName: n < 100 ? 'Smith' : 'Kay',
    lastName: `No${n}`,
    role: 'STANDARD',
    isSubscriber: n === 0,
    updatedAt: '2025-01-01T00:00:00Z',
  }));
  return [
    {
      organisation: { id: ORG, name: 'Example Ltd', edition: 'BUSINESS', createdAt: '2020-01-01T00:00:00Z', connectionId: 'conn-3333', tenantType: 'ORGANISATION' },
      users,
      syncedAt: '2025-01-01T00:00:00Z',
    },
  ];
}

async function get(app: express.Express, url: string, status = 200, token = TOKEN): Promise<Page> {
  const res = expectContract(await request(app).get(url).set('Authorization', `Bearer ${token}`));
  expect(`${res.status} ${url}`).toBe(`${status} ${url}`);
  return res.body as Page;
}

async function search(app: express.Express, path: string, body: Record<string, unknown>, status = 200): Promise<Page> {
  const res = expectContract(await request(app).post(path).set(AUTH).send({ schemas: [SEARCH_REQUEST_SCHEMA], ...body }));
  expect(res.status).toBe(status);
  return res.body as Page;
}

/** Every page of a cursor crawl of `url` (which must end in `cursor=`), with `between` run after each page. */
async function crawl(app: express.Express, url: string, between: () => void = () => {}): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let cursor = '';
  do {
    const page = await get(app, `${url}${cursor}`);
    ids.push(...page.Resources.map((r) => r.id));
    totals.push(page.totalResults);
    cursor = page.nextCursor ?? '';
    between();
  } while (cursor !== '');
  return { ids, totals };
}

const J = `filter=${encodeURIComponent('userName sw "J"')}`;

describe('RFC 9865 §2: a list paged by cursor', () => {
  const app = appFor(snapshotOf(rfcExampleTenants()));

  it('answers the empty cursor of the RFC’s example with the first 10 of 100, a nextCursor, and neither previousCursor nor startIndex', async () => {
    const page = await get(app, `/scim/v2/Users?${J}&cursor&count=10`);
    expect({ ...page, Resources: page.Resources.length }).toEqual({ schemas: [LIST], totalResults: 100, itemsPerPage: 10, nextCursor: expect.stringMatching(UNRESERVED), Resources: 10 });
    expect(page.Resources.every((u) => u.userName!.startsWith('j'))).toBe(true);
  });

  it('follows nextCursor, with the other parameters unchanged, to the next page, which has both cursors', async () => {
    const first = await get(app, `/scim/v2/Users?${J}&cursor=&count=10`);
    const second = await get(app, `/scim/v2/Users?${J}&cursor=${first.nextCursor}&count=10`);
    expect({ ...second, Resources: second.Resources.length }).toEqual({
      schemas: [LIST],
      totalResults: 100,
      itemsPerPage: 10,
      previousCursor: expect.stringMatching(UNRESERVED),
      nextCursor: expect.stringMatching(UNRESERVED),
      Resources: 10,
    });
    const back = await get(app, `/scim/v2/Users?${J}&cursor=${second.previousCursor}&count=10`);
    expect(back.Resources).toEqual(first.Resources);
    expect(back.previousCursor).toBeUndefined(); // RFC 9865 §2: never with the first page
  });

  it('crawls every match exactly once, in the order index paging gives, and ends on a page without nextCursor', async () => {
    const { ids, totals } = await crawl(app, `/scim/v2/Users?${J}&count=7&cursor=`);
    const indexed = (await get(app, `/scim/v2/Users?${J}&count=100`)).Resources.map((r) => r.id);
    expect(ids).toEqual(indexed);
    expect(new Set(totals)).toEqual(new Set([100]));
  });

  it('sorts cursor pages as sortBy asks (RFC 9865 §2.3)', async () => {
    const sorted = `sortBy=userName&sortOrder=descending`;
    const { ids } = await crawl(app, `/scim/v2/Users?${sorted}&count=40&cursor=`);
    expect(ids).toEqual((await get(app, `/scim/v2/Users?${sorted}&count=150`)).Resources.map((r) => r.id));
  });

  it('answers count=0 with totalResults only and no cursor, and a list that fits in one page with no cursor', async () => {
    expect(await get(app, `/scim/v2/Users?${J}&cursor&count=0`)).toEqual({ schemas: [LIST], totalResults: 100, itemsPerPage: 0, Resources: [] });
    const one = await get(app, `/scim/v2/Users?filter=${encodeURIComponent('userName eq "j7@example.com"')}&cursor`);
    expect({ ...one, Resources: one.Resources.length }).toEqual({ schemas: [LIST], totalResults: 1, itemsPerPage: 1, Resources: 1 });
  });

  it('keeps index paging exactly as it was, and the default, when no cursor is sent (RFC 9865 §2.5)', async () => {
    const page = await get(app, `/scim/v2/Users?${J}&count=10`);
    expect({ ...page, Resources: page.Resources.length }).toEqual({ schemas: [LIST], totalResults: 100, itemsPerPage: 10, startIndex: 1, Resources: 10 });
  });
});

describe('RFC 9865 §3: cursor paging with POST .search', () => {
  const app = appFor(snapshotOf(rfcExampleTenants()));

  it('takes the RFC’s SearchRequest ("cursor": "", "count": 10) and pages on with nextCursor', async () => {
    const request = { attributes: ['displayName', 'userName'], filter: 'displayName sw "smith"', cursor: '', count: 10 };
    const first = await search(app, '/scim/v2/Users/.search', request);
    expect({ ...first, Resources: first.Resources.length }).toEqual({ schemas: [LIST], totalResults: 100, itemsPerPage: 10, nextCursor: expect.stringMatching(UNRESERVED), Resources: 10 });
    const seen = first.Resources.map((r) => r.id);
    for (let cursor = first.nextCursor; cursor !== undefined; ) {
      const page = await search(app, '/scim/v2/Users/.search', { ...request, cursor });
      seen.push(...page.Resources.map((r) => r.id));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual((await get(app, `/scim/v2/Users?${J}&count=100`)).Resources.map((r) => r.id));
  });

  it('pages a root search across resource types, and a tenant view, by cursor', async () => {
    const total = (await search(app, '/scim/v2/.search', { count: 0 })).totalResults;
    const seen: string[] = [];
    for (let cursor: string | undefined = ''; cursor !== undefined; ) {
      const page: Page = await search(app, '/scim/v2/.search', { attributes: ['id'], count: 33, cursor });
      seen.push(...page.Resources.map((r) => `${r.schemas[0]} ${r.id}`));
      cursor = page.nextCursor;
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
    const { ids } = await crawl(app, `/scim/v2/tenants/${ORG}/Users?count=40&attributes=id&cursor=`);
    expect(ids).toEqual((await get(app, `/scim/v2/tenants/${ORG}/Users?count=150&attributes=id`)).Resources.map((r) => r.id));
  });
});

describe('RFC 9865 §2.1 pagination errors', () => {
  const app = appFor(snapshotOf(rfcExampleTenants()));
  let cursor: string;
  beforeAll(async () => {
    cursor = (await get(app, `/scim/v2/Users?${J}&count=10&cursor`)).nextCursor!;
  });
  const edited = (text: string) => `${text.slice(0, 20)}${text[20] === 'A' ? 'B' : 'A'}${text.slice(21)}`;

  it.each<[string, string, () => string]>([
    ['an edited cursor', 'invalidCursor', () => `/scim/v2/Users?${J}&count=10&cursor=${edited(cursor)}`],
    ['a truncated cursor', 'invalidCursor', () => `/scim/v2/Users?${J}&count=10&cursor=${cursor.slice(0, -1)}`],
    ['a made-up cursor', 'invalidCursor', () => `/scim/v2/Users?${J}&count=10&cursor=VZUTiyhEQJ94IR`],
    ['a cursor with characters outside RFC 3986’s unreserved set', 'invalidCursor', () => `/scim/v2/Users?${J}&count=10&cursor=${encodeURIComponent(`${cursor}/`)}`],
    ['a cursor of another endpoint', 'invalidCursor', () => `/scim/v2/Roles?${J}&count=10&cursor=${cursor}`],
    ['a cursor of another filter', 'invalidCursor', () => `/scim/v2/Users?filter=${encodeURIComponent('userName sw "K"')}&count=10&cursor=${cursor}`],
    ['a cursor of another order', 'invalidCursor', () => `/scim/v2/Users?${J}&sortBy=userName&count=10&cursor=${cursor}`],
    ['a cursor of another view', 'invalidCursor', () => `/scim/v2/tenants/${ORG}/Users?${J}&count=10&cursor=${cursor}`],
    ['a cursor sent with another count', 'invalidCount', () => `/scim/v2/Users?${J}&count=20&cursor=${cursor}`],
    ['a cursor sent without the first page’s count', 'invalidCount', () => `/scim/v2/Users?${J}&cursor=${cursor}`],
    ['a count that is not a number', 'invalidCount', () => `/scim/v2/Users?${J}&count=ten&cursor`],
    ['startIndex and cursor together', 'invalidValue', () => `/scim/v2/Users?${J}&count=10&startIndex=11&cursor=${cursor}`],
  ])('answers %s with 400 %s', async (_name, scimType, url) => {
    const body = await get(app, url(), 400);
    expect(body).toEqual({ schemas: [ERROR], status: '400', scimType, detail: expect.any(String) });
  });

  it('answers a SearchRequest whose cursor is not a string with 400 invalidCursor', async () => {
    const body = await search(app, '/scim/v2/Users/.search', { cursor: 17, count: 10 }, 400);
    expect(body).toMatchObject({ status: '400', scimType: 'invalidCursor' });
  });

  describe('expiredCursor (RFC 9865 §4 cursorTimeout)', () => {
    const before = snapshotOf(generatedTenants(2, 60, 8));
    const after = snapshotOf(generatedTenants(2, 61, 8));
    const setup = () => {
      let now = 1_000_000;
      const directory = fixedDirectory(before);
      const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL, clock: { now: () => now }, cursorTimeoutSeconds: 60 });
      return { app, directory, advance: (ms: number) => (now += ms) };
    };

    it('serves a swapped-out snapshot for cursorTimeout after each page read from it, then answers expiredCursor', async () => {
      const { app, directory, advance } = setup();
      const first = await get(app, '/scim/v2/Users?count=10&cursor');
      directory.set(after);
      advance(59_000);
      const second = await get(app, `/scim/v2/Users?count=10&cursor=${first.nextCursor}`);
      expect(second.totalResults).toBe(before.people.length);
      advance(59_000); // within cursorTimeout of the second page, though not of the first
      expect((await get(app, `/scim/v2/Users?count=10&cursor=${second.nextCursor}`)).totalResults).toBe(before.people.length);
      advance(61_000);
      const expired = await get(app, `/scim/v2/Users?count=10&cursor=${second.nextCursor}`, 400);
      expect(expired).toEqual({ schemas: [ERROR], status: '400', scimType: 'expiredCursor', detail: expect.stringContaining('Start again with an empty cursor') });
    });

    it('keeps honouring a cursor into the current snapshot, however old', async () => {
      const { app, advance } = setup();
      const first = await get(app, '/scim/v2/Users?count=10&cursor');
      advance(3_600_000);
      expect((await get(app, `/scim/v2/Users?count=10&cursor=${first.nextCursor}`)).Resources).toHaveLength(10);
    });

    it('keeps at most four snapshots for cursors: a crawl begun on an older one restarts', async () => {
      const { app, directory } = setup();
      const snapshots = [before, ...Array.from({ length: 5 }, (_, i) => snapshotOf(generatedTenants(2, 62 + i, 8)))];
      const cursors: string[] = [];
      for (const snapshot of snapshots) {
        directory.set(snapshot);
        cursors.push((await get(app, '/scim/v2/Users?count=10&cursor')).nextCursor!);
      }
      directory.set(after);
      expect((await get(app, `/scim/v2/Users?count=10&cursor=${cursors[0]}`, 400)).scimType).toBe('expiredCursor');
      expect((await get(app, `/scim/v2/Users?count=10&cursor=${cursors[1]}`, 400)).scimType).toBe('expiredCursor');
      for (const cursor of cursors.slice(2)) expect((await get(app, `/scim/v2/Users?count=10&cursor=${cursor}`)).Resources).toHaveLength(10);
    });
  });
});

describe('a cursor is opaque, tamper-evident, and carries no credentials', () => {
  const snapshot = snapshotOf(rfcExampleTenants());
  const SECRET = 'replicas-share-this-cursor-secret';
  const other = 'the-other-bearer-token-of-this-server';
  const replica = (secret = SECRET, at: DirectorySnapshot = snapshot) =>
    createApp({ directory: fixedDirectory(at), tokens: [TOKEN, other], publicUrl: PUBLIC_URL, cursorSecret: secret });

  it('refuses any edit with 400 invalidCursor: never another page, someone else’s data or a 500', async () => {
    const app = replica();
    const second = await get(app, `/scim/v2/Users?${J}&count=10&cursor=${(await get(app, `/scim/v2/Users?${J}&count=10&cursor`)).nextCursor}`);
    const cursor = second.nextCursor!;
    const alphabet = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'];
    const edit = fc.oneof(
      fc.tuple(fc.nat(cursor.length - 1), fc.constantFrom(...alphabet)).map(([at, c]) => cursor.slice(0, at) + c + cursor.slice(at + 1)),
      fc.tuple(fc.nat(cursor.length), fc.constantFrom(...alphabet)).map(([at, c]) => cursor.slice(0, at) + c + cursor.slice(at)),
      fc.nat(cursor.length - 1).map((at) => cursor.slice(0, at) + cursor.slice(at + 1)),
    );
    await fc.assert(
      fc.asyncProperty(
        edit.filter((e) => e !== cursor),
        async (forged) => {
          const res = await request(app).get(`/scim/v2/Users?${J}&count=10&cursor=${forged}`).set(AUTH);
          expect({ status: res.status, scimType: res.body.scimType }).toEqual({ status: 400, scimType: 'invalidCursor' });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('refuses a payload re-encoded by hand (the offset moved) without the secret', async () => {
    const app = replica();
    const cursor = (await get(app, `/scim/v2/Users?${J}&count=10&cursor`)).nextCursor!;
    const [payload, signature] = cursor.split('.') as [string, string];
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString()) as unknown[];
    fields[2] = 50;
    const forged = `${Buffer.from(JSON.stringify(fields)).toString('base64url')}.${signature}`;
    expect((await get(app, `/scim/v2/Users?${J}&count=10&cursor=${forged}`, 400)).scimType).toBe('invalidCursor');
  });

  it('is the same whichever token asked for it, and holds no part of the token', async () => {
    const app = replica();
    const mine = (await get(app, `/scim/v2/Users?${J}&count=10&cursor`)).nextCursor!;
    const theirs = (await get(app, `/scim/v2/Users?${J}&count=10&cursor`, 200, other)).nextCursor!;
    expect(theirs).toBe(mine);
    const [payload] = mine.split('.') as [string];
    for (const text of [mine, Buffer.from(payload, 'base64url').toString('latin1')]) {
      for (const token of [TOKEN, other]) expect(text).not.toContain(token.slice(0, 8));
    }
  });

  it('verifies on another replica configured with the same secret, and on no other', async () => {
    const first = await get(replica(), `/scim/v2/Users?${J}&count=10&cursor`);
    const onB = await get(replica(), `/scim/v2/Users?${J}&count=10&cursor=${first.nextCursor}`);
    const onA = await get(replica(), `/scim/v2/Users?${J}&count=100`);
    expect(onB.Resources).toEqual(onA.Resources.slice(10, 20));
    expect((await get(replica('a-different-secret-altogether'), `/scim/v2/Users?${J}&count=10&cursor=${first.nextCursor}`, 400)).scimType).toBe('invalidCursor');
    // A replica that never held the cursor's snapshot cannot serve it exactly: the crawl restarts.
    const elsewhere = replica(SECRET, snapshotOf(generatedTenants(1, 10, 2)));
    expect((await get(elsewhere, `/scim/v2/Users?${J}&count=10&cursor=${first.nextCursor}`, 400)).scimType).toBe('expiredCursor');
  });
});

describe('cursor crawls are exact across snapshot swaps, with no pin', () => {
  const tenants = generatedTenants(2, 120, 5);
  const snapshots = [0, 1, 2, 3].map((k) =>
    // Each one drops a different few people and adds one: ids shift both ways under an offset.
    snapshotOf(tenants.map((t, i) => (i === 0 ? { ...t, users: [...t.users.filter((_, n) => n % 4 !== k), { ...t.users[0]!, xeroUserId: `ffffffff-0000-4000-8000-00000000000${k}`, email: `newcomer${k}@example.com` }] } : t))),
  );
  const idsOf = (s: DirectorySnapshot) => [...s.people].map((p) => p.id);

  it('sees exactly the snapshot of its first page, whatever is published between its pages', async () => {
    const directory = fixedDirectory(snapshots[0]);
    const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL, crawlPinSeconds: 0 });
    let swaps = 0;
    const { ids, totals } = await crawl(app, '/scim/v2/Users?count=25&attributes=id&cursor=', () => directory.set(snapshots[++swaps % 4]));
    expect(swaps).toBeGreaterThan(3);
    expect(ids).toEqual(idsOf(snapshots[0]!));
    expect(new Set(totals).size).toBe(1);
  });

  it('two overlapping crawls with the same token and query each see exactly the snapshot they started on', async () => {
    // What index paging cannot promise (crawl.test.ts): here nothing but the cursor tells the two crawls apart.
    const directory = fixedDirectory(snapshots[0]);
    const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL });
    const url = '/scim/v2/Users?count=25&attributes=id&cursor=';
    const a = await get(app, url);
    directory.set(snapshots[1]);
    const b = await get(app, url);
    const seen = { a: a.Resources.map((r) => r.id), b: b.Resources.map((r) => r.id) };
    let cursors = { a: a.nextCursor, b: b.nextCursor };
    for (let step = 2; cursors.a !== undefined || cursors.b !== undefined; step++) {
      directory.set(snapshots[step % 4]);
      for (const crawler of ['b', 'a'] as const) {
        if (cursors[crawler] === undefined) continue;
        const page = await get(app, `${url}${cursors[crawler]}`);
        seen[crawler].push(...page.Resources.map((r) => r.id));
        cursors = { ...cursors, [crawler]: page.nextCursor };
      }
    }
    expect(seen).toEqual({ a: idsOf(snapshots[0]!), b: idsOf(snapshots[1]!) });
  });
});

describe('a baton-scim-style connector paging by cursor', () => {
  /**
   * baton-sdk connectors page with an opaque page token that the SDK stores between calls: `List(ctx, token)` returns
   * one page and the next token, "" when done, and the SDK may run other calls (and a sync may swap snapshots) in
   * between. baton-scim's own requests (`apiEndpoint` + "Users", Accept application/scim+json, the JSON Content-Type
   * it sends on every GET) carry the token as the cursor, and it reads the numbers as its MapPagination does.
   */
  async function listPage(app: express.Express, collection: 'Users' | 'Groups', token: string): Promise<{ resources: Page['Resources']; next: string }> {
    const url = `/scim/v2/${collection}?count=100&cursor=${encodeURIComponent(token)}`;
    const res = expectContract(await request(app).get(url).set(AUTH).set('Accept', 'application/scim+json').set('Content-Type', 'application/json'));
    expect(res.status).toBe(200);
    const page = res.body as Page;
    for (const n of [page.totalResults, page.itemsPerPage]) expect(typeof n).toBe('number');
    expect(page.itemsPerPage).toBe(page.Resources.length);
    return { resources: page.Resources, next: page.nextCursor ?? '' };
  }

  it('lists every user and group of the snapshot it began on, while syncs swap snapshots and checks interleave', async () => {
    const tenants = generatedTenants(3, 260, 12);
    const first = snapshotOf(tenants);
    const later = snapshotOf(tenants.map((t) => ({ ...t, users: t.users.filter((_, n) => n % 5 !== 2) })));
    const directory = fixedDirectory(first);
    const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL });
    const sync = async (collection: 'Users' | 'Groups') => {
      const resources: Page['Resources'] = [];
      let token = '';
      let pages = 0;
      do {
        const page = await listPage(app, collection, token);
        resources.push(...page.resources);
        token = page.next;
        pages++;
        directory.set(pages % 2 ? later : first); // a sync lands between two calls
        await request(app).get(`/scim/v2/${collection}?count=1`).set(AUTH); // and someone checks the connection
      } while (token !== '');
      return { ids: resources.map((r) => r.id), pages };
    };
    const users = await sync('Users');
    expect(users.pages).toBeGreaterThan(2);
    expect(users.ids).toEqual([...first.people].map((p) => p.id));
    directory.set(first);
    expect((await sync('Groups')).ids).toEqual(first.organisations.map((o) => o.id));
  });
});
