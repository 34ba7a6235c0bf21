/**
 * A small client for Xero Identity: the token endpoint (client credentials, refresh token, authorization code with
 * PKCE), revocation, and `GET /connections` (docs/xero.md, "Hosts and endpoints"). Every URL comes from configuration.
 *
 * Building a request and checking its response are separate functions, so the checks run on canned responses;
 * `IdentityClient` only joins them with an injected `fetch`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type Clock, systemClock } from './clock';
import { type Headers, XeroError, badResponse, httpFailure, toXeroError } from './errors';

export interface IdentityOptions {
  /** e.g. https://identity.xero.com */
  readonly identityUrl: string;
  /** e.g. https://api.xero.com (for /connections) */
  readonly apiUrl: string;
  /** e.g. https://login.xero.com (for the consent page) */
  readonly loginUrl: string;
  readonly clientId: string;
  /** Absent for a PKCE-only client; then client_id goes in the body (RFC 6749 §2.3.1). */
  readonly clientSecret?: string;
  /** Real-time bound on every call. */
  readonly timeoutMs: number;
}

export interface IdentityDeps {
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
}

/** A token endpoint answer (RFC 6749 §5.1), with the expiry made absolute. */
export interface TokenSet {
  readonly accessToken: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly refreshToken?: string;
  readonly scope?: string;
  readonly idToken?: string;
}

/** One entry of `GET /connections`: an organisation (tenant) the token may reach. */
export interface Connection {
  readonly id: string;
  readonly tenantId: string;
  readonly tenantType: string;
  readonly tenantName: string;
  readonly authEventId?: string;
  readonly createdDateUtc?: string;
  readonly updatedDateUtc?: string;
}

export interface HttpRequest {
  readonly url: string;
  readonly init: RequestInit & { method: string; headers: Record<string, string> };
}

export type Grant =
  | { readonly type: 'client_credentials'; readonly scope?: string }
  | { readonly type: 'refresh_token'; readonly refreshToken: string }
  | { readonly type: 'authorization_code'; readonly code: string; readonly redirectUri: string; readonly codeVerifier: string };

// ---- requests -------------------------------------------------------------------------------------------------

function clientAuth(options: IdentityOptions, form: URLSearchParams): Record<string, string> {
  if (options.clientSecret === undefined) {
    form.set('client_id', options.clientId);
    return {};
  }
  // RFC 6749 §2.3.1: id and secret are form-encoded before Basic encoding.
  const user = encodeURIComponent(options.clientId);
  const pass = encodeURIComponent(options.clientSecret);
  return { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` };
}

export function tokenRequest(options: IdentityOptions, grant: Grant): HttpRequest {
  const form = new URLSearchParams({ grant_type: grant.type });
  if (grant.type === 'client_credentials' && grant.scope) form.set('scope', grant.scope);
  if (grant.type === 'refresh_token') form.set('refresh_token', grant.refreshToken);
  if (grant.type === 'authorization_code') {
    form.set('code', grant.code);
    form.set('redirect_uri', grant.redirectUri);
    form.set('code_verifier', grant.codeVerifier);
  }
  const headers = { ...clientAuth(options, form), 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  return { url: `${options.identityUrl}/connect/token`, init: { method: 'POST', headers, body: form.toString() } };
}

/** RFC 7009 §2.1: revokes a refresh token (and with it the grant's access tokens). */
export function revocationRequest(options: IdentityOptions, refreshToken: string): HttpRequest {
  const form = new URLSearchParams({ token: refreshToken, token_type_hint: 'refresh_token' });
  const headers = { ...clientAuth(options, form), 'content-type': 'application/x-www-form-urlencoded' };
  return { url: `${options.identityUrl}/connect/revocation`, init: { method: 'POST', headers, body: form.toString() } };
}

export function connectionsRequest(options: IdentityOptions, accessToken: string): HttpRequest {
  return {
    url: `${options.apiUrl}/connections`,
    init: { method: 'GET', headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } },
  };
}

/** The consent page URL for the authorization-code grant with PKCE (RFC 7636 §4.3). */
export function authorizationUrl(
  options: IdentityOptions,
  params: { redirectUri: string; scope: string; state: string; codeChallenge: string },
): string {
  const url = new URL(`${options.loginUrl}/identity/connect/authorize`);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: options.clientId,
    redirect_uri: params.redirectUri,
    scope: params.scope,
    state: params.state,
    code_challenge: params.codeChallenge,
    code_challenge_method: 'S256',
  }).toString();
  return url.toString();
}

/** RFC 7636 §4.1–4.2: a random verifier and its S256 challenge. */
export function createPkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

// ---- responses ------------------------------------------------------------------------------------------------

const tokenBody = z.object({
  access_token: z.string().min(1),
  expires_in: z.coerce.number().positive(),
  token_type: z.string().refine((t) => t.toLowerCase() === 'bearer', 'token_type must be Bearer'),
  refresh_token: z.string().min(1).optional(),
  scope: z.string().optional(),
  id_token: z.string().optional(),
});

const connectionsBody = z.array(
  z.object({
    id: z.string().min(1),
    tenantId: z.string().min(1),
    tenantType: z.string(),
    tenantName: z.string().nullish(),
    authEventId: z.string().nullish(),
    createdDateUtc: z.string().nullish(),
    updatedDateUtc: z.string().nullish(),
  }),
);

function responseHeaders(response: Response): Headers {
  const out: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') out[name.toLowerCase()] = value;
  });
  return out;
}

async function failIfNotOk(response: Response, operation: string, now: number): Promise<string> {
  const text = await response.text();
  if (!response.ok) throw toXeroError(httpFailure(response.status, responseHeaders(response), text), operation, now);
  return text;
}

function parseJson(text: string, operation: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badResponse(operation, 'body is not JSON', err);
  }
}

export async function readTokenResponse(response: Response, operation: string, now: number): Promise<TokenSet> {
  const text = await failIfNotOk(response, operation, now);
  const parsed = tokenBody.safeParse(parseJson(text, operation));
  if (!parsed.success) {
    // Name the fields only: the values may be tokens.
    throw badResponse(operation, `invalid token response at ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
  }
  const body = parsed.data;
  return {
    accessToken: body.access_token,
    expiresAt: now + body.expires_in * 1000,
    ...(body.refresh_token === undefined ? {} : { refreshToken: body.refresh_token }),
    ...(body.scope === undefined ? {} : { scope: body.scope }),
    ...(body.id_token === undefined ? {} : { idToken: body.id_token }),
  };
}

