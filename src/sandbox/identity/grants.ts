import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Clock, SandboxClient } from '../options';
import type { SandboxStore } from '../store';
import { opaqueToken, uuidV5 } from '../ids';
import { signJwt } from './keys';
import { CUSTOM_CONNECTION_SCOPES, KNOWN_SCOPES } from './scopes';

/** RFC 6749 §5.2 error codes, the only thing Xero puts in a token error body: `{"error":"invalid_grant"}`. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope';

export class OAuthError extends Error {
  constructor(readonly error: OAuthErrorCode) {
    super(error);
    this.name = 'OAuthError';
  }
}

/** An app's link to one organisation, as `GET /connections` lists it. */
export interface Connection {
  id: string;
  authEventId: string;
  tenantId: string;
  createdAt: number;
  updatedAt: number;
}

/** What an access token stands for. */
export interface AccessGrant {
  clientId: string;
  scopes: string[];
  expiresAt: number;
  /** The refresh-token chain it came from; absent for client credentials. */
  grantId?: string;
}

export interface TokenSet {
  id_token?: string;
  access_token: string;
  expires_in: number;
  token_type: 'Bearer';
  refresh_token?: string;
  scope: string;
}

interface Grant {
  id: string;
  clientId: string;
  scopes: string[];
  authEventId: string;
  /** Issued through PKCE without a client secret: refreshes may then authenticate with client_id alone. */
  publicClient: boolean;
  nonce?: string;
  revoked: boolean;
  current: string;
}

interface RefreshTokenRecord {
  grantId: string;
  issuedAt: number;
  supersededAt?: number;
}

interface AuthorizationCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  authEventId: string;
  codeChallenge?: string;
  nonce?: string;
  expiresAt: number;
  used: boolean;
}

export interface GrantTimings {
  accessTokenTtlSeconds: number;
  refreshGraceSeconds: number;
  refreshTokenTtlSeconds: number;
}

/** RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED." */
const CODE_TTL_MS = 10 * 60_000;

/**
 * The authorization server's memory: clients, their connections, refresh-token chains and access tokens.
 * Refresh tokens rotate on every use; the previous one keeps working for the grace period
 * (docs/xero.md, "Grants and tokens").
 */
export class Grants {
  private readonly clients = new Map<string, SandboxClient>();
  /** clientId → tenantId (lower case) → connection. */
  private readonly links = new Map<string, Map<string, Connection>>();
  private readonly grants = new Map<string, Grant>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly accessTokens = new Map<string, AccessGrant>();
  private readonly codes = new Map<string, AuthorizationCode>();

  constructor(
    clients: readonly SandboxClient[],
    private readonly store: SandboxStore,
    private readonly clock: Clock,
    private readonly timings: GrantTimings,
  ) {
    for (const client of clients) {
      this.clients.set(client.clientId, client);
      this.links.set(client.clientId, new Map());
      if (client.kind === 'custom') {
        // A custom connection is bound to exactly one organisation from the start.
        for (const tenantId of client.tenantIds ?? []) this.connect(client.clientId, tenantId, randomUUID());
      }
    }
  }

  client(clientId: string): SandboxClient | undefined {
    return this.clients.get(clientId);
  }

  /** Constant-time secret check; unknown client and wrong secret are the same `invalid_client`. */
  authenticate(clientId: string, clientSecret: string): SandboxClient {
    const client = this.clients.get(clientId);
    const expected = Buffer.from(client?.clientSecret ?? '\0');
    const given = Buffer.from(clientSecret);
    if (!client || expected.length !== given.length || !timingSafeEqual(expected, given)) throw new OAuthError('invalid_client');
    return client;
  }

  /** A web app may redirect to its registered URIs, and to any loopback http URI (RFC 8252 §7.3). */
  redirectAllowed(client: SandboxClient, redirectUri: string): boolean {
    if (client.kind !== 'web') return false;
    if ((client.redirectUris ?? ['https://localhost:8080']).includes(redirectUri)) return true;
    try {
      const url = new URL(redirectUri);
      return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
    } catch {
      return false;
    }
  }

  // ---- connections -------------------------------------------------------------------------------------------

  connections(clientId: string): Connection[] {
    return [...(this.links.get(clientId)?.values() ?? [])];
  }

  isConnected(clientId: string, tenantId: string): boolean {
    return this.links.get(clientId)?.has(tenantId.toLowerCase()) ?? false;
  }

  /** Connecting again keeps the connection id and moves its auth event, as re-consenting does at Xero. */
  connect(clientId: string, tenantId: string, authEventId: string): Connection {
    const org = this.store.get(tenantId);
    const links = this.links.get(clientId);
    if (!links) throw new OAuthError('invalid_client');
    const now = this.clock.now();
    const existing = links.get(org.organisationId.toLowerCase());
    if (existing) {
      existing.authEventId = authEventId;
      existing.updatedAt = now;
      return { ...existing };
    }
    const connection: Connection = { id: randomUUID(), authEventId, tenantId: org.organisationId, createdAt: now, updatedAt: now };
    links.set(org.organisationId.toLowerCase(), connection);
    return { ...connection };
  }

