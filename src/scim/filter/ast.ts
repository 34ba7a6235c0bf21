/**
 * The filter syntax tree (RFC 7644 §3.4.2.2, Figure 1). Names are kept as written; `compileFilter` resolves
 * them against the schema case-insensitively.
 */

export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

export const COMPARE_OPS: readonly CompareOp[] = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le'];

/** `[schema ":"] attribute ["." subAttribute]` (RFC 7644 §3.10). */
export interface AttributePath {
  schema?: string;
  attribute: string;
  subAttribute?: string;
}

export type CompareValue = string | number | boolean | null;

export type Filter =
  | { op: 'and' | 'or'; left: Filter; right: Filter }
  | { op: 'not'; filter: Filter }
  /** `where` is the bracketed filter of `emails[type eq "work"].value pr`. */
  | { op: 'pr'; path: AttributePath; where?: Filter }
  | { op: CompareOp; path: AttributePath; value: CompareValue; where?: Filter }
  /** `members[value eq "x"]`: the inner filter's paths are relative to `path`. */
  | { op: 'valuePath'; path: AttributePath; filter: Filter };
