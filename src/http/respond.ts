/**
 * Sending SCIM responses: the media type (RFC 7644 §3.1, §8.1), weak ETags and conditional GETs
 * (RFC 7644 §3.14, RFC 9110 §13.1.2).
 */
import { hash } from 'node:crypto';
import type { Request, Response } from 'express';
import { endThisTurn } from './turn-writes';

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

/** RFC 9110 §13.1.2: If-None-Match uses weak comparison; `*` matches any current representation. */
function matchesIfNoneMatch(req: Request, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  const wanted = opaque(etag);
  return header.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === wanted);
}

/**
 * Sends a serialised SCIM body. With an ETag, a matching If-None-Match on a GET/HEAD gets 304 and no body.
 * SCIM answers hold personal data: caches may keep them only privately, and must revalidate. The head is written
 * now; the body leaves with the turn's other answers (`turn-writes.ts`).
 */
export function sendScim(req: Request, res: Response, status: number, body: string | Buffer, etag?: string): void {
  if (etag !== undefined && notModified(req, res, etag)) return;
  // Written directly: Express's `send` would re-parse the content type and re-check freshness, both decided here.
  // Node leaves the body out of an answer to HEAD by itself.
  res.setHeader('Cache-Control', 'private, no-cache');
  if (etag !== undefined) res.setHeader('ETag', etag);
  res.setHeader('Content-Type', SCIM_CONTENT_TYPE);
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.writeHead(status);
  endThisTurn(res, body);
}

/** Answers 304 (with the ETag) when a GET/HEAD's If-None-Match matches; returns whether it did. */
export function notModified(req: Request, res: Response, etag: string): boolean {
  if ((req.method !== 'GET' && req.method !== 'HEAD') || !matchesIfNoneMatch(req, etag)) return false;
  res.set('Cache-Control', 'private, no-cache').set('ETag', etag).status(304).end();
  return true;
}

/** The same, for bodies not pre-serialised. */
export function sendScimJson(req: Request, res: Response, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  sendScim(req, res, status, text, weakETag(text));
}