  disconnect(clientId: string, tenantId: string): boolean {
    return this.links.get(clientId)?.delete(tenantId.toLowerCase()) ?? false;
  }

  deleteConnection(clientId: string, connectionId: string): boolean {
    const links = this.links.get(clientId);
    for (const [tenant, connection] of links ?? []) {
      if (connection.id.toLowerCase() === connectionId.toLowerCase()) return links!.delete(tenant);
    }
    return false;
  }

  // ---- grants ------------------------------------------------------------------------------------------------

  /** Scopes asked for must all be known, else `invalid_scope` (RFC 6749 §5.2). */
  checkScopes(scopes: readonly string[]): void {
    if (scopes.some((scope) => !KNOWN_SCOPES.has(scope))) throw new OAuthError('invalid_scope');
  }

  /** Consent given: connect the chosen organisations and remember a single-use code. */
  issueCode(input: { client: SandboxClient; redirectUri: string; scopes: string[]; tenantIds: string[]; codeChallenge?: string; nonce?: string }): string {
    const authEventId = randomUUID();
    for (const tenantId of input.tenantIds) this.connect(input.client.clientId, tenantId, authEventId);
    const code = opaqueToken();
    this.codes.set(code, {
      clientId: input.client.clientId,
      redirectUri: input.redirectUri,
      scopes: input.scopes,
      authEventId,
      codeChallenge: input.codeChallenge,
      nonce: input.nonce,
      expiresAt: this.clock.now() + CODE_TTL_MS,
      used: false,
    });
    return code;
  }

  /** RFC 6749 §4.1.3 plus RFC 7636 §4.6 (S256: BASE64URL(SHA256(code_verifier)) == code_challenge). */
  exchangeCode(
    client: SandboxClient,
    input: { code: string; redirectUri: string; codeVerifier?: string; publicClient: boolean },
    issuer: string,
  ): TokenSet {
    const code = this.codes.get(input.code);
    if (!code || code.used || code.expiresAt <= this.clock.now() || code.clientId !== client.clientId) throw new OAuthError('invalid_grant');
    if (code.redirectUri !== input.redirectUri) throw new OAuthError('invalid_grant');
    if (input.publicClient && !code.codeChallenge) throw new OAuthError('invalid_client');
    if (code.codeChallenge !== undefined) {
      if (!input.codeVerifier) throw new OAuthError('invalid_grant');
      const computed = createHash('sha256').update(input.codeVerifier).digest('base64url');
      if (computed !== code.codeChallenge) throw new OAuthError('invalid_grant');
    }
    code.used = true;
    const grant: Grant = {
      id: randomUUID(),
      clientId: client.clientId,
      scopes: code.scopes,
      authEventId: code.authEventId,
      publicClient: input.publicClient,
      nonce: code.nonce,
      revoked: false,
      current: '',
    };
    this.grants.set(grant.id, grant);
    return this.tokenSet(client, grant, issuer);
  }

  /** Rotates: a new refresh token every time; the used one stays valid for the grace period, then `invalid_grant`. */
  refresh(client: SandboxClient, refreshToken: string, publicClient: boolean, issuer: string): TokenSet {
    const record = this.refreshTokens.get(refreshToken);
    const grant = record && this.grants.get(record.grantId);
    if (!record || !grant || grant.revoked || grant.clientId !== client.clientId) throw new OAuthError('invalid_grant');
    if (publicClient && !grant.publicClient) throw new OAuthError('invalid_client');
    const now = this.clock.now();
    if (record.supersededAt !== undefined && now >= record.supersededAt + this.timings.refreshGraceSeconds * 1000) {
      throw new OAuthError('invalid_grant');
    }
    if (now >= record.issuedAt + this.timings.refreshTokenTtlSeconds * 1000) throw new OAuthError('invalid_grant');
    const current = this.refreshTokens.get(grant.current);
    if (current && current.supersededAt === undefined) current.supersededAt = now;
    return this.tokenSet(client, grant, issuer);
  }

  clientCredentials(client: SandboxClient, scopes: string[]): TokenSet {
    if (client.kind !== 'custom') throw new OAuthError('unauthorized_client');
    this.checkScopes(scopes);
    if (scopes.some((scope) => !CUSTOM_CONNECTION_SCOPES.includes(scope))) throw new OAuthError('invalid_scope');
    const granted = scopes.length > 0 ? scopes : [...CUSTOM_CONNECTION_SCOPES];
    const access = this.issueAccessToken({ clientId: client.clientId, scopes: granted });
    return { access_token: access, expires_in: this.timings.accessTokenTtlSeconds, token_type: 'Bearer', scope: granted.join(' ') };
  }

