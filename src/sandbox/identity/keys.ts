import { createHash, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';

/** One RSA key per process, made on first use: key generation costs tens of milliseconds and tests make many sandboxes. */
let signingKey: { privateKey: KeyObject; jwk: JsonWebKey & { kid: string } } | undefined;

function key(): NonNullable<typeof signingKey> {
  if (!signingKey) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const exported = publicKey.export({ format: 'jwk' });
    // RFC 7638 JWK thumbprint as the key id.
    const kid = createHash('sha256')
      .update(JSON.stringify({ e: exported.e, kty: exported.kty, n: exported.n }))
      .digest('base64url');
    signingKey = { privateKey, jwk: { ...exported, kid } };
  }
  return signingKey;
}

/** RFC 7517 key set as served at `/.well-known/openid-configuration/jwks`. */
export function jwks(): { keys: Array<JsonWebKey & { kid: string; use: string; alg: string }> } {
  const { jwk } = key();
  return { keys: [{ kty: jwk.kty, use: 'sig', alg: 'RS256', kid: jwk.kid, e: jwk.e, n: jwk.n }] };
}

/** RFC 7515 compact JWS with RS256 (RFC 7518 §3.3). */
export function signJwt(payload: Record<string, unknown>): string {
  const { privateKey, jwk } = key();
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), privateKey).toString('base64url');
  return `${header}.${body}.${signature}`;
}
