import { prerender, viewOf } from '../../src/scim/render';
import { BASE, BETA, snapshotOf } from '../http/fixtures';

describe('rendering once per snapshot', () => {
  it('reuses the rendered resource sets of a snapshot, and renders a new snapshot afresh', () => {
    const snapshot = snapshotOf();
    prerender(snapshot, BASE);
    const users = viewOf(snapshot, BASE)!.resources('User');
    expect(viewOf(snapshot, BASE)!.resources('User')).toBe(users);
    expect(viewOf(snapshotOf(), BASE)!.resources('User')).not.toBe(users);
  });

  it('keeps ETags of unchanged resources across snapshots with the same content', () => {
    const a = viewOf(snapshotOf(), BASE)!.resources('Group');
    const b = viewOf(snapshotOf(), BASE)!.resources('Group');
    expect(b.items.map((i) => i.etag)).toEqual(a.items.map((i) => i.etag));
    expect(b.version).toBe(a.version);
  });

  it('finds a tenant case-insensitively and refuses an unknown one', () => {
    const snapshot = snapshotOf();
    expect(viewOf(snapshot, BASE, BETA.toUpperCase())!.tenant!.id).toBe(BETA);
    expect(viewOf(snapshot, BASE, 'nope')).toBeUndefined();
  });

  it('serialises each resource with meta last and meta.version equal to its ETag', () => {
    for (const item of viewOf(snapshotOf(), BASE)!.resources('User').items) {
      const parsed = JSON.parse(item.bytes.toString('utf8'));
      expect(Object.keys(parsed).at(-1)).toBe('meta');
      expect(parsed.meta.version).toBe(item.etag);
      expect(parsed).toEqual(item.resource);
    }
  });
});