  /** RFC 7009: revoking a refresh token ends its whole chain, its access tokens and the connections it made. */
  revoke(client: SandboxClient, token: string): void {
    const record = this.refreshTokens.get(token);
    const grant = record && this.grants.get(record.grantId);
    if (!grant || grant.clientId !== client.clientId) return; // RFC 7009 §2.2: unknown tokens are not an error
    grant.revoked = true;
    for (const [tenant, connection] of this.links.get(client.clientId) ?? []) {
      if (connection.authEventId === grant.authEventId) this.links.get(client.clientId)!.delete(tenant);
    }
  }

  /** For tests that skip the consent page: a fresh refresh token for `offline_access accounting.settings.read`. */
  issueRefreshToken(clientId: string, tenantIds: readonly string[], scopes: readonly string[] = ['offline_access', 'accounting.settings.read']): string {
    const client = this.clients.get(clientId);
    if (!client || client.kind !== 'web') throw new OAuthError('invalid_client');
    const authEventId = randomUUID();
    for (const tenantId of tenantIds) this.connect(clientId, tenantId, authEventId);
    const grant: Grant = { id: randomUUID(), clientId, scopes: [...scopes], authEventId, publicClient: false, revoked: false, current: '' };
    this.grants.set(grant.id, grant);
    return this.rotate(grant);
  }

  /** Looks an access token up; `expired` tells TokenExpired from an unknown token. */
  accessGrant(token: string): { grant: AccessGrant; expired: boolean } | undefined {
    const grant = this.accessTokens.get(token);
    if (!grant) return undefined;
    if (grant.grantId !== undefined && this.grants.get(grant.grantId)?.revoked) return undefined;
    return { grant, expired: grant.expiresAt <= this.clock.now() };
  }

  private tokenSet(client: SandboxClient, grant: Grant, issuer: string): TokenSet {
    const access = this.issueAccessToken({ clientId: client.clientId, scopes: grant.scopes, grantId: grant.id });
    // Xero's member order: id_token, access_token, expires_in, token_type, refresh_token, scope.
    const set: TokenSet = {
      ...(grant.scopes.includes('openid') ? { id_token: this.idToken(client, grant, issuer) } : {}),
      access_token: access,
      expires_in: this.timings.accessTokenTtlSeconds,
      token_type: 'Bearer',
      ...(grant.scopes.includes('offline_access') ? { refresh_token: this.rotate(grant) } : {}),
      scope: grant.scopes.join(' '),
    };
    return set;
  }

  private rotate(grant: Grant): string {
    const token = opaqueToken();
    this.refreshTokens.set(token, { grantId: grant.id, issuedAt: this.clock.now() });
    grant.current = token;
    return token;
  }

  private issueAccessToken(grant: Omit<AccessGrant, 'expiresAt'>): string {
    const token = opaqueToken(48);
    this.accessTokens.set(token, { ...grant, expiresAt: this.clock.now() + this.timings.accessTokenTtlSeconds * 1000 });
    return token;
  }

  /** OpenID Connect Core §2 claims, plus Xero's own `xero_userid`, `global_session_id` and `authentication_event_id`. */
  private idToken(client: SandboxClient, grant: Grant, issuer: string): string {
    const person = this.signedInPerson();
    const now = Math.floor(this.clock.now() / 1000);
    const claims: Record<string, unknown> = {
      nbf: now,
      exp: now + 300,
      iss: issuer,
      aud: client.clientId,
      iat: now,
      auth_time: now,
      sub: person.sub,
      xero_userid: person.sub,
      global_session_id: grant.id.replace(/-/g, ''),
      authentication_event_id: grant.authEventId,
      sid: grant.id.replace(/-/g, ''),
    };
    if (grant.nonce) claims.nonce = grant.nonce;
    if (grant.scopes.includes('email')) claims.email = person.email;
    if (grant.scopes.includes('profile')) {
      claims.given_name = person.givenName;
      claims.family_name = person.familyName;
      claims.preferred_username = person.email;
    }
    return signJwt(claims);
  }

  /** Who "signs in" at the consent page: the subscriber of the first organisation. */
  private signedInPerson(): { sub: string; email: string; givenName: string; familyName: string } {
    const first = this.store.organisations()[0];
    const user = first?.users.find((u) => u.isSubscriber) ?? first?.users[0];
    const email = user?.email ?? 'sandbox.user@example.com';
    return {
      sub: uuidV5(`person/${email.toLowerCase()}`),
      email,
      givenName: user?.firstName ?? 'Sandbox',
      familyName: user?.lastName ?? 'User',
    };
  }
}
