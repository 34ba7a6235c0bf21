/**
 * RFC 7644 §3.4.2.2 filtering: `parseFilter` turns the query text into a tree (syntax errors → 400
 * invalidFilter with the position), `compileFilter` resolves it against a resource type's schema and returns a
 * predicate over rendered SCIM resources (unknown attributes and unsupported constructs → 400 invalidFilter).
 *
 * Choices the RFC leaves open:
 * - `x eq null` means "x is not present" and `x ne null` "x is present" (RFC 7643 §2.5: null = unassigned);
 *   any other operator with null is invalidFilter.
 * - `ne` is the complement of `eq`: true when the attribute is missing, and on a multi-valued attribute true only
 *   when no value equals, so `x ne v` and `not (x eq v)` always agree.
 * - An unqualified name missing from the core schema resolves to the one extension declaring it (RFC 7644
 *   §3.10: clients SHOULD, not MUST, qualify extension attributes); declared by several → invalidFilter.
 * - `not` takes `not (…)` as in RFC 7644 Figure 1, and also a bare `not x eq v`, negating the one expression after it.
 * - A dateTime literal without a zone is read as UTC; any number of fractional digits compares as an instant.
 */
export type { AttributePath, CompareOp, CompareValue, Filter } from './ast';
export { parseAttributePath, parseFilter, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from './parse';
export { compileFilter, equalityKey, resolvePath, type ResolvedPath, type ResourcePredicate } from './compile';
export { formatFilter } from './format';
export { compareInstants, parseInstant, type Instant } from './datetime';
