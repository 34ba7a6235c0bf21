import request from 'supertest';
import { createApp } from '../../src/http/app';
import type { TenantData } from '../../src/directory/model';
import { AUTH, PUBLIC_URL, TOKEN, fixedDirectory, generatedTenants, snapshotOf } from './fixtures';

/** The same directory with every third user of the first organisation removed and one user added. */
function changed(tenants: readonly TenantData[]): TenantData[] {
  return tenants.map((t, i) =>
    i === 0
      ? {
          ...t,
          users: [
            ...t.users.filter((_, k) => k % 3 !== 0),
            { ...t.users[0]!, xeroUserId: 'ffffffff-0000-4000-8000-000000000000', email: 'newcomer@example.com' },
          ],
        }
      : t,
  );
}

describe('RFC 7644 §3.4.2.4 paging across a snapshot swap', () => {
  const before = generatedTenants(2, 120, 5);
  const after = changed(before);
  const snapshotBefore = snapshotOf(before);
  const snapshotAfter = snapshotOf(after);
  const idsOf = (s: typeof snapshotBefore) => [...s.people].map((p) => p.id);

  function setup() {
    let now = 1_000_000;
    const clock = { now: () => now };
    const directory = fixedDirectory(snapshotBefore);
    const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL, clock, crawlPinSeconds: 60 });
    return { app, directory, advance: (ms: number) => (now += ms) };
  }

  async function page(app: ReturnType<typeof createApp>, startIndex: number) {
    const res = await request(app).get(`/scim/v2/Users?count=25&startIndex=${startIndex}&attributes=id`).set(AUTH);
    expect(res.status).toBe(200);
    return res.body as { totalResults: number; itemsPerPage: number; Resources: { id: string }[] };
  }

  it('a crawl that began before the swap sees exactly the snapshot it began with', async () => {
    const { app, directory } = setup();
    const seen: string[] = [];
    let startIndex = 1;
    let total = Infinity;
    while (startIndex <= total) {
      const body = await page(app, startIndex);
      total = body.totalResults;
      seen.push(...body.Resources.map((r) => r.id));
      startIndex += body.itemsPerPage;
      if (startIndex > 26) directory.set(snapshotAfter); // the swap happens after the first page
    }
    expect(seen).toEqual(idsOf(snapshotBefore));
  });

  it('a new crawl sees the new snapshot', async () => {
    const { app, directory } = setup();
    await page(app, 1);
    directory.set(snapshotAfter);
    const body = await page(app, 1);
    expect(body.totalResults).toBe(snapshotAfter.people.length);
  });

  it('a pin expires when the crawl stops for longer than the pin time', async () => {
    const { app, directory, advance } = setup();
    await page(app, 1);
    directory.set(snapshotAfter);
    advance(61_000);
    const body = await page(app, 26);
    expect(body.totalResults).toBe(snapshotAfter.people.length);
  });

  it('pins per client: another token’s later page reads the current snapshot', async () => {
    const directory = fixedDirectory(snapshotBefore);
    const app = createApp({ directory, tokens: [TOKEN, 'second-token'], publicUrl: PUBLIC_URL });
    await request(app).get('/scim/v2/Users?count=25&attributes=id').set(AUTH);
    directory.set(snapshotAfter);
    const other = await request(app).get('/scim/v2/Users?count=25&startIndex=26&attributes=id').set('Authorization', 'Bearer second-token');
    expect(other.body.totalResults).toBe(snapshotAfter.people.length);
    const same = await request(app).get('/scim/v2/Users?count=25&startIndex=26&attributes=id').set(AUTH);
    expect(same.body.totalResults).toBe(snapshotBefore.people.length);
  });

  it('a first page of the same query at another page size (Okta’s and Entra’s count=1 checks) leaves a crawl on its snapshot', async () => {
    // Regression: the pin was keyed without `count`, so a same-token `count=1` check re-pinned the crawl to the newest
    // snapshot and its later pages shifted (a load test saw totalResults change in 12 crawls of 12).
    const { app, directory } = setup();
    const seen: string[] = [];
    const totals = new Set<number>();
    let startIndex = 1;
    let total = Infinity;
    while (startIndex <= total) {
      const body = await page(app, startIndex);
      total = body.totalResults;
      totals.add(total);
      seen.push(...body.Resources.map((r) => r.id));
      startIndex += body.itemsPerPage;
      directory.set(snapshotAfter); // the swap happens after the first page
      // The crawl's own query at other sizes, then other queries of the same list.
      for (const check of ['count=1&attributes=id', 'count=1&startIndex=1&attributes=id', 'count=100&attributes=id', 'count=25', 'count=25&filter=active%20eq%20true']) {
        expect((await request(app).get(`/scim/v2/Users?${check}`).set(AUTH)).status).toBe(200);
      }
    }
    expect([...totals]).toEqual([snapshotBefore.people.length]);
    expect(seen).toEqual(idsOf(snapshotBefore));
  });

  it('a first page of the same query and page size with the same credentials starts the crawl afresh', async () => {
    // What index paging cannot do: an offset tells a second crawl of the same list from a restart of the first by
    // nothing. Both take the newest snapshot; cursor paging (RFC 9865) keeps each crawl on its own.
    const { app, directory } = setup();
    await page(app, 1);
    directory.set(snapshotAfter);
    await page(app, 1);
    expect((await page(app, 26)).totalResults).toBe(snapshotAfter.people.length);
  });

  it('lookups polled during a crawl do not push its pin out (only lists with a next page are pinned)', async () => {
    const { app, directory } = setup();
    await page(app, 1);
    directory.set(snapshotAfter);
    // More distinct lookups than pins are kept (256): each fits in one page, so none needs a pin.
    const people = snapshotAfter.people;
    for (let i = 0; i < 300; i++) {
      const userName = i < people.length ? people.at(i).userName : `absent-${i}@example.com`;
      const res = await request(app).get(`/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}&count=25`).set(AUTH);
      expect(res.body.totalResults).toBe(i < people.length ? 1 : 0);
    }
    const body = await page(app, 26);
    expect(body.totalResults).toBe(snapshotBefore.people.length);
  });
});
