/**
 * One resource type's resources in one view, as the queries read them: the resources in the default order, the
 * exact-match indexes the query planner uses, and the orderings queries derive from them. A set is built once per
 * snapshot, view and type (see `views.ts`) and never changes, so everything it keeps stays valid for its life.
 *
 * What each resource keeps: its source record and, once it has been sent, its serialised JSON and weak ETag
 * (computed the first time and reused by every later request). The resource object itself is rendered from the
 * source (`mapping.ts`) whenever a filter, a sort or an attribute selection reads it, and dropped: at 100,000
 * people, keeping them cost more memory than the snapshot and the serialised text together, and the garbage
 * collector's time with them.
 */
import { createHash } from 'node:crypto';
import { equalityKey, type Instant } from './filter';
import { RENDER_VERSION, type Renderer, type Rendering, type ScimResource } from './mapping';
import { resolvePath, valuesAt, type ResolvedPath } from './paths';
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
  /** The full resource, `meta.version` included (serialises it on first use). */
  readonly resource: ScimResource;
  /**
   * The serialised resource as UTF-8, computed on first use and kept. Kept as bytes, not a string: it is what a
   * socket is written, with no encoding per request, and it lives outside the JavaScript heap (a string with one
   * non-Latin-1 character, a Greek or Chinese name, would take two bytes a character there).
   */
  readonly bytes: Buffer;
  /** Weak ETag derived from the content, equal to `meta.version` (RFC 7644 §3.14). */
  readonly etag: string;
  /** Group only: the serialised resource without `members`, so `excludedAttributes=members` costs nothing. */
  readonly bytesWithoutMembers?: Buffer;
}

/**
 * A resource kept as its source record and, once it has been sent, its serialised text: serialisation and hashing
 * are the expensive part of rendering, and most resources of a large directory are only ever filtered or counted,
 * so each resource is serialised the first time it is sent, then reused.
 */
class CompactResource implements RenderedResource {
  #bytes: Buffer | undefined;
  #etag: string | undefined;
  #withoutMembers: Buffer | undefined;

  constructor(
    readonly id: string,
    private readonly source: unknown,
    private readonly render: Renderer<unknown>,
    private readonly group: boolean,
  ) {}

  get data(): ScimResource {
    return this.render(this.source);
  }

  private serialise(): void {
    if (this.#bytes !== undefined) return;
    const data = this.render(this.source);
    // Made flat: a template literal is a rope of three strings, kept for the life of the snapshot.
    const etag = flatAscii(`W/"${createHash('sha1').update(RENDER_VERSION).update(JSON.stringify(data)).digest('base64url')}"`);
    (data.meta as Record<string, unknown>).version = etag;
    this.#etag = etag;
    this.#bytes = Buffer.from(JSON.stringify(data), 'utf8');
  }

  get resource(): ScimResource {
    const data = this.render(this.source);
    (data.meta as Record<string, unknown>).version = this.etag;
    return data;
  }

  get bytes(): Buffer {
    this.serialise();
    return this.#bytes as Buffer;
  }

  get etag(): string {
    this.serialise();
    return this.#etag as string;
  }

  get bytesWithoutMembers(): Buffer | undefined {
    if (!this.group) return undefined;
    if (this.#withoutMembers === undefined) {
      const { members: _members, ...rest } = this.resource;
      this.#withoutMembers = Buffer.from(JSON.stringify(rest), 'utf8');
    }
    return this.#withoutMembers;
  }
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
}

/** The key `Orderings` keeps a path's derived orderings under: `urn:attribute.sub`. */
export const pathKey = (path: ResolvedPath): string => `${path.schema.id}:${path.attribute.name}.${path.subAttribute?.name ?? ''}`;

/** One resource type's resources in one view, in the default order (by `id`), with lookup indexes. */
export interface ResourceSet {
  readonly type: ResourceTypeDefinition;
  readonly items: readonly RenderedResource[];
  readonly positionById: ReadonlyMap<string, number>;
  /**
   * Exact-match indexes: canonical lower-case path (`username`, `emails.value`, `members.value`, `active`) → index
   * key (`indexKey`: a string folded exactly as the filter compares it, a boolean as `true`/`false`) → the position in
   * `items`, or positions ascending when several resources share the key. (A one-element array per key was a
   * million small objects at 100,000 people for the garbage collector to walk.)
   */
  readonly indexes: ReadonlyMap<string, ReadonlyMap<string, IndexEntry>>;
  /**
   * Changes whenever any resource may have changed: derived from the snapshot's content hash, the rendering
   * version, the view and the base URL (every resource is a function of these).
   */
  readonly version: string;
  readonly orderings: Orderings;
}

/** Which attributes each type indexes for `eq` lookups (RFC 7644 §3.4.2.2), by canonical path. */
const INDEXED_PATHS: Readonly<Record<ResourceTypeName, readonly string[]>> = {
  User: ['id', 'externalId', 'userName', 'emails.value', 'displayName', 'active'],
  Group: ['id', 'externalId', 'displayName', 'members.value'],
  Role: ['id', 'externalId', 'displayName'],
};

/** Builds the set of one type from its rendering; `version` as `ResourceSet.version` says. */
export function buildSet(type: ResourceTypeDefinition, { sources, render }: Rendering, version: string): ResourceSet {
  const items: RenderedResource[] = [];
  const positionById = new Map<string, number>();
  const indexed = INDEXED_PATHS[type.id].map((text) => {
    const path = resolvePath(type.schema, text) as ResolvedPath;
    return { name: text.toLowerCase(), path, leaf: path.subAttribute ?? path.attribute, index: new Map<string, number | number[]>() };
  });
  // One rendering per resource, read once for its id and index keys, then dropped.
  for (const source of sources) {
    const data = render(source);
    const id = data.id as string;
    const position = items.length;
    positionById.set(id, position);
    items.push(new CompactResource(id, source, render, type.id === 'Group'));
    for (const { path, leaf, index } of indexed) {
      for (const value of valuesAt(data, path)) {
        const key = indexKey(leaf, value);
        if (key === undefined) continue;
        const entry = index.get(key);
        if (entry === undefined) index.set(key, position);
        else if (typeof entry === 'number') {
          if (entry !== position) index.set(key, [entry, position]);
        } else if (entry[entry.length - 1] !== position) entry.push(position);
      }
    }
  }
  const indexes = new Map(indexed.map(({ name, index }) => [name, index as ReadonlyMap<string, IndexEntry>]));
  return { type, items, positionById, indexes, version, orderings: new Orderings() };
}
