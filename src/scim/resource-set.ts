/**
 * One resource type's resources in one view, as the queries read them: the resources in the default order, the
 * exact-match indexes the query planner uses, and the orderings queries derive from them. A set is built once per
 * snapshot, view and type (see `views.ts`) and never changes, so everything it keeps stays valid for its life.
 *
 * Building a set renders nothing: each resource is its source record and id, and everything else is made when a
 * query first needs it, from the rendering's field readers (`mapping.ts`) where it has one: an index the first time
 * a filter uses it, a column of one attribute's values the first time a scan reads it, a resource's JSON and weak
 * ETag when it is sent (kept in the app's bounded `RenderCache` once it is read again). A first page, or a lookup
 * by id, costs the resources it returns, not the collection.
 */
import { createHash } from 'node:crypto';
import { equalityKey, type Instant } from './filter';
import { RENDER_VERSION, type Rendering, type ScimResource } from './mapping';
import { resolvePath, valuesAt as valuesAtPath, type ResolvedPath } from './paths';
import { RenderCache, type Serialised } from './render-cache';
import type { Column } from './query/columns';
import { type Steps, runToEnd } from '../directory/slices';
import type { AttributeDefinition } from './attributes';
import type { ResourceTypeDefinition, ResourceTypeName } from './schemas';

export interface RenderedResource {
  readonly id: string;
  /**
   * The resource without `meta.version` (every attribute `returned` by default), rendered afresh from the snapshot
   * on every read and not kept: filters, sorting and indexes read it once per resource, and a directory of 100,000
   * people would otherwise hold millions of small objects that every garbage collection has to walk.
   */
  readonly data: ScimResource;
  /** The full resource, `meta.version` included. */
  readonly resource: ScimResource;
  /** The serialised resource as UTF-8: what a socket is written, with no encoding per request. */
  readonly bytes: Buffer;
  /** Weak ETag derived from the content, equal to `meta.version` (RFC 7644 §3.14). */
  readonly etag: string;
  /** Group only: the serialised resource without `members`, so `excludedAttributes=members` sends no member. */
  readonly bytesWithoutMembers?: Buffer;
}

/**
 * A resource kept as its source record: rendered when read, serialised (with its ETag) when sent, and the serialised
 * form offered to the app's `RenderCache`, which keeps it from its second read on, within the cache's budget.
 */
class CompactResource implements RenderedResource {
  /**
   * What this object has serialised or found held: an object lives for one read, which may ask for the ETag and the
   * bytes in turn, and that is one serialisation, offered to the cache once.
   */
  #held: Serialised | undefined;

  /**
   * @param key what the cache holds this resource's serialised form under: unique to the set and the position, so
   *   the short-lived objects a set hands out for one resource all find the same entry.
   */
  constructor(
    private readonly source: unknown,
    private readonly rendering: Rendering,
    private readonly cache: RenderCache,
    private readonly key: number,
  ) {}

  /** Read from the snapshot when asked: a read whose bytes are held never needs it. */
  get id(): string {
    return this.rendering.idOf(this.source);
  }

  get data(): ScimResource {
    return this.rendering.render(this.source);
  }

