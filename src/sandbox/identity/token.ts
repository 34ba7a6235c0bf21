import express, { Router } from 'express';
import { delay, type SandboxContext } from '../context';
import { sendFault } from '../errors';
import { authenticateClient, issuerOf } from './clientAuth';
import { OAuthError, type TokenSet } from './grants';
import { parseScopes } from './scopes';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `POST /connect/token` (RFC 6749 §4.1.3, §4.4, §6) and `POST /connect/revocation` (RFC 7009). */
export function tokenRouter(ctx: SandboxContext): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb' });

  router.post('/connect/token', form, async (req, res) => {
    ctx.counters.call('POST /connect/token');
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const body = (req.body ?? {}) as Record<string, unknown>;
    const grantType = text(body.grant_type) ?? '';
    const fault = ctx.faults.take('token', undefined);
    if (fault) {
      ctx.counters.tokenCall(grantType, false);
      sendFault(res, fault, ctx.counters, ctx.held);
      return;
    }
    await delay(ctx.faults.delayMs());
    try {
      const issuer = issuerOf(req);
      let set: TokenSet;
      if (grantType === 'client_credentials') {
        const { client } = authenticateClient(ctx.grants, req, body, false);
        // Xero's docs write `scope`; some clients send `scopes`. Accept either.
        set = ctx.grants.clientCredentials(client, parseScopes(body.scope ?? body.scopes));
      } else if (grantType === 'authorization_code') {
        const { client, publicClient } = authenticateClient(ctx.grants, req, body, true);
        const code = text(body.code);
        const redirectUri = text(body.redirect_uri);
        if (!code || !redirectUri) throw new OAuthError('invalid_request');
        set = ctx.grants.exchangeCode(client, { code, redirectUri, codeVerifier: text(body.code_verifier), publicClient }, issuer);
      } else if (grantType === 'refresh_token') {
        const { client, publicClient } = authenticateClient(ctx.grants, req, body, true);
        const refreshToken = text(body.refresh_token);
        if (!refreshToken) throw new OAuthError('invalid_request');
        set = ctx.grants.refresh(client, refreshToken, publicClient, issuer);
        const lost = ctx.faults.take('token', undefined, 'after-rotation');
        if (lost) {
          ctx.counters.tokenCall(grantType, true);
          sendFault(res, lost, ctx.counters, ctx.held);
          return;
        }
      } else {
        throw new OAuthError(grantType === '' ? 'invalid_request' : 'unsupported_grant_type');
      }
      ctx.counters.tokenCall(grantType, true);
      res.json(set);
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      ctx.counters.tokenCall(grantType, false);
      res.status(400).json({ error: error.error });
    }
  });

  router.post('/connect/revocation', form, (req, res) => {
    ctx.counters.call('POST /connect/revocation');
    const body = (req.body ?? {}) as Record<string, unknown>;
    try {
      const { client } = authenticateClient(ctx.grants, req, body, true);
      const token = text(body.token);
      if (!token) throw new OAuthError('invalid_request');
      ctx.grants.revoke(client, token);
      res.status(200).end();
    } catch (error) {
      if (!(error instanceof OAuthError)) throw error;
      res.status(400).json({ error: error.error });
    }
  });
  return router;
}
