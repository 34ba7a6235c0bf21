/**
 * The query planner: answers the lookups pollers send (`id eq`, `userName eq`, `externalId eq`, e-mail value
 * paths, `displayName eq`, `members[value eq]`) from the per-snapshot indexes instead of scanning, and the delta
 * windows of Entra and SailPoint (`meta.lastModified ge "…"`) from a per-snapshot ordering by instant, and prefix
 * searches (`userName sw "ann"`, what a search box sends) from the same indexes' keys in sorted order, and substring
 * searches (`userName co "zz"`) from one attribute's column (`columns.ts`).
 *
 * A plan gives candidate positions and the residual filter the candidates must still pass (none when the index
 * answers exactly). Exactness is claimed only where the index compares exactly as the filter does: string keys
 * folded with `toLowerCase` unless caseExact (as the filter folds them), instants compared with the filter's own
 * `compareInstants`.
 */
import { compareInstants, parseInstant, type CompareOp, type Filter, type Instant } from '../filter';
import { resolveParts, type ResolvedPath } from '../paths';
import type { AttributeDefinition } from '../attributes';
import { columnSearch } from './columns';
import { indexKey, pathKey, positionsOf, type IndexEntry, type InstantOrdering, type ResourceSet } from '../resource-set';

export interface Plan {
  /** Candidate positions, ascending. */
  readonly positions: readonly number[];
  /**
   * What the candidates must still be tested against; undefined when the positions are exactly the matches.
   * For `active eq true and meta.lastModified ge "…"` it is `active eq true` alone.
   */
  readonly residual?: Filter;
}

/** A plan for the filter, or undefined when no index applies and the set must be scanned. */
export function plan(filter: Filter, set: ResourceSet): Plan | undefined {
  switch (filter.op) {
    case 'eq': {
      const positions = lookup(set, filter.path.schema, filter.path.attribute, filter.path.subAttribute, filter.value);
      if (positions) return { positions, residual: filter.where === undefined ? undefined : filter };
      return fromColumn(filter, set);
    }
    case 'sw': {
      if (filter.where !== undefined) return undefined;
      const positions = prefixLookup(set, filter.path.schema, filter.path.attribute, filter.path.subAttribute, filter.value);
      return positions ? { positions } : fromColumn(filter, set);
    }
    case 'co':
    case 'ew':
      return fromColumn(filter, set);
    case 'gt':
    case 'ge':
    case 'lt':
    case 'le': {
      if (filter.where !== undefined) return undefined;
      const positions = range(set, filter.path.schema, filter.path.attribute, filter.path.subAttribute, filter.op, filter.value);
      return positions && { positions };
    }
    case 'valuePath': {
      const found = planInside(filter.filter, set, filter.path.schema, filter.path.attribute);
      return found && { positions: found.positions, residual: found.exact ? undefined : filter };
    }
    case 'and': {
      const left = plan(filter.left, set);
      const right = plan(filter.right, set);
      if (!left && !right) return undefined;
      if (!left) return { positions: right!.positions, residual: both(filter.left, right!.residual) };
      if (!right) return { positions: left.positions, residual: both(left.residual, filter.right) };
      return { positions: intersection(left.positions, right.positions), residual: both(left.residual, right.residual) };
    }
    case 'or': {
      const left = plan(filter.left, set);
      const right = left && plan(filter.right, set);
      if (!left || !right) return undefined;
      const exact = left.residual === undefined && right.residual === undefined;
      return { positions: union(left.positions, right.positions), residual: exact ? undefined : filter };
    }
    default:
      return undefined;
  }
}

/** A comparison answered exactly by one attribute's column (`columns.ts`), when one can answer it. */
function fromColumn(filter: Filter, set: ResourceSet): Plan | undefined {
  const positions = columnSearch(filter, set);
  return positions && { positions };
}

function both(a: Filter | undefined, b: Filter | undefined): Filter | undefined {
  if (!a) return b;
  if (!b) return a;
  return { op: 'and', left: a, right: b };
}