  /** The ETag, and whatever serialised form is already held. */
  private held(): Serialised {
    if (this.#held !== undefined) return this.#held;
    const held = this.cache.get(this.key);
    if (held !== undefined) return (this.#held = held);
    const { withoutMembers } = this.rendering;
    if (withoutMembers) {
      // A group: its ETag from the resource without members and its members' digest (`Rendering.withoutMembers`).
      const { resource, membersDigest } = withoutMembers(this.source);
      const etag = etagOf(JSON.stringify(resource), membersDigest);
      (resource.meta as Record<string, unknown>).version = etag;
      return this.keep({ etag, withoutMembers: Buffer.from(JSON.stringify(resource), 'utf8') });
    }
    const data = this.rendering.render(this.source);
    const etag = etagOf(JSON.stringify(data));
    (data.meta as Record<string, unknown>).version = etag;
    return this.keep({ etag, bytes: Buffer.from(JSON.stringify(data), 'utf8') });
  }

  private keep(entry: Serialised): Serialised {
    this.cache.set(this.key, entry);
    return (this.#held = entry);
  }

  get resource(): ScimResource {
    return this.resourceWith(this.etag);
  }

  get bytes(): Buffer {
    const held = this.held();
    if (held.bytes !== undefined) return held.bytes;
    const bytes = Buffer.from(JSON.stringify(this.resourceWith(held.etag)), 'utf8');
    // More of the same serialisation: added where the cache holds the entry, never offered as another read.
    this.#held = { ...held, bytes };
    this.cache.replace(this.key, this.#held);
    return bytes;
  }

  get etag(): string {
    return this.held().etag;
  }

  get bytesWithoutMembers(): Buffer | undefined {
    // A group's first serialisation is its form without members (`held`), and every later form keeps it.
    return this.rendering.withoutMembers ? this.held().withoutMembers : undefined;
  }

  private resourceWith(etag: string): Record<string, unknown> {
    const data = this.rendering.render(this.source);
    (data.meta as Record<string, unknown>).version = etag;
    return data;
  }
}

/** A weak ETag over the rendering version and the given parts of a resource's content. */
function etagOf(...parts: readonly string[]): string {
  const hash = createHash('sha1').update(RENDER_VERSION);
  for (const part of parts) hash.update(part);
  // Made flat: a template literal is a rope of three strings.
  return flatAscii(`W/"${hash.digest('base64url')}"`);
}

/**
 * The key a value is indexed under: a string folded as the filter folds it (`equalityKey`), a boolean as `true` or
 * `false` (so `active eq true`, in every Entra delta filter, is answered from an index too); undefined when the value
 * is not of the attribute's type.
 */
export function indexKey(leaf: AttributeDefinition, value: unknown): string | undefined {
  if (leaf.type === 'boolean') return typeof value === 'boolean' ? String(value) : undefined;
  return typeof value === 'string' ? equalityKey(leaf, value) : undefined;
}

/** The same ASCII text as one flat string. */
const flatAscii = (text: string): string => Buffer.from(text, 'latin1').toString('latin1');

/** The resources of an index key: one position, or several ascending. */
export type IndexEntry = number | readonly number[];

/** An index entry as positions. */
export const positionsOf = (entry: IndexEntry | undefined): readonly number[] =>
  entry === undefined ? [] : typeof entry === 'number' ? [entry] : entry;

/** Positions of the resources that have a dateTime attribute, by ascending instant. */
export interface InstantOrdering {
  readonly positions: Int32Array;
  readonly instants: readonly Instant[];
}

/**
 * The orderings queries derive from a set, each computed on first use by the module named beside it and kept for
 * the set's life: pollers ask for the same lists again and again, and the set never changes.
 */
export class Orderings {
  /** Every position in the default order, 0 … n−1: a list with no filter (`query/search.ts`). */
  all: readonly number[] | undefined;
  /** Each position's rank by a sort path, by `pathKey` (`query/sort.ts`). */
  readonly ranks = new Map<string, Int32Array>();
  /** Every position sorted, by the path and the order: a sorted list with no filter (`query/sort.ts`). */
  readonly sorted = new Map<string, readonly number[]>();
  /** An index's keys in code-unit order, by index name: `sw` finds a prefix's run by binary search (`query/plan.ts`). */
  readonly indexKeys = new Map<string, readonly string[]>();
  /** Positions by instant of a range-indexed dateTime, by the path's `urn:attribute.sub` (`query/plan.ts`). */
  readonly byInstant = new Map<string, InstantOrdering>();
  /** One attribute's folded values in one string, by the path's `urn:attribute.sub` (`query/columns.ts`). */
  readonly columns = new Map<string, Column>();
}

/** The key `Orderings` keeps a path's derived orderings under: `urn:attribute.sub`. */
export const pathKey = (path: ResolvedPath): string => `${path.schema.id}:${path.attribute.name}.${path.subAttribute?.name ?? ''}`;

/** Every resource of the set, in order: for tests and measurements (a query reads only the positions it needs). */
export const itemsOf = (set: ResourceSet): RenderedResource[] => Array.from({ length: set.size }, (_, position) => set.item(position));

/** Exact-match lookups by id: the positions of a set's resources. */
export interface PositionsById {
  get(id: string): number | undefined;
}

/** A set's exact-match indexes by name, each built the first time it is asked for. */
export interface Indexes {
  get(name: string): ReadonlyMap<string, IndexEntry> | undefined;
  /** The names of the indexes built so far. */
  built(): readonly string[];
  /**
   * Builds index `name` in steps (see `directory/slices.ts`), unless it is built or being built: a large set's index
   * takes seconds, which a build ahead of the first lookup spreads over turns of the event loop. A `get` that comes
   * first finishes it at once.
   */
  warm(name: string): Steps<void>;
}

/** One resource type's resources in one view, in the default order (by `id`), with lookup indexes. */
export interface ResourceSet {
  readonly type: ResourceTypeDefinition;
  /** How many resources the set has: positions are 0 … size − 1, in the default order. */
  readonly size: number;
  /** The resource at `position`: a small object made on each call (a million users are not a million kept objects). */
  item(position: number): RenderedResource;
  readonly positionById: PositionsById;
  /**
   * Exact-match indexes: canonical lower-case path (`username`, `emails.value`, `members.value`, `active`) → index
   * key (`indexKey`: a string folded exactly as the filter compares it, a boolean as `true`/`false`) → the position in
   * `items`, or positions ascending when several resources share the key. (A one-element array per key was a
   * million small objects at 100,000 people for the garbage collector to walk.)
   */
  readonly indexes: Indexes;
  /**
   * Changes whenever any resource may have changed: derived from the snapshot's content hash, the rendering
   * version, the view and the base URL (every resource is a function of these).
   */
  readonly version: string;
  readonly orderings: Orderings;
  /** The values `path` reaches in the resource at `position`, read without rendering it when the rendering can. */
  valuesAt(position: number, path: ResolvedPath): readonly unknown[];
  /** Whether `valuesAt` reads `path` without rendering. */
  reads(path: ResolvedPath): boolean;
}

/** Which attributes each type indexes for `eq` lookups (RFC 7644 §3.4.2.2), by canonical path. */
const INDEXED_PATHS: Readonly<Record<ResourceTypeName, readonly string[]>> = {
  User: ['id', 'externalId', 'userName', 'emails.value', 'displayName', 'active'],
  Group: ['id', 'externalId', 'displayName', 'members.value'],
  Role: ['id', 'externalId', 'displayName'],
};

/** The lower-case name a core path's field reader and index go by: `username`, `emails.value`; undefined outside the core. */
function fieldName(path: ResolvedPath): string | undefined {
  if (!path.core) return undefined;
  return (path.subAttribute ? `${path.attribute.name}.${path.subAttribute.name}` : path.attribute.name).toLowerCase();
}

/**
 * Builds the set of one type from its rendering; `version` as `ResourceSet.version` says; serialised resources are
 * kept in `cache`; `onIndexBuilt` hears the name of each index once it is built. Renders nothing: see the file's header.
 */
export function buildSet(
  type: ResourceTypeDefinition,
  rendering: Rendering,
  version: string,
  cache: RenderCache = new RenderCache(),
  onIndexBuilt?: (name: string) => void,
): ResourceSet {
  const { size, sourceAt, idOf, fields } = rendering;
  const keys = cache.reserve(size);
  const item = (position: number): RenderedResource => {
    const source = sourceAt(position);
    return new CompactResource(source, rendering, cache, keys + position);
  };
  const positionById = positionsById(size, (position) => idOf(sourceAt(position)));

  const valuesAt = (position: number, path: ResolvedPath): readonly unknown[] => {
    const name = fieldName(path);
    const read = name === undefined ? undefined : fields[name];
    return read ? read(sourceAt(position)) : valuesAtPath(rendering.render(sourceAt(position)), path);
  };

  const built = new Map<string, ReadonlyMap<string, IndexEntry>>();
  /** Indexes a `warm` has begun: a `get` runs the rest of the steps. */
  const building = new Map<string, Steps<ReadonlyMap<string, IndexEntry>>>();
  const indexed = new Map(
    INDEXED_PATHS[type.id].map((text) => {
      const path = resolvePath(type.schema, text) as ResolvedPath;
      return [text.toLowerCase(), path] as const;
    }),
  );
  const indexes: Indexes = {
    get(name) {
      const cached = built.get(name);
      if (cached) return cached;
      const path = indexed.get(name);
      if (!path) return undefined;
      const index = runToEnd(building.get(name) ?? indexSteps(size, path, valuesAt));
      building.delete(name);
      built.set(name, index);
      onIndexBuilt?.(name);
      return index;
    },
    built: () => [...built.keys()],
    *warm(name) {
      const path = indexed.get(name);
      if (!path || built.has(name) || building.has(name)) return;
      const steps = indexSteps(size, path, valuesAt);
      building.set(name, steps);
      // A `get` between two steps finishes the index (and this generator with it): then there is nothing left to do.
      while (!built.has(name)) {
        const step = steps.next();
        if (step.done) {
          building.delete(name);
          built.set(name, step.value);
          onIndexBuilt?.(name);
          return;
        }
        yield;
      }
    },
  };
  return {
    type,
    size,
    item,
    positionById,
    indexes,
    version,
    orderings: new Orderings(),
    valuesAt,
    reads: (path) => {
      const name = fieldName(path);
      return name !== undefined && fields[name] !== undefined;
    },
  };
}

/** Resources indexed between two steps of `indexSteps`, less one (a power of two). */
const INDEX_BATCH = 2047;

function* indexSteps(size: number, path: ResolvedPath, valuesAt: ResourceSet['valuesAt']): Steps<ReadonlyMap<string, IndexEntry>> {
  const leaf = path.subAttribute ?? path.attribute;
  const index = new Map<string, number | number[]>();
  for (let position = 0; position < size; position++) {
    if ((position & INDEX_BATCH) === INDEX_BATCH) yield;
    for (const value of valuesAt(position, path)) {
      const key = indexKey(leaf, value);
      if (key === undefined) continue;
      const entry = index.get(key);
      if (entry === undefined) index.set(key, position);
      else if (typeof entry === 'number') {
        if (entry !== position) index.set(key, [entry, position]);
      } else if (entry[entry.length - 1] !== position) entry.push(position);
    }
  }
  return index;
}

/**
 * Lookups by id without a map of strings: an open-addressing hash table in one typed array, each slot a 32-bit hash of
 * an id and its position plus one (0 for an empty slot), built on the first lookup. A lookup hashes the id, reads the
 * one or two slots it probes (usually in the same cache line) and compares the whole id only where the hash is equal,
 * so it reads the ids themselves once. A binary search, even over keys packed in a typed array, reads a dozen places
 * scattered over megabytes at 100,000 people, and a `Map` of every id would hold an entry object per resource
 * (BENCHMARKS.md, "Lookups by id"). Where ids repeat (no rendering makes them, but a lookup is never wrong), the first
 * position is kept, as a search in id order would find.
 */
function positionsById(size: number, idAt: (position: number) => string): PositionsById {
  let slots: Int32Array | undefined;
  let mask = 0;
  const build = (): Int32Array => {
    // At most half full: a probe ends at an empty slot within a slot or two on average.
    let capacity = 2;
    while (capacity < size * 2) capacity *= 2;
    mask = capacity - 1;
    const table = new Int32Array(capacity * 2);
    for (let position = 0; position < size; position++) {
      const id = idAt(position);
      const hash = hashOf(id);
      let slot = hash & mask;
      for (;;) {
        const entry = table[slot * 2 + 1]!;
        if (entry === 0) {
          table[slot * 2] = hash;
          table[slot * 2 + 1] = position + 1;
          break;
        }
        if (table[slot * 2] === hash && idAt(entry - 1) === id) break;
        slot = (slot + 1) & mask;
      }
    }
    return table;
  };
  return {
    get(id) {
      const table = (slots ??= build());
      const hash = hashOf(id);
      for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
        const entry = table[slot * 2 + 1]!;
        if (entry === 0) return undefined;
        if (table[slot * 2] === hash && idAt(entry - 1) === id) return entry - 1;
      }
    },
  };
}

/**
 * FNV-1a over an id's code units, its bits then mixed so the low ones the table indexes by depend on every unit; a
 * signed 32-bit integer, as an `Int32Array` holds it.
 */
function hashOf(id: string): number {
  let hash = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  return Math.imul(hash ^ (hash >>> 16), 0x45d9f3b) ^ (hash >>> 13);
}