export async function readConnectionsResponse(
  response: Response,
  now: number,
): Promise<{ connections: Connection[]; headers: Headers }> {
  const operation = 'GET connections';
  const text = await failIfNotOk(response, operation, now);
  const parsed = connectionsBody.safeParse(parseJson(text, operation));
  if (!parsed.success) throw badResponse(operation, parsed.error.issues[0]?.message ?? 'invalid connections list');
  const connections = parsed.data.map(
    (c): Connection => ({
      id: c.id,
      tenantId: c.tenantId,
      tenantType: c.tenantType,
      tenantName: c.tenantName ?? '',
      ...(c.authEventId ? { authEventId: c.authEventId } : {}),
      ...(c.createdDateUtc ? { createdDateUtc: c.createdDateUtc } : {}),
      ...(c.updatedDateUtc ? { updatedDateUtc: c.updatedDateUtc } : {}),
    }),
  );
  return { connections, headers: responseHeaders(response) };
}

async function readRevocationResponse(response: Response, now: number): Promise<void> {
  await failIfNotOk(response, 'token revocation', now);
}

// ---- client ---------------------------------------------------------------------------------------------------

/**
 * Loads Node's implementation of `fetch` (undici), which Node otherwise loads on the first call: about 50 ms of CPU.
 * `serve` calls it before the directory state is restored, since a restart's first sync calls Xero right after that,
 * while the first SCIM requests are being answered.
 */
export async function loadFetch(): Promise<void> {
  await fetch('data:,');
}

export class IdentityClient {
  private readonly fetch: typeof fetch;
  private readonly clock: Clock;

  constructor(
    readonly options: IdentityOptions,
    deps: IdentityDeps = {},
  ) {
    this.fetch = deps.fetch ?? globalThis.fetch;
    this.clock = deps.clock ?? systemClock;
  }

  async token(grant: Grant): Promise<TokenSet> {
    const operation = `token (${grant.type})`;
    const response = await this.send(tokenRequest(this.options, grant), operation);
    // Expiry counts from when the answer arrived.
    return this.guard(readTokenResponse(response, operation, this.clock.now()), operation);
  }

  async revoke(refreshToken: string): Promise<void> {
    const response = await this.send(revocationRequest(this.options, refreshToken), 'token revocation');
    await this.guard(readRevocationResponse(response, this.clock.now()), 'token revocation');
  }

  async connections(accessToken: string, signal?: AbortSignal): Promise<{ connections: Connection[]; headers: Headers }> {
    const response = await this.send(connectionsRequest(this.options, accessToken), 'GET connections', signal);
    return this.guard(readConnectionsResponse(response, this.clock.now()), 'GET connections');
  }

  authorizationUrl(params: { redirectUri: string; scope: string; state: string; codeChallenge: string }): string {
    return authorizationUrl(this.options, params);
  }

  /** A body cut off mid-read (timeout, reset) is a transport failure too. */
  private async guard<T>(reading: Promise<T>, operation: string): Promise<T> {
    try {
      return await reading;
    } catch (err) {
      throw toXeroError(err, operation, this.clock.now());
    }
  }

  private async send(request: HttpRequest, operation: string, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    try {
      return await this.fetch(request.url, {
        ...request.init,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        redirect: 'error',
      });
    } catch (err) {
      throw err instanceof XeroError ? err : toXeroError(err, operation, this.clock.now());
    }
  }
}
