import { ApiError } from 'xero-node/dist/model/ApiError';
import { XeroError, httpFailure, parseRetryAfter, toXeroError } from '../../src/xero/errors';

/** A rejection exactly as xero-node 20 produces it: JSON.stringify(new ApiError(axiosError).generateError()). */
function sdkRejection(status: number, headers: Record<string, string>, data: unknown): string {
  const axiosError = { message: `Request failed with status code ${status}`, response: { status, headers, data }, request: {} };
  return JSON.stringify(new ApiError(axiosError).generateError());
}

function transportRejection(message: string): string {
  return JSON.stringify(new ApiError({ message, request: {} }).generateError());
}

const NOW = Date.parse('2026-11-27T05:00:00Z');

describe('XeroError: one translation of xero-node rejections (docs/xero.md, "Errors")', () => {
  it.each([
    [401, { Type: null, Title: 'Unauthorized', Status: 401, Detail: 'TokenExpired: token expired at 11/27/2026 04:00:00' }, 'XERO_UNAUTHORIZED'],
    [403, { Type: null, Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful' }, 'XERO_FORBIDDEN'],
    [404, "<html><body>The resource you're looking for cannot be found</body></html>", 'XERO_NOT_FOUND'],
    [400, { ErrorNumber: 10, Type: 'ValidationException', Message: 'A validation exception occurred' }, 'XERO_BAD_REQUEST'],
    [500, '', 'XERO_SERVER_ERROR'],
    [503, 'Service Unavailable', 'XERO_SERVER_ERROR'],
  ] as const)('maps status %i to a stable code', (status, body, code) => {
    const error = toXeroError(sdkRejection(status, { 'content-type': 'application/json' }, body), 'GET Users', NOW);
    expect(error).toBeInstanceOf(XeroError);
    expect(error).toMatchObject({ code, status });
  });

  it('keeps the Xero detail in the message', () => {
    const error = toXeroError(
      sdkRejection(403, {}, { Title: 'Forbidden', Status: 403, Detail: 'AuthenticationUnsuccessful' }),
      'GET Users',
      NOW,
    );
    expect(error.message).toBe('GET Users: 403 forbidden (Forbidden: AuthenticationUnsuccessful)');
  });

  it('reads a minute-limit 429 with its Retry-After and limit headers', () => {
    const headers = {
      'Retry-After': '42',
      'X-Rate-Limit-Problem': 'minute',
      'X-MinLimit-Remaining': '0',
      'X-DayLimit-Remaining': '4321',
      'X-AppMinLimit-Remaining': '9999',
    };
    const error = toXeroError(sdkRejection(429, headers, ''), 'GET Users', NOW);
    expect(error).toMatchObject({ code: 'XERO_RATE_LIMITED', status: 429, retryAfterSeconds: 42, retryable: true });
    expect(error.headers).toMatchObject({ 'x-minlimit-remaining': '0', 'x-daylimit-remaining': '4321' });
    expect(error.headers['x-appminlimit-remaining']).toBe('9999');
  });

  it.each(['day', 'Daily'])('tells a daily-limit 429 (X-Rate-Limit-Problem: %s) apart: never retried in a loop', (problem) => {
    const error = toXeroError(sdkRejection(429, { 'retry-after': '36000', 'x-rate-limit-problem': problem }, ''), 'GET Users', NOW);
    expect(error).toMatchObject({ code: 'XERO_DAILY_LIMIT', retryAfterSeconds: 36000, retryable: false });
  });

  it('reads an HTTP-date Retry-After (RFC 9110 §10.2.3)', () => {
    expect(parseRetryAfter('Fri, 27 Nov 2026 05:01:30 GMT', NOW)).toBe(90);
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
  });

  it.each([
    ['timeout of 30000ms exceeded', 'XERO_TIMEOUT'],
    ['socket hang up', 'XERO_NETWORK'],
    ['connect ECONNREFUSED 127.0.0.1:9', 'XERO_NETWORK'],
    ['read ECONNRESET', 'XERO_NETWORK'],
  ] as const)('maps the transport failure "%s" (status 0) to %s', (message, code) => {
    const error = toXeroError(transportRejection(message), 'GET Users', NOW);
    expect(error).toMatchObject({ code, status: undefined, retryable: true });
  });

  it('maps fetch failures by their cause', () => {
    const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) });
    expect(toXeroError(reset, 'GET connections')).toMatchObject({ code: 'XERO_NETWORK' });
    expect(toXeroError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'GET connections')).toMatchObject({
      code: 'XERO_TIMEOUT',
    });
  });

  it('maps OAuth token errors (RFC 6749 §5.2)', () => {
    expect(toXeroError(httpFailure(400, {}, '{"error":"invalid_grant"}'), 'token (refresh_token)')).toMatchObject({
      code: 'XERO_INVALID_GRANT',
      retryable: false,
    });
    expect(toXeroError(httpFailure(400, {}, '{"error":"invalid_client"}'), 'token (client_credentials)')).toMatchObject({
      code: 'XERO_INVALID_CLIENT',
    });
    expect(toXeroError(httpFailure(401, {}, ''), 'token (client_credentials)')).toMatchObject({ code: 'XERO_INVALID_CLIENT' });
  });

  it('never puts a token into a message', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjFDQUY4RTY2NzcyRDZEQzAyOEQ2NzI2RkQwMjYxNTgxNTcwRUZDMTkiLCJ0eXAiOiJKV1QifQ.eyJuYmYiOjE1ODk';
    const error = toXeroError(httpFailure(400, {}, JSON.stringify({ error: 'invalid_request', error_description: `bad token ${jwt}` })), 'token (refresh_token)');
    expect(error.message).not.toContain(jwt.slice(0, 40));
    expect(error.message).toContain('[redacted]');
  });

  it('does not mistake a programming error for a network failure (no retry loop on it)', () => {
    const error = toXeroError(new Error('Required parameter xeroTenantId was null or undefined when calling getUsers.'), 'GET Users');
    expect(error).toMatchObject({ code: 'XERO_BAD_RESPONSE', retryable: false });
  });

  it('answers XERO_BAD_RESPONSE for a rejection it cannot read, without throwing', () => {
    expect(toXeroError('not json', 'GET Users').code).toBe('XERO_BAD_RESPONSE');
    expect(toXeroError(42, 'GET Users').code).toBe('XERO_BAD_RESPONSE');
  });

  it('passes a XeroError through unchanged', () => {
    const original = new XeroError('XERO_TIMEOUT', 'x');
    expect(toXeroError(original, 'GET Users')).toBe(original);
  });
});
