import { buildSnapshot } from '../../src/directory/snapshot';
import { lookupEq } from '../../src/scim/query/plan';
import { itemsOf } from '../../src/scim/resource-set';
import { ViewCache } from '../../src/scim/views';
import { BASE, BETA, TENANTS, snapshotOf } from '../http/fixtures';

describe('rendering once per snapshot', () => {
  it('reuses the rendered resource sets of a snapshot, and renders a new snapshot afresh', () => {
    const views = new ViewCache();
    const snapshot = snapshotOf();
    const users = views.viewOf(snapshot, BASE)!.resources('User');
    expect(views.viewOf(snapshot, BASE)!.resources('User')).toBe(users);
    expect(views.viewOf(snapshotOf(), BASE)!.resources('User')).not.toBe(users);
  });

  it("builds ahead, in a new snapshot's global view, the indexes lookups needed at the same root, and only those", async () => {
    const views = new ViewCache();
    const turns = async (n: number) => {
      for (let k = 0; k < n; k++) await new Promise<void>((resolve) => setImmediate(resolve));
    };
    const first = views.viewOf(snapshotOf(), BASE)!.resources('User');
    expect(lookupEq(first, 'userName', 'nobody@example.com')).toEqual([]);
    expect(first.indexes.built()).toEqual(['username']);
    views.viewOf(snapshotOf(), BASE, BETA)!.resources('User').indexes.get('displayname'); // a tenant view's: not recorded

    const next = views.viewOf(snapshotOf(), BASE)!.resources('User');
    expect(next).not.toBe(first);
    expect(next.indexes.built()).toEqual([]); // not while the request that made the view runs
    await turns(3);
    expect(next.indexes.built()).toEqual(['username']);
    expect(views.viewOf(snapshotOf(), BASE)!.resources('Group').indexes.built()).toEqual([]);

    const elsewhere = views.viewOf(snapshotOf(), `${BASE}/elsewhere`)!.resources('User');
    await turns(3);
    expect(elsewhere.indexes.built()).toEqual([]);

    // A snapshot older than one already served (a crawl's page on a snapshot another replica pinned) builds nothing
    // ahead; its own lookups build what they need.
    const older = views.viewOf(buildSnapshot(TENANTS, '2026-10-01T00:00:00Z'), BASE)!.resources('User');
    await turns(3);
    expect(older.indexes.built()).toEqual([]);
    expect(lookupEq(older, 'userName', 'nobody@example.com')).toEqual([]);
    expect(older.indexes.built()).toEqual(['username']);
  });

  it('keeps the renderings of two caches apart', () => {
    const snapshot = snapshotOf();
    const users = new ViewCache().viewOf(snapshot, BASE)!.resources('User');
    const other = new ViewCache().viewOf(snapshot, BASE)!.resources('User');
    expect(other).not.toBe(users);
    expect(other.version).toBe(users.version);
  });

  it('keeps ETags of unchanged resources across snapshots with the same content', () => {
    const views = new ViewCache();
    const a = views.viewOf(snapshotOf(), BASE)!.resources('Group');
    const b = views.viewOf(snapshotOf(), BASE)!.resources('Group');
    expect(itemsOf(b).map((i) => i.etag)).toEqual(itemsOf(a).map((i) => i.etag));
    expect(b.version).toBe(a.version);
  });

  it('finds a tenant case-insensitively and refuses an unknown one', () => {
    const views = new ViewCache();
    const snapshot = snapshotOf();
    expect(views.viewOf(snapshot, BASE, BETA.toUpperCase())!.tenant!.id).toBe(BETA);
    expect(views.viewOf(snapshot, BASE, 'nope')).toBeUndefined();
  });

  it('serialises each resource with meta last and meta.version equal to its ETag', () => {
    for (const item of itemsOf(new ViewCache().viewOf(snapshotOf(), BASE)!.resources('User'))) {
      const parsed = JSON.parse(item.bytes.toString('utf8'));
      expect(Object.keys(parsed).at(-1)).toBe('meta');
      expect(parsed.meta.version).toBe(item.etag);
      expect(parsed).toEqual(item.resource);
    }
  });

  it('sends a group without members as the whole group less its members, with the same ETag', () => {
    for (const item of itemsOf(new ViewCache().viewOf(snapshotOf(), BASE)!.resources('Group'))) {
      const whole = JSON.parse(item.bytes.toString('utf8'));
      const { members: _members, ...rest } = whole;
      expect(JSON.parse(item.bytesWithoutMembers!.toString('utf8'))).toEqual(rest);
      expect(whole.meta.version).toBe(item.etag);
      expect(whole.members.length).toBeGreaterThan(0);
    }
  });

  it("changes a group's ETag when a member joins, leaves or changes name, and only that group's", () => {
    const etags = (tenants = TENANTS) => itemsOf(new ViewCache().viewOf(snapshotOf(tenants), BASE)!.resources('Group')).map((i) => i.etag);
    const before = etags();
    const renamed = TENANTS.map((t, i) => (i === 0 ? { ...t, users: t.users.map((u, k) => (k === 1 ? { ...u, firstName: 'Robert' } : u)) } : t));
    const left = TENANTS.map((t, i) => (i === 0 ? { ...t, users: t.users.slice(0, 1) } : t));
    for (const changed of [etags(renamed), etags(left)]) {
      expect(changed[0]).not.toBe(before[0]);
      expect(changed[1]).toBe(before[1]);
    }
    expect(etags()).toEqual(before);
  });

  it('keeps serialised resources within the cache budget, and serves the same bytes once they are evicted', () => {
    const views = new ViewCache(4096);
    const users = views.viewOf(snapshotOf(), BASE)!.resources('User');
    const first = itemsOf(users).map((i) => i.bytes.toString('utf8'));
    expect(views.renderCache.bytes).toBeLessThanOrEqual(4096);
    for (let round = 0; round < 3; round++) expect(itemsOf(users).map((i) => i.bytes.toString('utf8'))).toEqual(first);
    const tiny = new ViewCache(1);
    const again = tiny.viewOf(snapshotOf(), BASE)!.resources('User');
    expect(itemsOf(again).map((i) => i.bytes.toString('utf8'))).toEqual(first);
    expect(tiny.renderCache.size).toBe(0);
  });
});

