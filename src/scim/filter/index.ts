/**
 * RFC 7644 §3.4.2.2 filtering: `parseFilter` turns the query text into a tree (syntax errors → 400
 * invalidFilter with the position), `compileFilter` resolves it against a resource type's schema and returns a
 * predicate over rendered SCIM resources (unknown attributes and unsupported constructs → 400 invalidFilter).
 */
export type { AttributePath, CompareOp, CompareValue, Filter } from './ast';
export { parseAttributePath, parseFilter, MAX_FILTER_DEPTH, MAX_FILTER_LENGTH } from './parse';
export { compileFilter, resolvePath, type ResolvedPath, type ResourcePredicate } from './compile';
export { formatAttributePath, formatFilter } from './format';
export { compareInstants, parseInstant, type Instant } from './datetime';
