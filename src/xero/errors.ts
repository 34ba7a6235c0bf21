/**
 * Every failure to reach or understand Xero becomes one `XeroError` with a stable `code`, here and only here
 * (`toXeroError`). xero-node rejects with a JSON string, not an Error (docs/xero.md, "xero-node 20.0.0"); fetch rejects
 * with a TypeError whose `cause` names the socket error; the identity client hands over raw HTTP failures.
 * Messages never carry tokens or secrets: bodies are summarised and anything token-shaped is redacted.
 */

export type XeroErrorCode =
  | 'XERO_RATE_LIMITED'
  | 'XERO_DAILY_LIMIT'
  | 'XERO_UNAUTHORIZED'
  | 'XERO_FORBIDDEN'
  | 'XERO_NOT_FOUND'
  | 'XERO_BAD_REQUEST'
  | 'XERO_SERVER_ERROR'
  | 'XERO_TIMEOUT'
  | 'XERO_NETWORK'
  | 'XERO_INVALID_GRANT'
  | 'XERO_INVALID_CLIENT'
  | 'XERO_BAD_RESPONSE'
  | 'XERO_NOT_CONFIGURED'
  /** The caller stopped (shutdown) while the call waited for room or for a retry. */
  | 'XERO_CANCELLED'
  /** STATE_DIR refused a write of a rotated token: it is held in memory and stored before any use. */
  | 'XERO_STATE_NOT_WRITABLE'
  /**
   * A shared token store (Redis) cannot be reached, or its lock could not be had in time: no refresh token is
   * redeemed that could not be stored, so the renewal waits for the store.
   */
  | 'XERO_TOKEN_STORE_UNAVAILABLE'
  /** A replica that does not hold the leader lease may not redeem the shared refresh token. */
  | 'XERO_NOT_LEADER';

const RETRYABLE: ReadonlySet<XeroErrorCode> = new Set([
  'XERO_RATE_LIMITED',
  'XERO_SERVER_ERROR',
  'XERO_TIMEOUT',
  'XERO_NETWORK',
  'XERO_TOKEN_STORE_UNAVAILABLE',
  'XERO_NOT_LEADER',
]);

export type Headers = Readonly<Record<string, string>>;

export class XeroError extends Error {
  override readonly name = 'XeroError';
  readonly code: XeroErrorCode;
  /** Upstream HTTP status; undefined when no response arrived. */
  readonly status: number | undefined;
  /** Response headers, lower-cased names (rate-limit headers, Retry-After, …). */
  readonly headers: Headers;
  /** From `Retry-After` (seconds), on 429 and some 503s. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: XeroErrorCode,
    message: string,
    options: { status?: number; headers?: Headers; retryAfterSeconds?: number; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.headers = options.headers ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** Worth trying again later: rate limits (after Retry-After), 5xx, timeouts and broken connections. */
  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

/** A non-2xx answer seen by this project's own fetch-based clients, handed to `toXeroError`. */
export interface HttpFailure {
  readonly kind: 'http-failure';
  readonly status: number;
  readonly headers: Headers;
  /** Body text (possibly empty). */
  readonly body: string;
}

export function httpFailure(status: number, headers: Headers, body: string): HttpFailure {
  return { kind: 'http-failure', status, headers, body };
}

/** A response that arrived but is not what the protocol promises (bad JSON, missing fields). */
export function badResponse(operation: string, detail: string, cause?: unknown): XeroError {
  return new XeroError('XERO_BAD_RESPONSE', `${operation}: unexpected response from Xero (${redact(detail)})`, { cause });
}

/**
 * The one translation of anything thrown while talking to Xero into a `XeroError`.
 * @param operation what was being done, e.g. "GET Users", for the message
 * @param now for an HTTP-date `Retry-After`
 */
export function toXeroError(reason: unknown, operation: string, now: number = Date.now()): XeroError {
  if (reason instanceof XeroError) return reason;
  if (typeof reason === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(reason);
    } catch {
      return badResponse(operation, `unparseable rejection: ${reason.slice(0, 120)}`);
    }
    return toXeroError(parsed, operation, now);
  }
  if (isHttpFailure(reason)) return fromHttp(reason.status, reason.headers, reason.body, operation, now, undefined);
  if (isSdkRejection(reason)) {
    const { headers } = reason.response;
    const statusCode = reason.response.statusCode ?? reason.response.status;
    const body = 'body' in reason.response ? reason.response.body : reason.response.data;
    const normalised = normaliseHeaders(headers);
    if (!statusCode) return fromTransport(typeof body === 'string' ? body : '', undefined, operation, reason);
    return fromHttp(statusCode, normalised, body, operation, now, reason);
  }
  // Duck-typed: DOMException and errors from another realm are not `instanceof Error`.
  const error = asObject(reason);
  if (error && typeof error['name'] === 'string' && typeof error['message'] === 'string') {
    if (error['name'] === 'AbortError' || error['name'] === 'TimeoutError') {
      return new XeroError('XERO_TIMEOUT', `${operation}: no answer from Xero in time`, { cause: reason });
    }
    const code = errnoCode(error['cause']) ?? errnoCode(error);
    return fromTransport(error['message'], code, operation, reason);
  }
  return badResponse(operation, 'unrecognised failure', reason);
}

