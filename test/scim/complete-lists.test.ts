import request from 'supertest';
import { createApp } from '../../src/http/app';
import type { ListQuery } from '../../src/scim/query/parameters';
import { COMPLETE_LIST_CACHE, CompleteLists } from '../../src/scim/query/complete-lists';
import { byIndex, joinedBody, listResources } from '../../src/scim/query/search';
import type { ResourceSet } from '../../src/scim/resource-set';
import { ViewCache } from '../../src/scim/views';
import { AUTH, BASE, PUBLIC_URL, TOKEN, fixedDirectory, generatedTenants, snapshotOf } from '../http/fixtures';

const query = (overrides: Partial<ListQuery> = {}): ListQuery => ({ sortOrder: 'ascending', startIndex: 1, count: 1000, ...overrides });

/** 300 people: their whole /Users list is a few hundred KiB, well above the size worth keeping. */
const tenants = generatedTenants(3, 300, 11);

describe('complete lists kept between requests', () => {
  it('answers a repeated complete list with the same bytes, and a new snapshot with the new data', async () => {
    const before = snapshotOf(tenants);
    // Someone is renamed in Xero: same people, same ids, same count; only the data differs.
    const after = snapshotOf(tenants.map((t) => ({ ...t, users: t.users.map((u) => (u.firstName === 'Given7' ? { ...u, firstName: 'Renamed' } : u)) })));
    const directory = fixedDirectory(before);
    const app = createApp({ directory, tokens: [TOKEN], publicUrl: PUBLIC_URL });
    const get = async () => {
      const res = await request(app).get('/scim/v2/Users').set(AUTH);
      expect(res.status).toBe(200);
      return res;
    };
    const first = await get();
    expect(first.text.length).toBeGreaterThan(COMPLETE_LIST_CACHE.minBytes);
    const second = await get();
    expect(second.text).toBe(first.text);
    expect(second.headers.etag).toBe(first.headers.etag);

    directory.set(after);
    const third = await get();
    expect(third.body.totalResults).toBe(before.people.length);
    expect(third.text).toContain('"givenName":"Renamed"');
    expect(third.text).not.toContain('"givenName":"Given7"');
    expect(third.headers.etag).not.toBe(first.headers.etag);
  });

  it('keeps apart answers that differ only in their query or their base URL', async () => {
    const snapshot = snapshotOf(tenants);
    const views = new ViewCache();
    const lists = new CompleteLists();
    const list = (set: ResourceSet, q: ListQuery) => joinedBody(listResources(set, q, byIndex(q), lists).body);
    const users = views.viewOf(snapshot, BASE)!.resources('User');
    const whole = list(users, query());
    const ids = list(users, query({ attributes: ['id'] }));
    expect(ids.equals(whole)).toBe(false);
    expect(JSON.parse(ids.toString()).Resources[0]).toEqual({ id: snapshot.people.at(0).id, schemas: expect.any(Array) });
    const otherHost = views.viewOf(snapshot, 'https://other.example.test/scim/v2')!.resources('User');
    expect(list(otherHost, query()).toString()).toContain('https://other.example.test/scim/v2/Users/');
    expect(list(users, query()).toString()).not.toContain('https://other.example.test');
  });

  it('keeps neither pages of a longer list nor small answers', () => {
    const users = new ViewCache().viewOf(snapshotOf(tenants), BASE)!.resources('User');
    const lists = new CompleteLists();
    const list = (q: ListQuery) => listResources(users, q, byIndex(q), lists);
    list(query({ count: 200 })); // a first page with more to come: a crawl reads it once
    list(query({ filter: `userName eq "user7@example.com"` })); // complete, but a few hundred bytes
    expect(lists.bytes).toBe(0);
    list(query());
    expect(lists.bytes).toBeGreaterThan(COMPLETE_LIST_CACHE.minBytes);
  });

  it(`never holds more than ${COMPLETE_LIST_CACHE.maxBytes / 2 ** 20} MiB, whatever lists are asked for`, () => {
    const users = new ViewCache().viewOf(snapshotOf(tenants), BASE)!.resources('User');
    const lists = new CompleteLists();
    const list = (q: ListQuery) => listResources(users, q, byIndex(q), lists);
    const size = joinedBody(list(query({ filter: 'userName ne "nobody-0"' })).body).length;
    const distinct = Math.ceil((COMPLETE_LIST_CACHE.maxBytes / size) * 1.5);
    for (let i = 1; i <= distinct; i++) {
      list(query({ filter: `userName ne "nobody-${i}"` }));
      expect(lists.bytes).toBeLessThanOrEqual(COMPLETE_LIST_CACHE.maxBytes);
    }
    expect(lists.bytes).toBeGreaterThan(COMPLETE_LIST_CACHE.maxBytes - size);
  });
});
