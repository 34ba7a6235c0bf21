/**
 * The query of a list or search request (RFC 7644 §3.4.2 GET parameters, §3.4.3 SearchRequest body), read
 * leniently where the RFC and real clients need it: parameter names case-insensitive (Entra sends `startindex`),
 * `startIndex` below 1 treated as 1, `count` clamped to [0, maxResults] (RFC 7644 §3.4.2.4). A `cursor` (RFC 9865
 * §2, empty on the first page) selects cursor paging instead of index paging.
 */
import { ScimError, invalidCount, invalidCursor, invalidSyntax, invalidValue } from '../errors';
import { parseAttributePath } from '../filter';
import { SEARCH_REQUEST_SCHEMA } from '../schemas';

export interface ListQuery {
  readonly filter?: string;
  readonly sortBy?: string;
  readonly sortOrder: 'ascending' | 'descending';
  /** 1-based (index paging); 1 when the client pages by cursor. */
  readonly startIndex: number;
  readonly count: number;
  /** RFC 9865: present when the client pages by cursor; empty for the first page, else a `nextCursor`/`previousCursor`. */
  readonly cursor?: string;
  readonly attributes?: readonly string[];
  readonly excludedAttributes?: readonly string[];
}

const PARAMETERS = ['filter', 'sortby', 'sortorder', 'startindex', 'count', 'cursor', 'attributes', 'excludedattributes'] as const;
type Parameter = (typeof PARAMETERS)[number];

/** Reads a GET query string (already split by Express). Unknown parameters are ignored. */
export function queryFromParameters(raw: Readonly<Record<string, unknown>>, maxResults: number): ListQuery {
  const values = new Map<Parameter, string>();
  for (const [name, value] of Object.entries(raw)) {
    const lower = name.toLowerCase() as Parameter;
    if (!PARAMETERS.includes(lower)) continue;
    if (values.has(lower) || typeof value !== 'string') throw invalidValue(`The query parameter "${lower}" must be given once.`);
    values.set(lower, value);
  }
  return buildQuery(
    {
      filter: values.get('filter'),
      sortBy: values.get('sortby'),
      sortOrder: values.get('sortorder'),
      startIndex: values.get('startindex'),
      count: values.get('count'),
      cursor: values.get('cursor'),
      attributes: splitList(values.get('attributes')),
      excludedAttributes: splitList(values.get('excludedattributes')),
    },
    maxResults,
  );
}

/** Reads a `POST /.search` body (RFC 7644 §3.4.3). */
export function queryFromSearchRequest(body: unknown, maxResults: number): ListQuery {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidSyntax(`The request body must be a JSON SearchRequest object (schemas: ["${SEARCH_REQUEST_SCHEMA}"]).`);
  }
  const fields = new Map<string, unknown>();
  for (const [name, value] of Object.entries(body)) fields.set(name.toLowerCase(), value);
  const schemas = fields.get('schemas');
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SEARCH_REQUEST_SCHEMA.toLowerCase())) {
    throw invalidSyntax(`The request body must list "${SEARCH_REQUEST_SCHEMA}" in "schemas".`);
  }
  const text = (name: Parameter): string | undefined => {
    const value = fields.get(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && (name === 'startindex' || name === 'count')) return String(value);
    throw invalidValue(`"${name}" in the SearchRequest must be a ${name === 'startindex' || name === 'count' ? 'number' : 'string'}.`);
  };
  const list = (name: Parameter): string[] | undefined => {
    const value = fields.get(name);
    if (value === undefined || value === null) return undefined;
    if (typeof value === 'string') return splitList(value);
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.flatMap((v: string) => splitList(v) ?? []);
    throw invalidValue(`"${name}" in the SearchRequest must be an array of attribute paths.`);
  };
  return buildQuery(
    {
      filter: text('filter'),
      sortBy: text('sortby'),
      sortOrder: text('sortorder'),
      startIndex: text('startindex'),
      count: text('count'),
      cursor: cursorOf(fields.get('cursor')),
      attributes: list('attributes'),
      excludedAttributes: list('excludedattributes'),
    },
    maxResults,
  );
}

