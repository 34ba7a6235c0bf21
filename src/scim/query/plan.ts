/**
 * The query planner: answers the lookups pollers send (`id eq`, `userName eq`, `externalId eq`, e-mail value
 * paths, `displayName eq`, `members[value eq]`) from the per-snapshot indexes instead of scanning.
 *
 * A plan only narrows the candidates: every candidate is still tested with the compiled filter, so the planner
 * must return a superset of the matches, never decide a match by itself.
 */
import type { Filter } from '../filter';
import type { ResourceSchema } from '../attributes';
import { indexKey, resolveParts } from '../paths';
import type { ResourceSet } from '../render';

/** Candidate positions (ascending), or undefined when no index applies and the set must be scanned. */
export function planCandidates(filter: Filter, set: ResourceSet): readonly number[] | undefined {
  switch (filter.op) {
    case 'eq':
      return lookup(set, filter.path.schema, filter.path.attribute, filter.path.subAttribute, filter.value);
    case 'valuePath':
      return planInside(filter.filter, set, filter.path.schema, filter.path.attribute);
    case 'and': {
      const left = planCandidates(filter.left, set);
      const right = planCandidates(filter.right, set);
      if (!left) return right;
      if (!right) return left;
      return left.length <= right.length ? left : right;
    }
    case 'or': {
      const left = planCandidates(filter.left, set);
      const right = left && planCandidates(filter.right, set);
      return left && right ? union(left, right) : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * Whether the index answers the filter exactly, so candidates need no test: a single `eq` on an indexed attribute
 * with a string and no `[...]` condition, or `attr[value eq "x"]`. Index keys fold case exactly as the filter does
 * (`toLowerCase` unless caseExact), so the two cannot disagree.
 */
export function isExactLookup(filter: Filter): boolean {
  if (filter.op === 'eq') return filter.where === undefined && typeof filter.value === 'string';
  if (filter.op === 'valuePath') {
    const inner = filter.filter;
    return inner.op === 'eq' && inner.where === undefined && typeof inner.value === 'string' && inner.path.subAttribute === undefined && inner.path.schema === undefined && inner.path.attribute.toLowerCase() === 'value';
  }
  return false;
}

/** `members[value eq "x"]` (and `members[value eq "x" and type eq "User"]`). */
function planInside(inner: Filter, set: ResourceSet, schema: string | undefined, attribute: string): readonly number[] | undefined {
  if (inner.op === 'and') return planInside(inner.left, set, schema, attribute) ?? planInside(inner.right, set, schema, attribute);
  if (inner.op !== 'eq' || inner.path.schema !== undefined || inner.path.subAttribute !== undefined) return undefined;
  return lookup(set, schema, attribute, inner.path.attribute, inner.value);
}

function lookup(
  set: ResourceSet,
  schemaUrn: string | undefined,
  attributeName: string,
  subName: string | undefined,
  value: unknown,
): readonly number[] | undefined {
  if (typeof value !== 'string') return undefined;
  const schema: ResourceSchema = set.type.schema;
  const path = resolveParts(schema, schemaUrn, attributeName, subName);
  if (!path || !path.core) return undefined;
  // RFC 7644 §3.4.2.2: a complex attribute compared directly is compared by its `value` sub-attribute.
  const leaf = path.subAttribute ?? (path.attribute.type === 'complex' ? path.attribute.subAttributes?.find((s) => s.name === 'value') : path.attribute);
  if (!leaf) return undefined;
  const key = path.attribute.type === 'complex' ? `${path.attribute.name}.${leaf.name}` : path.attribute.name;
  const index = set.indexes.get(key.toLowerCase());
  if (!index) return undefined;
  return index.get(indexKey(value, leaf)) ?? [];
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
