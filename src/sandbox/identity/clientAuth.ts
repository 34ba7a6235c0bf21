import type { Request } from 'express';
import type { SandboxClient } from '../options';
import { OAuthError, type Grants } from './grants';

export interface AuthenticatedClient {
  client: SandboxClient;
  /** RFC 7636 public client: identified by `client_id` alone, proven by PKCE instead of a secret. */
  publicClient: boolean;
}

/**
 * RFC 6749 §2.3.1: HTTP Basic (`client_id:client_secret`, each form-urlencoded first) or both in the body.
 * A web client may send `client_id` alone when `allowPublic` (the PKCE flow Xero offers to apps without a secret).
 */
export function authenticateClient(grants: Grants, req: Request, body: Record<string, unknown>, allowPublic: boolean): AuthenticatedClient {
  const header = req.get('authorization');
  if (header !== undefined) {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
    const decoded = match?.[1] === undefined ? '' : Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client');
    try {
      const id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      const secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      return { client: grants.authenticate(id, secret), publicClient: false };
    } catch (error) {
      if (error instanceof URIError) throw new OAuthError('invalid_client');
      throw error;
    }
  }
  const id = body.client_id;
  const secret = body.client_secret;
  if (typeof id !== 'string') throw new OAuthError('invalid_client');
  if (typeof secret === 'string') return { client: grants.authenticate(id, secret), publicClient: false };
  const client = grants.client(id);
  if (!allowPublic || !client || client.kind !== 'web') throw new OAuthError('invalid_client');
  return { client, publicClient: true };
}

/** The site a request reached, used as OIDC issuer so discovery and tokens agree wherever the sandbox listens. */
export function issuerOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`;
}
