/**
 * The lookup IGA tools send before a provisioning decision and to fetch one person: `GET /Users?filter=userName eq
 * "<name>"`, alone or with the first page's `startIndex=1` and a `count`. It is answered from the userName index
 * without the general list's work (query parsing, filter parsing, compilation and planning, the complete-lists
 * cache), which costs more than the lookup itself (BENCHMARKS.md, "Lookups by userName").
 *
 * Only a request the general path would answer the same way is taken:
 * - one `filter` parameter holding `userName eq "…"` (attribute and operator in ASCII letters of either case, single
 *   spaces, nothing around) whose string has no escape, quote or control character, so its value is the text between
 *   the quotes;
 * - besides it, at most `startIndex=1` and a `count` of 1 or more, in digits (a lookup finds at most one person, so
 *   the page holds the whole answer), parameter names in any case;
 * - no character in the URL that makes Express reparse it with Node's legacy URL parser (a `#` and some white space),
 *   which reads another query than the one written.
 * Anything else, including every filter the general path refuses, goes the general way.
 */
import { MAX_FILTER_LENGTH } from '../scim/filter';

/** Letters spelt out in both cases: with the `i` flag, Unicode's case folding would also take `ſ` for `s`. */
const LOOKUP = /^[Uu][Ss][Ee][Rr][Nn][Aa][Mm][Ee] [Ee][Qq] "([^"\\\p{Cc}]*)"$/u;

/** What makes `parseurl`, which Express reads the path and query with, hand a URL to Node's legacy `url.parse`. */
const REPARSED = /[\t\n\f\r #\u00a0\ufeff]/;

/**
 * Whether Express reads `url` with Node's legacy URL parser, which cuts it at a `#` and reads white space its own way:
 * a path matched by hand (the fast path, a lookup) must then be left to Express.
 */
export const expressReparses = (url: string): boolean => REPARSED.test(url);

const COUNT = /^[1-9][0-9]{0,8}$/;

/**
 * The userName a request URL (path and query) looks up, as written (the index folds its case), or undefined when the
 * URL asks for anything else.
 */
export function userNameLookup(url: string): string | undefined {
  const question = url.indexOf('?');
  // `filter=` and the shortest lookup, `userName eq ""`.
  if (question < 0 || url.length - question < 22 || expressReparses(url)) return undefined;
  let filter: string | undefined;
  let startIndex = false;
  let count = false;
  for (const parameter of url.slice(question + 1).split('&')) {
    const equals = parameter.indexOf('=');
    // A name is compared as written: one the query parser would decode (`%66ilter`) is left to it.
    const name = parameter.slice(0, equals).toLowerCase();
    const value = parameter.slice(equals + 1);
    if (equals < 0) return undefined;
    if (name === 'filter' && filter === undefined) {
      filter = decode(value);
      if (filter === undefined) return undefined;
    } else if (name === 'startindex' && !startIndex && value === '1') startIndex = true;
    else if (name === 'count' && !count && COUNT.test(value)) count = true;
    else return undefined;
  }
  if (filter === undefined || filter.length > MAX_FILTER_LENGTH) return undefined;
  return LOOKUP.exec(filter)?.[1];
}

/** A query value as the query string parser decodes it (`+` is a space, then percent-decoding), if it is valid UTF-8. */
function decode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
}
