/**
 * Runs a list query (RFC 7644 §3.4.2) over one resource set, or over several for a root search (§3.4.3), and
 * serialises the ListResponse. Pages slice precomputed orderings; indexed filters test only their candidates.
 */
import { compileFilter, parseFilter, type Filter } from '../filter';
import { ScimError } from '../errors';
import type { RenderedResource, ResourceSet } from '../resource-set';
import { LIST_RESPONSE_SCHEMA } from '../schemas';
import { compileSelection, excludesOnlyMembers, type AttributeSelection, type Projection } from '../select';
import type { CompleteLists } from './complete-lists';
import type { ListQuery } from './parameters';
import { plan } from './plan';
import { compareSortValues, resolveSortPath, sortPositions, sortValue } from './sort';

/** Serialises one resource as the selection asks (UTF-8), reusing the pre-rendered bytes when it can. */
export type ResourceWriter = (item: RenderedResource) => Buffer;

export function resourceWriter(set: ResourceSet, selection: AttributeSelection): ResourceWriter {
  if (excludesOnlyMembers(selection) && set.type.id === 'Group') {
    return (item) => item.bytesWithoutMembers ?? item.bytes;
  }
  const projection: Projection | undefined = compileSelection(set.type.schema, selection);
  return projection ? (item) => Buffer.from(JSON.stringify(projection(item.resource)), 'utf8') : (item) => item.bytes;
}

/** Positions of the set that match the filter, in default (id) order. */
function matching(set: ResourceSet, filter: Filter | undefined): readonly number[] {
  if (!filter) return allPositions(set);
  // Compiled first: an invalid filter is refused even when an index could answer it.
  const whole = compileFilter(filter, set.type.schema);
  const planned = plan(filter, set);
  if (planned && !planned.residual) return planned.positions;
  const candidates = planned?.positions;
  const test = planned?.residual ?? filter;
  const predicate = test === filter ? whole : compileFilter(test, set.type.schema);
  // `meta.version` exists only once a resource is serialised; other filters read the unserialised data.
  const read = mentionsVersion(test) ? (item: RenderedResource) => item.resource : (item: RenderedResource) => item.data;
  const out: number[] = [];
  if (candidates) {
    for (const p of candidates) if (predicate(read(set.item(p)))) out.push(p);
  } else {
    for (let p = 0; p < set.size; p++) if (predicate(read(set.item(p)))) out.push(p);
  }
  return out;
}

function mentionsVersion(filter: Filter): boolean {
  switch (filter.op) {
    case 'and':
    case 'or':
      return mentionsVersion(filter.left) || mentionsVersion(filter.right);
    case 'not':
      return mentionsVersion(filter.filter);
    case 'valuePath':
      return filter.path.attribute.toLowerCase() === 'meta';
    default:
      return filter.path.attribute.toLowerCase() === 'meta' && filter.path.subAttribute?.toLowerCase() !== 'lastmodified' && filter.path.subAttribute?.toLowerCase() !== 'created';
  }
}

function allPositions(set: ResourceSet): readonly number[] {
  return (set.orderings.all ??= Array.from({ length: set.size }, (_, i) => i));
}

export interface ListResult {
  readonly totalResults: number;
  readonly itemsPerPage: number;
  /**
   * The serialised ListResponse (RFC 7644 §3.4.2), UTF-8: one Buffer, or the Buffers it is made of, in order. A page
   * is sent as its parts (the socket takes them in one write), not joined into a copy of a hundred resources whose
   * garbage, outside the heap, drives the collector; only a list the complete-lists cache keeps is joined.
   */
  readonly body: ListBody;
}

export type ListBody = Buffer | readonly Buffer[];

/** A ListResponse joined into one Buffer. */
export interface JoinedList extends ListResult {
  readonly body: Buffer;
}

/** `body` as one Buffer. */
export const joinedBody = (body: ListBody): Buffer => (Buffer.isBuffer(body) ? body : Buffer.concat(body as readonly Buffer[]));

/** The bytes `body` holds, its parts together. */
export function bodyLength(body: ListBody): number {
  if (Buffer.isBuffer(body)) return body.length;
  let length = 0;
  for (const part of body as readonly Buffer[]) length += part.length;
  return length;
}

/** The ListResponse members that say where a page is: RFC 7644 §3.4.2 `startIndex`, or RFC 9865 cursors. */
export type PageMembers = { readonly startIndex: number } | { readonly nextCursor?: string; readonly previousCursor?: string };

/** Where a page of a list starts, and how its ListResponse says so once the list's length is known. */
export interface PageLocation {
  /** 0-based position of the page's first result in the ordered matches. */
  readonly offset: number;
  members(totalResults: number): PageMembers;
}

/** Index paging (RFC 7644 §3.4.2.4): the page at `startIndex`. */
export function byIndex(query: ListQuery): PageLocation {
  return { offset: query.startIndex - 1, members: () => ({ startIndex: query.startIndex }) };
}

/**
 * Lists one resource type: the page `page` locates (by default the query's `startIndex`). With `completeLists`, a
 * large list answered in one page is kept there and a repeated query is answered from it; `queryText` is
 * `JSON.stringify(query)`, when the caller has it already.
 */
