/**
 * The lookup IGA tools send most: `GET /Users?filter=userName eq "<name>"`, with nothing else in the query. Entra and
 * Okta send it before every provisioning decision, and pollers to fetch one person. It is answered from the userName
 * index without the general list's work (query parsing, filter parsing, compilation and planning, the complete-lists
 * cache), which costs more than the lookup itself (BENCHMARKS.md, "Lookups by userName").
 *
 * Only a request the general path would answer the same way is taken: exactly one query parameter, named `filter`
 * (in any case), holding `userName eq "…"` (attribute and operator in any case, single spaces, nothing around) whose
 * string has no escape, quote or control character, so its value is the text between the quotes. Anything else,
 * including every filter the general path refuses, goes the general way.
 */
import { MAX_FILTER_LENGTH } from '../scim/filter';

export interface UserNameLookup {
  /** The filter as the general path reads it from the query. */
  readonly filter: string;
  /** The userName it looks up, as written (the index folds its case). */
  readonly userName: string;
}

/** Letters spelt out in both cases: with the `i` flag, Unicode's case folding would also take `ſ` for `s`. */
const LOOKUP = /^[Uu][Ss][Ee][Rr][Nn][Aa][Mm][Ee] [Ee][Qq] "([^"\\\p{Cc}]*)"$/u;

/** The lookup a request URL (path and query) asks for, or undefined when it is anything else. */
export function userNameLookup(url: string): UserNameLookup | undefined {
  const question = url.indexOf('?');
  // `filter=` and the shortest lookup, `userName eq ""`.
  if (question < 0 || url.length - question < 22) return undefined;
  const query = url.slice(question + 1);
  if (query.charCodeAt(6) !== 0x3d /* = */ || query.includes('&') || query.slice(0, 6).toLowerCase() !== 'filter') return undefined;
  let filter: string;
  try {
    // As the query string parser decodes a value: `+` is a space, then percent-decoding.
    filter = decodeURIComponent(query.slice(7).replaceAll('+', ' '));
  } catch {
    return undefined; // not UTF-8 percent-encoding: the general path decides what it means
  }
  if (filter.length > MAX_FILTER_LENGTH) return undefined;
  const match = LOOKUP.exec(filter);
  return match ? { filter, userName: match[1]! } : undefined;
}
