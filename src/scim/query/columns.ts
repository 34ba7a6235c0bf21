/**
 * Substring and exact searches over one attribute without reading a resource: `userName co "zz"`, `displayName ew
 * "son"`, `name.familyName eq "Ng"`. The first such search of an attribute puts its values, folded exactly as the
 * filter folds them (`equalityKey`), into one string, each value between two NULs; a search is then `indexOf` over
 * that string, and each hit is mapped back to its resource by binary search over the values' offsets. A million
 * users' e-mail addresses make a string of about 30 MB, built once per snapshot and attribute.
 *
 * Only attributes the rendering reads without rendering (`ResourceSet.reads`) get a column; a search the column
 * cannot answer exactly (a needle holding a NUL, a bracketed `where`, an ordering) is left to the scan.
 */
import type { CompareOp, Filter } from '../filter';
import { equalityKey } from '../filter';
import { resolveParts, type ResolvedPath } from '../paths';
import { pathKey, type ResourceSet } from '../resource-set';

/** One attribute's values in one string: value `k` is `text[starts[k] .. starts[k + 1] - 1)`, of resource `owners[k]`. */
export interface Column {
  readonly text: string;
  /** Offset of each value's first character; one more entry at the end, the text's length. */
  readonly starts: Int32Array;
  /** The position of the resource each value belongs to, ascending. */
  readonly owners: Int32Array;
}

const SEPARATOR = '\u0000';

type ColumnOp = Extract<CompareOp, 'eq' | 'co' | 'sw' | 'ew'>;

const isColumnOp = (op: string): op is ColumnOp => op === 'eq' || op === 'co' || op === 'sw' || op === 'ew';

/** Positions (ascending) of the resources matching a comparison, or undefined when no column can answer it exactly. */
export function columnSearch(filter: Filter, set: ResourceSet): readonly number[] | undefined {
  if (!('value' in filter) || filter.where !== undefined || !isColumnOp(filter.op) || typeof filter.value !== 'string') return undefined;
  const path = columnPath(set, filter.path.schema, filter.path.attribute, filter.path.subAttribute);
  if (!path) return undefined;
  const leaf = path.subAttribute ?? path.attribute;
  const needle = equalityKey(leaf, filter.value);
  if (needle.includes(SEPARATOR)) return undefined;
  return search(columnOf(set, path), filter.op, needle);
}

/** The path a comparison reads, when it is a string the set has a reader for (a complex attribute by its `value`). */
function columnPath(set: ResourceSet, schema: string | undefined, attribute: string, sub: string | undefined): ResolvedPath | undefined {
  let path = resolveParts(set.type.schema, schema, attribute, sub);
  if (path && !path.subAttribute && path.attribute.type === 'complex') {
    const value = path.attribute.subAttributes?.find((s) => s.name === 'value');
    path = value && { ...path, subAttribute: value };
  }
  if (!path) return undefined;
  const leaf = path.subAttribute ?? path.attribute;
  if (leaf.type !== 'string' && leaf.type !== 'reference' && leaf.type !== 'binary') return undefined;
  return set.reads(path) ? path : undefined;
}

export function columnOf(set: ResourceSet, path: ResolvedPath): Column {
  const key = pathKey(path);
  const cached = set.orderings.columns.get(key);
  if (cached) return cached;
  const leaf = path.subAttribute ?? path.attribute;
  const values: string[] = [];
  const owners: number[] = [];
  const starts: number[] = [];
  let offset = 1;
  for (let position = 0; position < set.size; position++) {
    for (const value of set.valuesAt(position, path)) {
      if (typeof value !== 'string') continue;
      const folded = equalityKey(leaf, value);
      values.push(folded);
      owners.push(position);
      starts.push(offset);
      offset += folded.length + 1;
    }
  }
  starts.push(offset);
  const column: Column = {
    text: flat(SEPARATOR + values.join(SEPARATOR) + SEPARATOR),
    starts: Int32Array.from(starts),
    owners: Int32Array.from(owners),
  };
  set.orderings.columns.set(key, column);
  return column;
}

/** The same text as one flat string (a join can leave a rope, and `indexOf` flattens it on every call otherwise). */
function flat(text: string): string {
  if (text.length > 0) text.charCodeAt(text.length >> 1);
  return text;
}

function search(column: Column, op: ColumnOp, needle: string): number[] {
  const { text, starts, owners } = column;
  const out: number[] = [];
  const take = (value: number): void => {
    const owner = owners[value]!;
    if (out.length === 0 || out[out.length - 1] !== owner) out.push(owner);
  };
  // What to look for: the needle with a separator on the side(s) the comparison anchors.
  const pattern = op === 'co' ? needle : op === 'sw' ? SEPARATOR + needle : op === 'ew' ? needle + SEPARATOR : SEPARATOR + needle + SEPARATOR;
  const lead = op === 'sw' || op === 'eq' ? 1 : 0;
  let from = 0;
  for (;;) {
    const hit = text.indexOf(pattern, from);
    if (hit < 0 || hit + lead >= text.length) break;
    const value = valueAt(starts, hit + lead);
    if (value >= owners.length) break;
    take(value);
    // One hit per value is enough: go on from the next value's start (`eq`/`sw` patterns begin at its separator).
    from = Math.max(starts[value + 1]! - lead, hit + 1);
  }
  return out;
}

/** The value whose text holds `offset`: the last whose start is at or before it. */
function valueAt(starts: Int32Array, offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (starts[mid]! <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}
