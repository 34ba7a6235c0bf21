import { ViewCache } from '../../src/scim/views';
import { BASE, BETA, snapshotOf } from '../http/fixtures';

describe('rendering once per snapshot', () => {
  it('reuses the rendered resource sets of a snapshot, and renders a new snapshot afresh', () => {
    const views = new ViewCache();
    const snapshot = snapshotOf();
    const users = views.viewOf(snapshot, BASE)!.resources('User');
    expect(views.viewOf(snapshot, BASE)!.resources('User')).toBe(users);
    expect(views.viewOf(snapshotOf(), BASE)!.resources('User')).not.toBe(users);
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
    expect(b.items.map((i) => i.etag)).toEqual(a.items.map((i) => i.etag));
    expect(b.version).toBe(a.version);
  });

  it('finds a tenant case-insensitively and refuses an unknown one', () => {
    const views = new ViewCache();
    const snapshot = snapshotOf();
    expect(views.viewOf(snapshot, BASE, BETA.toUpperCase())!.tenant!.id).toBe(BETA);
    expect(views.viewOf(snapshot, BASE, 'nope')).toBeUndefined();
  });

  it('serialises each resource with meta last and meta.version equal to its ETag', () => {
    for (const item of new ViewCache().viewOf(snapshotOf(), BASE)!.resources('User').items) {
      const parsed = JSON.parse(item.bytes.toString('utf8'));
      expect(Object.keys(parsed).at(-1)).toBe('meta');
      expect(parsed.meta.version).toBe(item.etag);
      expect(parsed).toEqual(item.resource);
    }
  });
});
