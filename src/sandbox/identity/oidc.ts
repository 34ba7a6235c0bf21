import { Router } from 'express';
import type { SandboxContext } from '../context';
import { issuerOf } from './clientAuth';
import { jwks } from './keys';
import { KNOWN_SCOPES } from './scopes';

/** OpenID Connect Discovery 1.0 §4 and the key set, as Xero serves them at identity.xero.com. */
export function oidcRouter(ctx: SandboxContext): Router {
  const router = Router();
  router.get('/.well-known/openid-configuration', (req, res) => {
    ctx.counters.call('GET /.well-known/openid-configuration');
    const issuer = issuerOf(req);
    res.json({
      issuer,
      jwks_uri: `${issuer}/.well-known/openid-configuration/jwks`,
      authorization_endpoint: `${issuer}/identity/connect/authorize`,
      token_endpoint: `${issuer}/connect/token`,
      revocation_endpoint: `${issuer}/connect/revocation`,
      scopes_supported: [...KNOWN_SCOPES],
      claims_supported: ['sub', 'xero_userid', 'global_session_id', 'authentication_event_id', 'email', 'given_name', 'family_name', 'preferred_username'],
      grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
      response_types_supported: ['code'],
      response_modes_supported: ['query'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      code_challenge_methods_supported: ['S256'],
    });
  });
  router.get('/.well-known/openid-configuration/jwks', (_req, res) => {
    ctx.counters.call('GET /.well-known/openid-configuration/jwks');
    res.json(jwks());
  });
  return router;
}
