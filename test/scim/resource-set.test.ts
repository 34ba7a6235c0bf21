/**
 * A resource set answers lookups by id from a hash table of its ids, whatever their order: every id finds its
 * position, and nothing else finds one.
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

  it('finds ids that share their first units, are prefixes of each other or hold units of 255 and above', () => {
    // Code units around the key's edges: 0, 254, 255, 256 and the largest, beside ASCII.
    const alphabet = ['\u0000', 'a', 'b', '\u00fe', '\u00ff', '\u0100', '\uffff'];
    let seed = 17;
    const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 1);
    const made = new Set<string>();
    while (made.size < 2000) {
      let id = '';
      for (let n = next() % 7; n > 0; n--) id += alphabet[next() % alphabet.length];
      made.add(id);
    }
    // JavaScript's default sort is code-unit order, the sets' order.
    const ids = [...made].sort();
    const set = buildSet(ROLE_TYPE, rendering(ids), 'v1');
    ids.forEach((id, position) => expect(set.positionById.get(id)).toBe(position));
    for (const missing of ['c', '\u0101', 'a\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff\u00ff', '\uffff\uffff\uffff\uffff\uffff\uffff\uffff']) {
      expect(set.positionById.get(missing)).toBeUndefined();
    }
  });

  it('finds nothing in an empty set, the first of repeated ids, and every id of a set large enough for many collisions in the table', () => {
    expect(buildSet(ROLE_TYPE, rendering([]), 'v1').positionById.get('a')).toBeUndefined();
    const repeated = buildSet(ROLE_TYPE, rendering(['a', 'b', 'a', 'c', 'b']), 'v1');
    expect(['a', 'b', 'c'].map((id) => repeated.positionById.get(id))).toEqual([0, 1, 3]);
    // 20,000 ids that differ in one or two units: lookups must walk the probes past other ids with nearby slots.
    const ids = Array.from({ length: 20_000 }, (_, i) => `${String.fromCharCode(97 + (i % 26))}-${i.toString(36)}`);
    const set = buildSet(ROLE_TYPE, rendering(ids), 'v1');
    ids.forEach((id, position) => expect(set.positionById.get(id)).toBe(position));
    for (let i = 20_000; i < 21_000; i++) expect(set.positionById.get(`a-${i.toString(36)}`)).toBeUndefined();
  });

  it('offers a resource to the render cache once per read, whatever the read asks of it', () => {
    const cache = new RenderCache();
    const set = buildSet(ROLE_TYPE, rendering(['a', 'b']), 'v1', cache);
    const once = set.item(0);
    expect(once.etag).toMatch(/^W\/"/);
    expect(JSON.parse(once.bytes.toString()).meta.version).toBe(once.etag);
    expect(cache.size).toBe(0);
    const again = set.item(0);
    expect(again.bytes.equals(once.bytes)).toBe(true);
    expect(cache.size).toBe(1);
    expect(set.item(0).etag).toBe(once.etag);
  });

  it('keeps two sets apart in one render cache: the same position of another set is another resource', () => {
    const cache = new RenderCache();
    const first = buildSet(ROLE_TYPE, rendering(['a', 'b']), 'v1', cache);
    const second = buildSet(ROLE_TYPE, rendering(['x', 'y']), 'v2', cache);
    // Each read twice: a resource is kept at its second serialisation.
    for (let read = 0; read < 2; read++) {
      expect(JSON.parse(first.item(0).bytes.toString()).id).toBe('a');
      expect(JSON.parse(second.item(0).bytes.toString()).id).toBe('x');
    }
    expect(cache.size).toBe(2);
    expect(JSON.parse(first.item(0).bytes.toString()).id).toBe('a');
    expect(JSON.parse(second.item(0).bytes.toString()).id).toBe('x');
  });
});

describe('indexes built ahead of the first lookup', () => {
  const ids = Array.from({ length: 5000 }, (_, k) => `role-${String(k).padStart(5, '0')}`);

  it('builds an index in steps, and a lookup between two steps finishes it at once, whole', () => {
    const heard: string[] = [];
    const set = buildSet(ROLE_TYPE, rendering(ids), 'v1', new RenderCache(), (name) => heard.push(name));
    const warm = set.indexes.warm('displayname');
    expect(warm.next().done).toBe(false);
    expect(set.indexes.built()).toEqual([]);
    const index = set.indexes.get('displayname')!;
    expect(index.size).toBe(ids.length);
    ids.forEach((id, position) => expect(index.get(`role ${id}`)).toBe(position));
    expect(warm.next().done).toBe(true);
    expect(set.indexes.get('displayname')).toBe(index);
    expect(set.indexes.built()).toEqual(['displayname']);
    expect(heard).toEqual(['displayname']);
  });

  it('builds the same index warmed to the end as a lookup builds, and warms nothing twice', () => {
    const heard: string[] = [];
    const set = buildSet(ROLE_TYPE, rendering(ids), 'v1', new RenderCache(), (name) => heard.push(name));
    let steps = 0;
    for (const warm = set.indexes.warm('displayname'); !warm.next().done; ) steps++;
    expect(steps).toBeGreaterThan(1);
    expect(heard).toEqual(['displayname']);
    expect([...set.indexes.get('displayname')!]).toEqual([...buildSet(ROLE_TYPE, rendering(ids), 'v1').indexes.get('displayname')!]);
    expect(set.indexes.warm('displayname').next().done).toBe(true);
    expect(set.indexes.warm('no-such-index').next().done).toBe(true);
    expect(heard).toEqual(['displayname']);
  });
});
