/**
 * RFC 7644 §3.4.2.3 sorting. A multi-valued attribute sorts by its primary value, else its first; strings
 * compare per `caseExact`, dateTimes as instants; resources without a value come last when ascending and first
 * when descending. Ties keep the default order (by `id`), so sorting is stable.
 *
 * Each attribute's ordering is computed once per resource set (per snapshot) and reused by every page.
 */
import type { ResourceSchema } from '../attributes';
import { invalidValue } from '../errors';
import { parseInstant } from '../filter';
import { container, resolvePath, type ResolvedPath } from '../paths';
import type { ScimResource } from '../mapping';
import { pathKey, type ResourceSet } from '../resource-set';

export type SortOrder = 'ascending' | 'descending';

type SortValue = string | number | boolean | undefined;

/** Resolves `sortBy` for one resource type; throws 400 invalidValue for unknown or complex attributes. */
export function resolveSortPath(schema: ResourceSchema, sortBy: string): ResolvedPath {
  const path = resolvePath(schema, sortBy);
  if (!path) throw invalidValue(`Cannot sort by "${sortBy}": no such attribute.`);
  if (path.attribute.type === 'complex' && !path.subAttribute) {
    throw invalidValue(`Cannot sort by the complex attribute "${path.attribute.name}"; name a sub-attribute, e.g. "${path.attribute.name}.${path.attribute.subAttributes?.[0]?.name ?? 'value'}".`);
  }
  return path;
}

/** The value a resource sorts by, normalised so that `<` orders it. */
export function sortValue(resource: ScimResource, path: ResolvedPath): SortValue {
  const holder = container(resource, path);
  let value: unknown = holder?.[path.attribute.name];
  if (Array.isArray(value)) {
    value = value.find((v) => v !== null && typeof v === 'object' && (v as Record<string, unknown>).primary === true) ?? value[0];
  }
  if (path.subAttribute) {
    value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[path.subAttribute.name] : undefined;
  }
  return normalised(value, path);
}

/**
 * The sort value of the resource at `position`: a singular attribute the set reads without rendering (`userName`,
 * `meta.lastModified`) is read so; anything else from the rendered resource.
 */
function sortValueAt(set: ResourceSet, position: number, path: ResolvedPath): SortValue {
  if (!path.attribute.multiValued && set.reads(path)) return normalised(set.valuesAt(position, path)[0], path);
  return sortValue(set.item(position).data, path);
}

function normalised(value: unknown, path: ResolvedPath): SortValue {
  const definition = path.subAttribute ?? path.attribute;
  if (typeof value === 'string') {
    if (definition.type === 'dateTime') {
      const instant = parseInstant(value);
      return instant ? instant.ms + instant.ns / 1e6 : undefined;
    }
    return definition.caseExact ? value : value.toLowerCase();
  }
  return typeof value === 'number' || typeof value === 'boolean' ? value : undefined;
}

/** Compares two sort values: missing sorts after everything (ascending). */
export function compareSortValues(a: SortValue, b: SortValue): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** What the set's orderings are kept under for one sort path. */

/**
 * Rank of each position by the attribute (equal values share a rank; missing values rank last), computed once
 * per resource set and attribute.
 */
function ranks(set: ResourceSet, path: ResolvedPath): Int32Array {
  const key = pathKey(path);
  const cached = set.orderings.ranks.get(key);
  if (cached) return cached;
  const values = Array.from({ length: set.size }, (_, position) => sortValueAt(set, position, path));
  const order = values.map((_, i) => i).sort((i, j) => compareSortValues(values[i], values[j]) || i - j);
  const result = new Int32Array(values.length);
  let rank = 0;
  order.forEach((position, k) => {
    if (k > 0 && compareSortValues(values[order[k - 1]!], values[position]) !== 0) rank++;
    result[position] = rank;
  });
  set.orderings.ranks.set(key, result);
  return result;
}

/** Sorts positions of `set` (ascending positions in, sorted positions out); stable on ties. */
export function sortPositions(set: ResourceSet, positions: readonly number[], path: ResolvedPath, order: SortOrder): readonly number[] {
  const everything = positions.length === set.size;
  const key = `${pathKey(path)}:${order}`;
  if (everything) {
    const cached = set.orderings.sorted.get(key);
    if (cached) return cached;
  }
  const rank = ranks(set, path);
  const sign = order === 'descending' ? -1 : 1;
  const sorted = [...positions].sort((i, j) => sign * (rank[i]! - rank[j]!) || i - j);
  if (everything) set.orderings.sorted.set(key, sorted);
  return sorted;
}