/** A SearchRequest's `cursor`: a string, or null/absent for index paging. */
function cursorOf(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalidCursor('"cursor" in the SearchRequest must be a string: empty for the first page, then a nextCursor.');
  return value;
}

interface RawQuery {
  filter?: string;
  sortBy?: string;
  sortOrder?: string;
  startIndex?: string;
  count?: string;
  cursor?: string;
  attributes?: string[];
  excludedAttributes?: string[];
}

function buildQuery(raw: RawQuery, maxResults: number): ListQuery {
  if (raw.attributes?.length && raw.excludedAttributes?.length) {
    // RFC 7644 §3.4.2.5 lets a client send one or the other; both at once has no defined meaning.
    throw invalidValue('Send either "attributes" or "excludedAttributes", not both.');
  }
  requireAttributePaths('attributes', raw.attributes);
  requireAttributePaths('excludedAttributes', raw.excludedAttributes);
  const sortOrder = raw.sortOrder?.trim().toLowerCase();
  if (sortOrder !== undefined && sortOrder !== 'ascending' && sortOrder !== 'descending') {
    throw invalidValue('"sortOrder" must be "ascending" or "descending".');
  }
  const cursor = raw.cursor?.trim();
  if (cursor !== undefined && raw.startIndex?.trim()) {
    throw invalidValue('Page either by "startIndex" (RFC 7644 §3.4.2.4) or by "cursor" (RFC 9865), not both.');
  }
  const startIndex = integer('startIndex', raw.startIndex);
  // RFC 9865 §2.1: in a cursor query a bad count is `invalidCount`; index paging keeps RFC 7644's `invalidValue`.
  const count = integer('count', raw.count, cursor === undefined ? invalidValue : invalidCount);
  const filter = raw.filter?.trim();
  const sortBy = raw.sortBy?.trim();
  return {
    filter: filter || undefined,
    sortBy: sortBy || undefined,
    sortOrder: sortOrder ?? 'ascending',
    startIndex: startIndex === undefined || startIndex < 1 ? 1 : startIndex,
    count: count === undefined ? maxResults : Math.min(Math.max(count, 0), maxResults),
    ...(cursor !== undefined ? { cursor } : {}),
    attributes: raw.attributes?.length ? raw.attributes : undefined,
    excludedAttributes: raw.excludedAttributes?.length ? raw.excludedAttributes : undefined,
  };
}

/**
 * RFC 7644 §3.4.2.5: `attributes` and `excludedAttributes` hold attribute paths (§3.10 `[URN ":"]name["." sub]`). A
 * well-formed path of an attribute this resource type lacks is ignored (a root search names attributes of several
 * types at once), but a malformed one, such as the value filter `emails[type eq "work"]`, is refused rather than
 * dropped: the client would otherwise get resources shaped as it did not ask.
 */
function requireAttributePaths(parameter: string, paths: readonly string[] | undefined): void {
  for (const path of paths ?? []) {
    try {
      parseAttributePath(path);
    } catch (error) {
      if (!(error instanceof ScimError)) throw error;
      throw invalidValue(
        `"${path.slice(0, 100)}" in "${parameter}" is not an attribute path (RFC 7644 §3.10: [schema URN ":"]name["." subAttribute]); a value filter such as emails[type eq "work"] belongs in "filter".`,
      );
    }
  }
}

function integer(name: string, text: string | undefined, refuse: (detail: string) => ScimError = invalidValue): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw refuse(`"${name}" must be an integer, not "${text.slice(0, 40)}".`);
  const value = Number(text);
  // Beyond the safe range every value behaves like "very large" (or "very small") anyway.
  return Number.isSafeInteger(value) ? value : value > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

function splitList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return items.length ? items : undefined;
}