/** `members[value eq "x"]` (exact), and `members[value eq "x" and type eq "User"]` (a superset). */
function planInside(inner: Filter, set: ResourceSet, schema: string | undefined, attribute: string): { positions: readonly number[]; exact: boolean } | undefined {
  if (inner.op === 'and') {
    const found = planInside(inner.left, set, schema, attribute) ?? planInside(inner.right, set, schema, attribute);
    return found && { positions: found.positions, exact: false };
  }
  if (inner.op !== 'eq' || inner.where !== undefined || inner.path.schema !== undefined || inner.path.subAttribute !== undefined) return undefined;
  const positions = lookup(set, schema, attribute, inner.path.attribute, inner.value);
  return positions && { positions, exact: true };
}

interface IndexedPath {
  /** The index's name, e.g. `username` or `emails.value`. */
  readonly name: string;
  readonly leaf: AttributeDefinition;
  readonly index: ReadonlyMap<string, IndexEntry>;
}

/** Paths already looked up, by set and spelling: a poller sends the same few paths with every lookup. */
const knownPaths = new WeakMap<ResourceSet, Map<string, IndexedPath | null>>();
/** Spellings kept per set: attribute names are case-insensitive, so a client could spell one many ways. */
const KNOWN_PATHS_KEPT = 64;

function indexFor(set: ResourceSet, schemaUrn: string | undefined, attributeName: string, subName: string | undefined): IndexedPath | undefined {
  let known = knownPaths.get(set);
  if (known === undefined) knownPaths.set(set, (known = new Map()));
  // Attribute names hold no space (the parser's ATTRNAME), so the plain name and the composite key never collide.
  const key = schemaUrn === undefined && subName === undefined ? attributeName : `${schemaUrn ?? ''} ${attributeName} ${subName ?? ''}`;
  const found = known.get(key);
  if (found !== undefined) return found ?? undefined;
  const indexed = resolveIndex(set, schemaUrn, attributeName, subName);
  if (known.size < KNOWN_PATHS_KEPT) known.set(key, indexed ?? null);
  return indexed;
}

function resolveIndex(set: ResourceSet, schemaUrn: string | undefined, attributeName: string, subName: string | undefined): IndexedPath | undefined {
  const path = resolveParts(set.type.schema, schemaUrn, attributeName, subName);
  if (!path || !path.core) return undefined;
  // RFC 7644 §3.4.2.2: a complex attribute compared directly is compared by its `value` sub-attribute.
  const leaf = path.subAttribute ?? (path.attribute.type === 'complex' ? path.attribute.subAttributes?.find((s) => s.name === 'value') : path.attribute);
  if (!leaf) return undefined;
  const name = (path.attribute.type === 'complex' ? `${path.attribute.name}.${leaf.name}` : path.attribute.name).toLowerCase();
  const index = set.indexes.get(name);
  return index && { name, leaf, index };
}

type IndexedComparison = { readonly indexed: IndexedPath; readonly key: string };

/** The index a comparison with `value` can use, and the value folded as that index folds its keys. */
function comparison(
  set: ResourceSet,
  schemaUrn: string | undefined,
  attributeName: string,
  subName: string | undefined,
  value: unknown,
): IndexedComparison | undefined {
  const indexed = indexFor(set, schemaUrn, attributeName, subName);
  const key = indexed && indexKey(indexed.leaf, value);
  return key === undefined ? undefined : { indexed: indexed!, key };
}

/**
 * The positions of `attributeName eq value` from the attribute's index, exactly the matches the filter finds; undefined
 * when no index answers it (the filter must then be run). For a lookup that skips parsing a filter it already knows.
 */
export function lookupEq(set: ResourceSet, attributeName: string, value: string): readonly number[] | undefined {
  return lookup(set, undefined, attributeName, undefined, value);
}

function lookup(set: ResourceSet, schemaUrn: string | undefined, attributeName: string, subName: string | undefined, value: unknown): readonly number[] | undefined {
  const found = comparison(set, schemaUrn, attributeName, subName, value);
  return found && positionsOf(found.indexed.index.get(found.key));
}

