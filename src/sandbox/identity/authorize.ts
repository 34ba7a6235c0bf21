import express, { Router, type Response } from 'express';
import type { SandboxContext } from '../context';
import type { SandboxClient } from '../options';
import { escapeXml as escapeHtml } from '../wire';
import { OAuthError } from './grants';
import { parseScopes } from './scopes';

interface AuthorizeRequest {
  client: SandboxClient;
  redirectUri: string;
  scopes: string[];
  state?: string;
  codeChallenge?: string;
  nonce?: string;
}

type Params = Record<string, unknown>;
const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * `GET /identity/connect/authorize` shows a consent page (RFC 6749 §4.1.1); its form posts back here and the
 * browser is redirected to `redirect_uri?code=…&scope=…&state=…` (§4.1.2), or `?error=access_denied` (§4.1.2.1).
 */
export function authorizeRouter(ctx: SandboxContext): Router {
  const router = Router();

  router.get('/identity/connect/authorize', (req, res) => {
    ctx.counters.call('GET /identity/connect/authorize');
    const request = validate(ctx, req.query as Params, res);
    if (!request) return;
    if (ctx.autoApprove) {
      const tenantIds = ctx.store.organisations().map((org) => org.organisationId);
      approve(ctx, res, request, tenantIds);
      return;
    }
    res.status(200).type('html').send(consentPage(ctx, req.query as Params, request));
  });

  router.post('/identity/connect/authorize', express.urlencoded({ extended: false, limit: '1mb' }), (req, res) => {
    ctx.counters.call('POST /identity/connect/authorize');
    const body = (req.body ?? {}) as Params;
    const request = validate(ctx, body, res);
    if (!request) return;
    if (body.decision !== 'allow') {
      redirect(res, request, { error: 'access_denied' });
      return;
    }
    const chosen = ([] as unknown[]).concat(body.tenant ?? []).filter((t): t is string => typeof t === 'string');
    if (chosen.length === 0 || chosen.some((id) => !ctx.store.find(id))) {
      res.status(400).type('html').send(consentPage(ctx, body, request, 'Choose at least one organisation to connect.'));
      return;
    }
    approve(ctx, res, request, chosen);
  });
  return router;
}

/** Errors about the client or redirect URI are shown, never redirected (RFC 6749 §4.1.2.1); the rest go back to the app. */
function validate(ctx: SandboxContext, params: Params, res: Response): AuthorizeRequest | undefined {
  const clientId = text(params.client_id);
  const redirectUri = text(params.redirect_uri);
  const client = clientId === undefined ? undefined : ctx.grants.client(clientId);
  if (!client || redirectUri === undefined || !ctx.grants.redirectAllowed(client, redirectUri)) {
    res.status(400).type('html').send(page('Unauthorized client', '<p>Unknown client_id, or a redirect_uri this app has not registered.</p>'));
    return undefined;
  }
  const scopes = parseScopes(params.scope);
  const request: AuthorizeRequest = {
    client,
    redirectUri,
    scopes,
    state: text(params.state),
    codeChallenge: text(params.code_challenge),
    nonce: text(params.nonce),
  };
  if (params.response_type !== 'code') return redirect(res, request, { error: 'unsupported_response_type' });
  try {
    if (scopes.length === 0) throw new OAuthError('invalid_scope');
    ctx.grants.checkScopes(scopes);
  } catch {
    return redirect(res, request, { error: 'invalid_scope' });
  }
  // RFC 7636 §4.3: Xero supports S256 only.
  if (request.codeChallenge !== undefined && params.code_challenge_method !== 'S256') return redirect(res, request, { error: 'invalid_request' });
  return request;
}

function approve(ctx: SandboxContext, res: Response, request: AuthorizeRequest, tenantIds: string[]): void {
  const code = ctx.grants.issueCode({
    client: request.client,
    redirectUri: request.redirectUri,
    scopes: request.scopes,
    tenantIds,
    codeChallenge: request.codeChallenge,
    nonce: request.nonce,
  });
  redirect(res, request, { code, scope: request.scopes.join(' ') });
}

function redirect(res: Response, request: AuthorizeRequest, params: Record<string, string>): undefined {
  const url = new URL(request.redirectUri);
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
  if (request.state !== undefined) url.searchParams.set('state', request.state);
  res.redirect(302, url.toString());
  return undefined;
}

function consentPage(ctx: SandboxContext, params: Params, request: AuthorizeRequest, message?: string): string {
  const hidden = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce']
    .filter((name) => typeof params[name] === 'string')
    .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(String(params[name]))}">`)
    .join('\n');
  const organisations = ctx.store
    .organisations()
    .map(
      (org) =>
        `<li><label><input type="checkbox" name="tenant" value="${escapeHtml(org.organisationId)}"> ${escapeHtml(org.name)} <small>(${escapeHtml(org.organisationType)}, ${escapeHtml(org.countryCode)})</small></label></li>`,
    )
    .join('\n');
  return page(
    'Allow access',
    `<p><strong>${escapeHtml(request.client.appName ?? request.client.clientId)}</strong> wants to access: ${escapeHtml(request.scopes.join(', '))}</p>
${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="authorize">
${hidden}
<fieldset><legend>Organisations</legend><ul>
${organisations}
</ul></fieldset>
<button type="submit" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="deny">Cancel</button>
</form>`,
  );
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)} · Xero sandbox</title></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>`;
}

