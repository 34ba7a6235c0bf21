/**
 * The query of a list or search request (RFC 7644 §3.4.2 GET parameters, §3.4.3 SearchRequest body), read
 * leniently where the RFC and real clients need it: parameter names case-insensitive (Entra sends `startindex`),
 * `startIndex` below 1 treated as 1, `count` clamped to [0, maxResults] (RFC 7644 §3.4.2.4).
 */
import { invalidSyntax, invalidValue } from '../errors';
import { SEARCH_REQUEST_SCHEMA } from '../schemas';

export interface ListQuery {
  readonly filter?: string;
  readonly sortBy?: string;
  readonly sortOrder: 'ascending' | 'descending';
  /** 1-based. */
  readonly startIndex: number;
  readonly count: number;
  readonly attributes?: readonly string[];
  readonly excludedAttributes?: readonly string[];
}

const PARAMETERS = ['filter', 'sortby', 'sortorder', 'startindex', 'count', 'attributes', 'excludedattributes'] as const;
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
      attributes: list('attributes'),
      excludedAttributes: list('excludedattributes'),
    },
    maxResults,
  );
}

interface RawQuery {
  filter?: string;
  sortBy?: string;
  sortOrder?: string;
  startIndex?: string;
  count?: string;
  attributes?: string[];
  excludedAttributes?: string[];
}

function buildQuery(raw: RawQuery, maxResults: number): ListQuery {
  if (raw.attributes?.length && raw.excludedAttributes?.length) {
    // RFC 7644 §3.4.2.5 lets a client send one or the other; both at once has no defined meaning.
    throw invalidValue('Send either "attributes" or "excludedAttributes", not both.');
  }
  const sortOrder = raw.sortOrder?.trim().toLowerCase();
  if (sortOrder !== undefined && sortOrder !== 'ascending' && sortOrder !== 'descending') {
    throw invalidValue('"sortOrder" must be "ascending" or "descending".');
  }
  const startIndex = integer('startIndex', raw.startIndex);
  const count = integer('count', raw.count);
  const filter = raw.filter?.trim();
  const sortBy = raw.sortBy?.trim();
  return {
    filter: filter || undefined,
    sortBy: sortBy || undefined,
    sortOrder: sortOrder ?? 'ascending',
    startIndex: startIndex === undefined || startIndex < 1 ? 1 : startIndex,
    count: count === undefined ? maxResults : Math.min(Math.max(count, 0), maxResults),
    attributes: raw.attributes?.length ? raw.attributes : undefined,
    excludedAttributes: raw.excludedAttributes?.length ? raw.excludedAttributes : undefined,
  };
}

function integer(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  if (!/^\s*[+-]?\d+\s*$/.test(text)) throw invalidValue(`"${name}" must be an integer, not "${text.slice(0, 40)}".`);
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
