/**
 * Sending SCIM responses: the media type (RFC 7644 §3.1, §8.1), weak ETags and conditional GETs
 * (RFC 7644 §3.14, RFC 9110 §13.1.2).
 */
import { hash } from 'node:crypto';
import type { Request, Response } from 'express';
import { SECURITY_HEADER_FIELDS, setSecurityHeaders } from './security-headers';
import { bodyLength } from '../scim/query/search';
import { type Body, endThisTurn } from './turn-writes';

export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** A weak ETag over some text (used for lists and discovery documents). */
export function weakETag(...parts: readonly (string | Buffer)[]): string {
  // Each part followed by a NUL, hashed in one call (a list's ETag is made on every request).
  const text = parts.every((part) => typeof part === 'string')
    ? `${parts.join('\0')}\0`
    : Buffer.concat(parts.flatMap((part) => [typeof part === 'string' ? Buffer.from(part, 'utf8') : part, NUL]));
  return `W/"${hash('sha1', text, 'base64url')}"`;
}

const NUL = Buffer.of(0);

/**
 * A lookup's answer is the ListResponse of the one resource it finds, or the empty one. So its ETag comes from the
 * resource's own (a digest of all its content, its URL included), with no digest per request, and it stays the same
 * while the person is unchanged, where a list's changes with any change in the directory.
 */
export const lookupETag = (resourceETag: string): string => `W/"1-${resourceETag.slice(3)}`;

/** RFC 9110 §13.1.2: If-None-Match uses weak comparison; `*` matches any current representation. */
function matchesIfNoneMatch(req: Request, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === wanted);
}

/** Where `res.locals` holds the request id of an answer whose security headers and id are deferred. */
const DEFERRED_HEAD = Symbol('deferred head');
const locals = (res: Response) => res.locals as { [DEFERRED_HEAD]?: string | undefined };

/**
 * The security headers and the request id of `res` are sent with its answer's own headers, in one `writeHead` call,
 * instead of one `setHeader` each now: the hot reads' answers (`fast-reads.ts`). Set on a fresh response only.
 * Whatever answers it other than `sendScim` (an error, a 304) sets them first (`setDeferredHead`).
 */
export function deferHead(res: Response, requestId: string): void {
  locals(res)[DEFERRED_HEAD] = requestId;
}

/** Sets the deferred security headers and request id of `res`, if any, as the other answers' middleware would have. */
export function setDeferredHead(res: Response): void {
  const requestId = locals(res)[DEFERRED_HEAD];
  if (requestId === undefined) return;
  locals(res)[DEFERRED_HEAD] = undefined;
  setSecurityHeaders(res);
  res.setHeader('X-Request-Id', requestId);
}

/**
 * Sends a serialised SCIM body. With an ETag, a matching If-None-Match on a GET/HEAD gets 304 and no body.
 * SCIM answers hold personal data: caches may keep them only privately, and must revalidate. The head is written
 * now; the body leaves with the turn's other answers (`turn-writes.ts`).
 */
export function sendScim(req: Request, res: Response, status: number, body: Body, etag?: string): void {
  if (etag !== undefined && notModified(req, res, etag)) return;
  // Written directly: Express's `send` would re-parse the content type and re-check freshness, both decided here.
  // Node leaves the body out of an answer to HEAD by itself.
  // The head as one list of fields. When nothing was set before (a hot read, whose security headers and id are
  // deferred to here), Node builds it without a header map, where a setHeader call per field would validate,
  // lower-case and store each (BENCHMARKS.md, "The hot reads' fast path"). Otherwise Node adds these to the fields
  // already set.
  const requestId = locals(res)[DEFERRED_HEAD];
  locals(res)[DEFERRED_HEAD] = undefined;
  const fields = requestId === undefined ? [] : [...SECURITY_HEADER_FIELDS, 'X-Request-Id', requestId];
  fields.push('Cache-Control', 'private, no-cache');
  if (etag !== undefined) fields.push('ETag', etag);
  fields.push('Content-Type', SCIM_CONTENT_TYPE, 'Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : bodyLength(body)));
  res.writeHead(status, fields);
  endThisTurn(res, body);
}

/** Answers 304 (with the ETag) when a GET/HEAD's If-None-Match matches; returns whether it did. */
export function notModified(req: Request, res: Response, etag: string): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !matchesIfNoneMatch(req, etag)) return false;
  setDeferredHead(res);
  res.set('Cache-Control', 'private, no-cache').set('ETag', etag).status(304).end();
  return true;
}

/** The same, for bodies not pre-serialised. */
export function sendScimJson(req: Request, res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  sendScim(req, res, status, text, weakETag(text));
}