/**
 * `sw`: an index's keys are the values folded exactly as the filter folds them (`equalityKey`), and in code-unit
 * order every key with a given prefix sits in one run, found by binary search.
 */
function prefixLookup(...args: Parameters<typeof comparison>): readonly number[] | undefined {
  const [set] = args;
  const compared = comparison(...args);
  // A prefix of a boolean means nothing (and such a filter is refused before it is planned).
  if (!compared || compared.indexed.leaf.type === 'boolean') return undefined;
  const { indexed, key: prefix } = compared;
  const keys = sortedKeys(set, indexed);
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (keys[mid]! < prefix) low = mid + 1;
    else high = mid;
  }
  const found: number[] = [];
  for (let k = low; k < keys.length && keys[k]!.startsWith(prefix); k++) for (const p of positionsOf(indexed.index.get(keys[k]!))) found.push(p);
  return ascending(Int32Array.from(found), set.size);
}

function sortedKeys(set: ResourceSet, indexed: IndexedPath): readonly string[] {
  const cached = set.orderings.indexKeys.get(indexed.name);
  if (cached) return cached;
  const keys = [...indexed.index.keys()].sort();
  set.orderings.indexKeys.set(indexed.name, keys);
  return keys;
}

/** Orderings by instant of the singular dateTime attributes worth a range index. */
const RANGE_INDEXED: ReadonlySet<string> = new Set(['meta.lastModified', 'meta.created']);

function range(
  set: ResourceSet,
  schemaUrn: string | undefined,
  attributeName: string,
  subName: string | undefined,
  op: Extract<CompareOp, 'gt' | 'ge' | 'lt' | 'le'>,
  value: unknown,
): readonly number[] | undefined {
  if (typeof value !== 'string') return undefined;
  const path = resolveParts(set.type.schema, schemaUrn, attributeName, subName);
  if (!path?.subAttribute || !path.core || !RANGE_INDEXED.has(`${path.attribute.name}.${path.subAttribute.name}`)) return undefined;
  const bound = parseInstant(value);
  if (!bound) return undefined; // the filter refuses it with a clear message
  const ordering = instantOrdering(set, path);
  // The first index whose instant is above (gt, le) or at least (ge, lt) the bound.
  const strict = op === 'gt' || op === 'le';
  let low = 0;
  let high = ordering.instants.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    const c = compareInstants(ordering.instants[mid]!, bound);
    if (c < 0 || (strict && c === 0)) low = mid + 1;
    else high = mid;
  }
  const selected = op === 'gt' || op === 'ge' ? ordering.positions.subarray(low) : ordering.positions.subarray(0, low);
  return ascending(selected, set.size);
}

function instantOrdering(set: ResourceSet, path: ResolvedPath): InstantOrdering {
  const key = pathKey(path);
  const cached = set.orderings.byInstant.get(key);
  if (cached) return cached;
  const entries: { position: number; instant: Instant }[] = [];
  for (let position = 0; position < set.size; position++) {
    const [value] = set.valuesAt(position, path);
    const instant = typeof value === 'string' ? parseInstant(value) : undefined;
    if (instant) entries.push({ position, instant });
  }
  entries.sort((a, b) => compareInstants(a.instant, b.instant) || a.position - b.position);
  const ordering = { positions: Int32Array.from(entries, (e) => e.position), instants: entries.map((e) => e.instant) };
  set.orderings.byInstant.set(key, ordering);
  return ordering;
}

/** Distinct positions in ascending order: a sort for few, a mask sweep (linear) for many. */
function ascending(positions: Int32Array, size: number): number[] {
  if (positions.length * 16 < size) return Array.from(positions).sort((a, b) => a - b).filter((p, i, all) => i === 0 || all[i - 1] !== p);
  const mask = new Uint8Array(size);
  for (const p of positions) mask[p] = 1;
  const out: number[] = [];
  for (let p = 0; p < size; p++) if (mask[p]) out.push(p);
  return out;
}

function intersection(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out;
}

function union(a: readonly number[], b: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    const next = Math.min(x, y);
    out.push(next);
    if (x === next) i++;
    if (y === next) j++;
  }
  return out;
}
