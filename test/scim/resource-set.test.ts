/**
 * A resource set answers lookups by id by binary search over its sources, which every rendering gives in id order;
 * a set whose order is broken falls back to a map, so a lookup is never wrong.
 */
import type { Rendering } from '../../src/scim/mapping';
import { buildSet, itemsOf } from '../../src/scim/resource-set';
import { RenderCache } from '../../src/scim/render-cache';
import { ROLE_TYPE } from '../../src/scim/schemas';

const rendering = (ids: readonly string[]): Rendering =>
  ({
    size: ids.length,
    sourceAt: (position: number) => ids[position],
    idOf: (id: string) => id,
    render: (id: string) => ({ schemas: [ROLE_TYPE.schema.core.id], id, displayName: `Role ${id}`, meta: { resourceType: 'Role', location: `/Roles/${id}` } }),
    fields: {},
  }) as unknown as Rendering;

describe('lookups by id', () => {
  it.each([
    ['in id order', ['a', 'b', 'c', 'd', 'e']],
    ['out of order', ['d', 'a', 'e', 'c', 'b']],
  ])('finds every resource, and nothing else, with sources %s', (_, ids) => {
    const set = buildSet(ROLE_TYPE, rendering(ids), 'v1');
    ids.forEach((id, position) => expect(set.positionById.get(id)).toBe(position));
    for (const missing of ['', 'A', 'bb', 'f', '0']) expect(set.positionById.get(missing)).toBeUndefined();
    expect(itemsOf(set).map((i) => i.id)).toEqual(ids);
  });

  it('keeps two sets apart in one render cache: the same position of another set is another resource', () => {
    const cache = new RenderCache();
    const first = buildSet(ROLE_TYPE, rendering(['a', 'b']), 'v1', cache);
    const second = buildSet(ROLE_TYPE, rendering(['x', 'y']), 'v2', cache);
    expect(JSON.parse(first.item(0).bytes.toString()).id).toBe('a');
    expect(JSON.parse(second.item(0).bytes.toString()).id).toBe('x');
    expect(JSON.parse(first.item(0).bytes.toString()).id).toBe('a');
    expect(cache.size).toBe(2);
  });
});
