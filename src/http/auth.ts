/**
 * SCIM client authentication: `Authorization: Bearer <token>` (RFC 6750) against the configured tokens, and
 * optionally HTTP Basic (RFC 7617) with a token as the password, for tools that only speak Basic.
 *
 * Several tokens may be valid at once, so a token can be rotated without downtime. Tokens are compared as
 * SHA-256 digests with `timingSafeEqual`, against every configured token, so timing reveals neither a token's
 * content nor which one matched. Tokens never appear in errors or logs.
 */
import { hash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { ScimError } from '../scim/errors';

export interface AuthOptions {
  readonly tokens: readonly string[];
  readonly basicAuth?: boolean;
}

// One call into the hash, with no Hash object made and collected per request. `hash` answers a hex string in a
// third of the time it takes to answer a Buffer (Node 20 and 24), and turning the hex back into bytes costs less than
// the difference: the digests are still compared as bytes, with `timingSafeEqual`.
const digest = (text: string): Buffer => Buffer.from(hash('sha256', text), 'hex');

/**
 * A predicate over an `Authorization` header: true for `Bearer <token>`, or (with `basicAuth`) HTTP Basic with a
 * token as the password. Shared by the SCIM middleware and the status page.
 */
export function tokenMatcher(options: AuthOptions): (header: string | undefined) => boolean {
  const digests = configuredDigests(options);
  const accepts = (candidate: string): boolean => {
    const presented = digest(candidate);
    let matched = false;
    for (const d of digests) matched = timingSafeEqual(d, presented) || matched;
    return matched;
  };
  return (header) => {
    const parsed = parseAuthorization(header);
    if (parsed.scheme === 'bearer') return accepts(parsed.credentials);
    if (parsed.scheme === 'basic' && options.basicAuth) {
      const password = basicPassword(parsed.credentials);
      return password !== undefined && accepts(password);
    }
    return false;
  };
}

function configuredDigests(options: AuthOptions): Buffer[] {
  const tokens = options.tokens.map((t) => t.trim()).filter(Boolean);
  if (tokens.length === 0) throw new Error('At least one SCIM bearer token must be configured.');
  return tokens.map(digest);
}

function parseAuthorization(header: string | undefined): { scheme: string; credentials: string } {
  if (!header) return { scheme: '', credentials: '' };
  const space = header.indexOf(' ');
  return {
    scheme: (space < 0 ? header : header.slice(0, space)).toLowerCase(),
    credentials: space < 0 ? '' : header.slice(space + 1).trim(),
  };
}

function basicPassword(credentials: string): string | undefined {
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(colon + 1) : undefined;
}

/** Express middleware that passes only authenticated requests; others get a 401 SCIM error. */
export function scimAuth(options: AuthOptions): RequestHandler {
  const matches = tokenMatcher(options);
  const challenge = options.basicAuth ? 'Bearer realm="xero-scim", Basic realm="xero-scim", charset="UTF-8"' : 'Bearer realm="xero-scim"';
  const refuse = (detail: string, error?: 'invalid_token') =>
    new ScimError(401, detail, undefined, {
      'WWW-Authenticate': error ? challenge.replace('Bearer realm="xero-scim"', `Bearer realm="xero-scim", error="${error}"`) : challenge,
    });

  return (req, _res, next) => {
    const header = req.headers.authorization;
    if (!header) return next(refuse(`Authentication required: send "Authorization: Bearer <token>"${options.basicAuth ? ' or HTTP Basic' : ''}.`));
    if (matches(header)) return next();
    const { scheme } = parseAuthorization(header);
    if (scheme === 'bearer') return next(refuse('The bearer token is not valid.', 'invalid_token'));
    if (scheme === 'basic' && options.basicAuth) return next(refuse('The HTTP Basic credentials are not valid.'));
    // The scheme is not echoed: a client that sends a bare token would see it in the answer and in logs.
    return next(refuse(`Unsupported authentication scheme; send "Authorization: Bearer <token>"${options.basicAuth ? ' or HTTP Basic' : ''}.`));
  };
}
