/**
 * The security headers of every response. helmet decides them (its defaults, with a content security policy for a
 * JSON-only API), but they are the same on every response, so they are computed once, by running helmet against
 * a recording response at startup, and then set by one middleware: helmet's twelve middlewares per request cost
 * more than the headers themselves (BENCHMARKS.md, "The layers every request passes"). Those that matter only to an
 * HTML document go with the HTML pages alone (`DOCUMENT_HEADERS`: the status page, `xero-scim auth`'s consent page).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import helmet from 'helmet';

/** Only JSON is served here: nothing may load, frame or submit anything. */
const HELMET_OPTIONS = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
} as const;

/**
 * Headers of helmet's that a browser acts on only for an HTML document it renders (window isolation, agent clusters,
 * link prefetching, the retired XSS filter) or only in software no longer made (Internet Explorer 8's downloads,
 * Flash's and Acrobat's policy files). Every answer but the HTML pages is JSON, where they do nothing; each field
 * costs a serving request its validation and bytes (BENCHMARKS.md, "The layers every request passes").
 */
const DOCUMENT_ONLY: ReadonlySet<string> = new Set([
  'cross-origin-opener-policy',
  'origin-agent-cluster',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
]);

const HELMET_HEADERS = recordHelmet();

/**
 * The headers every answer carries, as helmet sets them and in its order, `[name, value]`: the content security
 * policy, framing, sniffing, referrer, cross-origin resource and transport policies.
 */
export const SECURITY_HEADERS: readonly (readonly [string, string])[] = HELMET_HEADERS.filter(([name]) => !DOCUMENT_ONLY.has(name.toLowerCase()));

/** helmet's other headers, which the HTML pages carry as well. */
export const DOCUMENT_HEADERS: readonly (readonly [string, string])[] = HELMET_HEADERS.filter(([name]) => DOCUMENT_ONLY.has(name.toLowerCase()));

function recordHelmet(): [string, string][] {
  const recorded: [string, string][] = [];
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      recorded.push([name, Array.isArray(value) ? value.join(', ') : String(value)]);
      return response;
    },
    removeHeader() {},
  };
  let finished = false;
  helmet(HELMET_OPTIONS)({ headers: {} } as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    finished = true;
  });
  // helmet runs synchronously for static options; if a later version did not, failing here beats serving without.
  if (!finished || recorded.length === 0) throw new Error('helmet did not produce its security headers synchronously');
  return recorded;
}

/** The same headers as `writeHead`'s flat list of fields: `[name, value, name, value, …]`. */
export const SECURITY_HEADER_FIELDS: readonly string[] = SECURITY_HEADERS.flat();

/** Sets the security headers on `res`. */
export function setSecurityHeaders(res: ServerResponse): void {
  setAll(res, SECURITY_HEADERS);
}

/** Sets the headers an HTML document carries beside every answer's (`DOCUMENT_HEADERS`). */
export function setDocumentHeaders(res: ServerResponse): void {
  setAll(res, DOCUMENT_HEADERS);
}

function setAll(res: ServerResponse, headers: readonly (readonly [string, string])[]): void {
  for (const [name, value] of headers) res.setHeader(name, value);
}

/** The security headers as middleware (helmet would also remove `X-Powered-By`, which the app never sets). */
export function securityHeaders() {
  return (_req: Request, res: Response, next: NextFunction): void => {
    setSecurityHeaders(res);
    next();
  };
}

/** The same headers as raw header lines, for answers Node writes itself before Express runs. */
export function securityHeaderLines(): string {
  return SECURITY_HEADERS.map(([name, value]) => `${name}: ${value}`).join('\r\n');
}
