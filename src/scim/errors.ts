/**
 * RFC 7644 §3.12 errors. One class, small factories named after the wire `scimType`; one renderer.
 */

export const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/** RFC 7644 §3.12 Table 9 `scimType` values this server can send, and the three RFC 9865 §2.1 adds for cursor paging. */
export type ScimType =
  | 'invalidFilter'
  | 'tooMany'
  | 'uniqueness'
  | 'mutability'
  | 'invalidSyntax'
  | 'invalidPath'
  | 'noTarget'
  | 'invalidValue'
  | 'invalidVers'
  | 'sensitive'
  | 'invalidCursor'
  | 'expiredCursor'
  | 'invalidCount';

export class ScimError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly scimType?: ScimType,
    /** Extra response headers, e.g. `Allow`, `Retry-After`, `WWW-Authenticate`. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(detail);
    this.name = 'ScimError';
  }

  toJSON(): ScimErrorBody {
    const body: ScimErrorBody = { schemas: [ERROR_SCHEMA], status: String(this.status), detail: this.detail };
    if (this.scimType) body.scimType = this.scimType;
    return body;
  }
}

export interface ScimErrorBody {
  schemas: [typeof ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail: string;
}

export const invalidFilter = (detail: string) => new ScimError(400, detail, 'invalidFilter');
export const invalidSyntax = (detail: string) => new ScimError(400, detail, 'invalidSyntax');
export const invalidValue = (detail: string) => new ScimError(400, detail, 'invalidValue');
/** RFC 9865 §2.1: a cursor this server did not issue, or issued for another query. */
export const invalidCursor = (detail: string) => new ScimError(400, detail, 'invalidCursor');
/** RFC 9865 §2.1: a genuine cursor whose snapshot is no longer kept (older than `cursorTimeout`). */
export const expiredCursor = (detail: string) => new ScimError(400, detail, 'expiredCursor');
/** RFC 9865 §2.1: a cursor page's `count` that is not a number or differs from the count its cursor was issued for. */
export const invalidCount = (detail: string) => new ScimError(400, detail, 'invalidCount');
export const notFound = (detail: string) => new ScimError(404, detail);
export const unauthorized = (detail = 'Authentication required: send Authorization: Bearer <token>.') =>
  new ScimError(401, detail, undefined, { 'WWW-Authenticate': 'Bearer realm="xero-scim"' });
export const unavailable = (detail: string, retryAfterSeconds: number) =>
  new ScimError(503, detail, undefined, { 'Retry-After': String(retryAfterSeconds) });
/**
 * A write to this read-only server. RFC 7644 §3.12 prescribes 501 when the "service provider does not support
 * the requested operation"; `Allow` (RFC 9110 §10.2.1) tells the client which methods do work.
 */
export const readOnly = (allow: string) =>
  new ScimError(501, 'This SCIM server is read-only: it serves the Xero directory and accepts no creates, replaces, patches or deletes.', undefined, { Allow: allow });
/** A method that is not a SCIM operation at all on this endpoint (RFC 9110 §15.5.6). */
export const methodNotAllowed = (allow: string) =>
  new ScimError(405, `This endpoint answers only ${allow}.`, undefined, { Allow: allow });
export const forbidden = (detail: string) => new ScimError(403, detail);
/** RFC 7644 §3.12: 501 for an operation the service provider does not support at all. */
export const unsupported = (detail: string) => new ScimError(501, detail);