function fromTransport(message: string, errno: string | undefined, operation: string, cause: unknown): XeroError {
  const text = `${errno ?? ''} ${message}`;
  if (/ETIMEDOUT|ESOCKETTIMEDOUT|ECONNABORTED|UND_ERR_.*TIMEOUT|timeout of \d+ms exceeded/i.test(text)) {
    return new XeroError('XERO_TIMEOUT', `${operation}: no answer from Xero in time`, { cause });
  }
  const network = errno !== undefined || /socket hang up|fetch failed|network|ECONN|ENOTFOUND|EAI_AGAIN|EPIPE|ENETUNREACH|EHOSTUNREACH/i.test(message);
  if (!network) {
    // Not a transport failure (e.g. the SDK refusing its arguments): not worth retrying.
    return badResponse(operation, `unexpected failure: ${message.slice(0, 120)}`, cause);
  }
  const what = errno ?? (/socket hang up/i.test(message) ? 'connection reset' : 'connection failed');
  return new XeroError('XERO_NETWORK', `${operation}: could not reach Xero (${redact(what)})`, { cause });
}

function fromHttp(status: number, headers: Headers, body: unknown, operation: string, now: number, cause: unknown): XeroError {
  const retryAfterSeconds = parseRetryAfter(headers['retry-after'], now);
  const detail = summariseBody(body);
  const options = { status, headers, retryAfterSeconds, cause };
  const say = (what: string): string => `${operation}: ${status} ${what}${detail ? ` (${detail})` : ''}`;
  if (status === 429) {
    // X-Rate-Limit-Problem names the limit hit (minute, day/daily, appminute, concurrent; docs/xero.md, "Rate limits").
    const problem = (headers['x-rate-limit-problem'] ?? '').toLowerCase();
    if (problem === 'day' || problem === 'daily') {
      return new XeroError('XERO_DAILY_LIMIT', `${operation}: Xero's daily call limit for this organisation is used up`, options);
    }
    return new XeroError('XERO_RATE_LIMITED', `${operation}: Xero rate limit reached (${problem || 'unspecified'})`, options);
  }
  const oauthError = oauthErrorCode(body);
  if (oauthError === 'invalid_grant') {
    return new XeroError('XERO_INVALID_GRANT', `${operation}: Xero refused the grant (invalid_grant)`, options);
  }
  if (oauthError === 'invalid_client' || (status === 401 && operation.startsWith('token'))) {
    return new XeroError('XERO_INVALID_CLIENT', `${operation}: Xero refused the client credentials (invalid_client)`, options);
  }
  if (status === 401) return new XeroError('XERO_UNAUTHORIZED', say('unauthorised'), options);
  if (status === 403) return new XeroError('XERO_FORBIDDEN', say('forbidden'), options);
  if (status === 404) return new XeroError('XERO_NOT_FOUND', say('not found'), options);
  if (status >= 500) return new XeroError('XERO_SERVER_ERROR', say('server error'), options);
  if (status >= 400) return new XeroError('XERO_BAD_REQUEST', say('bad request'), options);
  return new XeroError('XERO_BAD_RESPONSE', say('unexpected status'), options);
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

function oauthErrorCode(body: unknown): string | undefined {
  const value = asObject(typeof body === 'string' ? tryJson(body) : body)?.['error'];
  return typeof value === 'string' ? value : undefined;
}

/** A short, secret-free description of an error body (Xero problem details, validation errors, OAuth errors). */
function summariseBody(body: unknown): string {
  const parsed = typeof body === 'string' ? (tryJson(body) ?? body) : body;
  const object = asObject(parsed);
  let text = '';
  if (object) {
    const pick = (key: string): string => (typeof object[key] === 'string' ? (object[key] as string) : '');
    text = [pick('error'), pick('error_description'), pick('Title'), pick('Detail'), pick('Message')]
      .filter(Boolean)
      .join(': ');
  } else if (typeof parsed === 'string') {
    text = parsed.replace(/<[^>]*>/g, ' ');
  }
  return redact(text.replace(/\s+/g, ' ').trim()).slice(0, 200);
}

/** Anything that looks like a token (long base64url/JWT-ish runs) never reaches a message. */
function redact(text: string): string {
  return text.replace(/[A-Za-z0-9_\-.~+/=]{32,}/g, '[redacted]');
}

export function normaliseHeaders(headers: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const object = asObject(headers);
  if (!object) return out;
  for (const [name, value] of Object.entries(object)) {
    const key = name.toLowerCase();
    if (key === 'set-cookie' || key === 'authorization') continue;
    if (typeof value === 'string') out[key] = value;
    else if (typeof value === 'number') out[key] = String(value);
    else if (Array.isArray(value)) out[key] = value.join(', ');
  }
  return out;
}

function isHttpFailure(value: unknown): value is HttpFailure {
  return asObject(value)?.['kind'] === 'http-failure';
}

interface SdkRejection {
  // xero-node's ApiError shape; `status`/`data` if it ever passes an AxiosResponse through.
  response: { statusCode?: number; status?: number; headers?: unknown; body?: unknown; data?: unknown };
}

function isSdkRejection(value: unknown): value is SdkRejection {
  const response = asObject(asObject(value)?.['response']);
  return response !== undefined && ('statusCode' in response || 'status' in response);
}

function errnoCode(value: unknown): string | undefined {
  const code = asObject(value)?.['code'];
  return typeof code === 'string' ? code : undefined;
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