export function listResources(
  set: ResourceSet,
  query: ListQuery,
  page: PageLocation = byIndex(query),
  completeLists?: CompleteLists,
  queryText?: string,
): ListResult {
  const key = completeLists ? `${set.version} ${queryText ?? JSON.stringify(query)}` : '';
  const cached = completeLists?.get(key);
  if (cached) return cached;
  const filter = query.filter === undefined ? undefined : parseFilter(query.filter);
  let positions = matching(set, filter);
  if (query.sortBy !== undefined) positions = sortPositions(set, positions, resolveSortPath(set.type.schema, query.sortBy), query.sortOrder);
  const write = resourceWriter(set, query);
  const slice = positions.slice(page.offset, page.offset + query.count);
  const parts = listParts(positions.length, page.members(positions.length), slice.map((p) => write(set.item(p))));
  const result = { totalResults: positions.length, itemsPerPage: slice.length, body: parts };
  if (completeLists && page.offset === 0 && slice.length === positions.length && completeLists.keeps(bodyLength(parts))) {
    const joined = { ...result, body: Buffer.concat(parts) };
    completeLists.offer(key, joined);
    return joined;
  }
  return result;
}

/**
 * Root search across resource types (RFC 7644 §3.4.3): a type whose schema lacks an attribute the filter or
 * `sortBy` names contributes nothing (or sorts last); only when no type knows it is the request refused.
 */
export function searchAll(sets: readonly ResourceSet[], query: ListQuery, page: PageLocation = byIndex(query)): ListResult {
  const filter = query.filter === undefined ? undefined : parseFilter(query.filter);
  const hits: { set: ResourceSet; position: number }[] = [];
  let firstError: ScimError | undefined;
  let understood = 0;
  for (const set of sets) {
    let positions: readonly number[];
    try {
      positions = matching(set, filter);
      understood++;
    } catch (error) {
      if (!(error instanceof ScimError)) throw error;
      firstError ??= error;
      continue;
    }
    for (const position of positions) hits.push({ set, position });
  }
  if (understood === 0 && firstError) throw firstError;

  if (query.sortBy !== undefined) {
    const sortBy = query.sortBy;
    const paths = new Map(sets.map((set) => [set, tryResolveSort(set, sortBy)]));
    if ([...paths.values()].every((p) => p instanceof ScimError)) throw paths.get(sets[0]!) as ScimError;
    const keyed = hits.map((hit, i) => {
      const path = paths.get(hit.set);
      return { hit, i, value: path instanceof ScimError || !path ? undefined : sortValue(hit.set.item(hit.position).data, path) };
    });
    const sign = query.sortOrder === 'descending' ? -1 : 1;
    keyed.sort((a, b) => sign * compareSortValues(a.value, b.value) || a.i - b.i);
    hits.splice(0, hits.length, ...keyed.map((k) => k.hit));
  }
  const writers = new Map(sets.map((set) => [set, resourceWriter(set, query)]));
  const slice = hits.slice(page.offset, page.offset + query.count);
  return listResponse(hits.length, page.members(hits.length), slice.map(({ set, position }) => writers.get(set)!(set.item(position))));
}

function tryResolveSort(set: ResourceSet, sortBy: string) {
  try {
    return resolveSortPath(set.type.schema, sortBy);
  } catch (error) {
    if (error instanceof ScimError) return error;
    throw error;
  }
}

const COMMA = Buffer.from(',');
const LIST_END = Buffer.from(']}');

/**
 * RFC 7644 §3.4.2: `itemsPerPage` is the number actually returned; `Resources` is present even when empty. A cursor
 * page carries `nextCursor` unless it is the last and `previousCursor` unless it is the first (RFC 9865 §2), and no
 * `startIndex`. Resources are serialised UTF-8 (strings are encoded); the body is joined once, with no intermediate
 * string.
 */
export function listResponse(totalResults: number, page: PageMembers, resources: readonly (Buffer | string)[]): JoinedList {
  return { totalResults, itemsPerPage: resources.length, body: Buffer.concat(listParts(totalResults, page, resources)) };
}

/** The head of the first page that holds exactly one resource, the answer of a lookup that finds one. */
const ONE_RESOURCE_HEAD = Buffer.from(listHead(1, 1, { startIndex: 1 }));

/** `listResponse(1, { startIndex: 1 }, [resource]).body`, joined around the resource with nothing made per call. */
export function oneResourceList(resource: Buffer): Buffer {
  return Buffer.concat([ONE_RESOURCE_HEAD, resource, LIST_END], ONE_RESOURCE_HEAD.length + resource.length + LIST_END.length);
}

/** The same ListResponse as the Buffers it is made of. */
function listParts(totalResults: number, page: PageMembers, resources: readonly (Buffer | string)[]): Buffer[] {
  const parts: Buffer[] = [Buffer.from(listHead(totalResults, resources.length, page))];
  resources.forEach((resource, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(typeof resource === 'string' ? Buffer.from(resource, 'utf8') : resource);
  });
  parts.push(LIST_END);
  return parts;
}

/** A ListResponse up to the opening of its `Resources` array. */
function listHead(totalResults: number, itemsPerPage: number, page: PageMembers): string {
  const where = 'startIndex' in page ? `"startIndex":${page.startIndex},` : cursorMembers(page);
  return `{"schemas":["${LIST_RESPONSE_SCHEMA}"],"totalResults":${totalResults},"itemsPerPage":${itemsPerPage},${where}"Resources":[`;
}

function cursorMembers(page: { readonly nextCursor?: string; readonly previousCursor?: string }): string {
  return `${page.previousCursor === undefined ? '' : `"previousCursor":${JSON.stringify(page.previousCursor)},`}${page.nextCursor === undefined ? '' : `"nextCursor":${JSON.stringify(page.nextCursor)},`}`;
}
