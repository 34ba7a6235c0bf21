/**
 * `xero-scim auth`: the authorization-code consent flow (RFC 6749 §4.1 with PKCE, RFC 7636) for a Xero web app.
 * It listens on the app's registered redirect URI (a self-signed certificate is made on the spot for https),
 * prints the consent URL, exchanges the code, stores the refresh token in STATE_DIR, or with REDIS_URL in the chain
 * every replica shares (and prints it for a Kubernetes Secret if asked), and lists the organisations the consent
 * connected.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { generate } from 'selfsigned';
import type { Config } from '../config';
import { ConfigError } from '../config';
import { escapeHtml } from '../ops/html';
import { type Connection, IdentityClient, createPkcePair } from '../xero/identity';
import type { RedisConnection } from '../redis/connection';
import { RedisTokenStore } from '../redis/token-store';
import { FileTokenStore, fingerprint } from '../xero/tokens';
import { connectRedisFor } from './redis';
import { setDocumentHeaders, setSecurityHeaders } from '../http/security-headers';

export interface AuthOptions {
  /** Print the refresh token instead of (as well as) storing it, for a Kubernetes Secret. */
  printRefreshToken?: boolean;
  /** Give up waiting for the consent after this long. */
  timeoutSeconds?: number;
  /** Called with the consent URL once the listener is up (tests open it in a browser). */
  onConsentUrl?: (url: string) => void;
  out?: (line: string) => void;
  fetch?: typeof fetch;
}

export interface AuthResult {
  connections: Connection[];
  refreshToken: string;
  /** Where the refresh token was stored: the token file, or Redis's endpoint and key. */
  stored?: string;
}

const WEB_APP_SCOPES = 'offline_access accounting.settings.read';

export async function runAuth(config: Config, options: AuthOptions = {}): Promise<AuthResult> {
  if (!config.xeroClientId) throw new ConfigError('XERO_CLIENT_ID', 'is required: the client ID of your Xero web app');
  if (!config.xeroClientSecret) throw new ConfigError('XERO_CLIENT_SECRET', 'is required: the client secret of your Xero web app');
  const scope = config.xeroScopes ?? WEB_APP_SCOPES;
  if (!scope.split(/\s+/).includes('offline_access')) {
    throw new ConfigError('XERO_SCOPES', 'must include offline_access, or Xero gives no refresh token');
  }

  const identity = new IdentityClient(
    {
      identityUrl: config.xeroIdentityUrl,
      apiUrl: config.xeroApiUrl,
      loginUrl: config.xeroLoginUrl,
      clientId: config.xeroClientId,
      clientSecret: config.xeroClientSecret,
      timeoutMs: config.xeroTimeoutMs,
    },
    options.fetch ? { fetch: options.fetch } : {},
  );
  // Reach Redis before the consent, not after: a consent whose token cannot be stored is wasted.
  const redis = await connectRedisFor(config);
  try {
    return await consent(config, options, identity, scope, redis);
  } finally {
    await redis?.close();
  }
}

async function consent(config: Config, options: AuthOptions, identity: IdentityClient, scope: string, redis: RedisConnection | undefined): Promise<AuthResult> {
  const out = options.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const redirect = new URL(config.xeroRedirectUri);
  const pkce = createPkcePair();
  const state = randomBytes(16).toString('base64url');
  const consentUrl = identity.authorizationUrl({ redirectUri: config.xeroRedirectUri, scope, state, codeChallenge: pkce.challenge });

  let settle!: { resolve: (r: AuthResult) => void; reject: (e: Error) => void };
  const done = new Promise<AuthResult>((resolve, reject) => (settle = { resolve, reject }));

  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', config.xeroRedirectUri);
    if (req.method !== 'GET' || url.pathname !== redirect.pathname) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not the consent callback.\n');
      return;
    }
    const page = (status: number, title: string, body: string) => {
      // An HTML page in the browser that gave consent: the server's security headers, a document's too, and a policy
      // that lets the page load nothing at all.
      setSecurityHeaders(res);
      setDocumentHeaders(res);
      res
        .writeHead(status, {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
          'cache-control': 'no-store',
        })
        .end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1>${body}</html>`);
    };
    // RFC 6749 §10.12: a callback whose state is not ours is somebody else's request; ignore it.
    if (url.searchParams.get('state') !== state) {
      page(400, 'Unexpected callback', '<p>The state does not match this consent. Start again with <code>xero-scim auth</code>.</p>');
      return;
    }
    const error = url.searchParams.get('error');
    const code = url.searchParams.get('code');
    if (error || !code) {
      page(400, 'Consent was not given', `<p>Xero answered: ${escapeHtml(error ?? 'no code')}.</p>`);
      settle.reject(new Error(`Xero did not grant consent (${error ?? 'no code in the callback'})`));
      return;
    }
    complete(code).then(
      (result) => {
        const list = result.connections.map((c) => `<li>${escapeHtml(c.tenantName)} <small>(${escapeHtml(c.tenantId)})</small></li>`).join('');
        page(200, 'xero-scim is connected to Xero', `<p>Organisations connected:</p><ul>${list}</ul><p>You can close this window.</p>`);
        settle.resolve(result);
      },
      (err: Error) => {
        page(502, 'Could not finish the consent', `<p>${escapeHtml(err.message)}</p>`);
        settle.reject(err);
      },
    );
  };

  async function complete(code: string): Promise<AuthResult> {
    const tokens = await identity.token({ type: 'authorization_code', code, redirectUri: config.xeroRedirectUri, codeVerifier: pkce.verifier });
    if (!tokens.refreshToken) throw new Error('Xero returned no refresh token: the app must request offline_access');
    const result: AuthResult = { connections: (await identity.connections(tokens.accessToken)).connections, refreshToken: tokens.refreshToken };
    const store = redis ? new RedisTokenStore(redis, { replicaId: 'xero-scim-auth' }) : new FileTokenStore(config.stateDir);
    await store.save({
      clientId: config.xeroClientId!,
      refreshToken: tokens.refreshToken,
      receivedAt: new Date().toISOString(),
      accessToken: tokens.accessToken,
      accessTokenExpiresAt: new Date(tokens.expiresAt).toISOString(),
      lineage: [fingerprint(tokens.refreshToken)],
    });
    return { ...result, stored: store instanceof RedisTokenStore ? `Redis at ${store.location}` : store.file };
  }

  const server = await listen(redirect, handler);
  const timer = setTimeout(
    () => settle.reject(new Error(`no consent within ${options.timeoutSeconds ?? 600} s; run \`xero-scim auth\` again`)),
    (options.timeoutSeconds ?? 600) * 1000,
  );
  try {
    out(`Listening for Xero's callback on ${config.xeroRedirectUri}${redirect.protocol === 'https:' ? ' (self-signed certificate: accept the browser warning)' : ''}.`);
    out('Open this URL, sign in to Xero, choose the organisations and allow access:');
    out('');
    out(`  ${consentUrl}`);
    out('');
    options.onConsentUrl?.(consentUrl);
    const result = await done;
    out(`Connected ${result.connections.length} organisation(s):`);
    for (const c of result.connections) out(`  ${c.tenantName}  ${c.tenantId}`);
    out(
      redis
        ? `Refresh token stored in ${result.stored}; every replica sharing this Redis uses it (it rotates on every use; keep Redis's append-only file on).`
        : `Refresh token stored in ${result.stored} (it rotates on every use; keep STATE_DIR on a volume).`,
    );
    if (options.printRefreshToken) {
      out('For a Kubernetes Secret, the first refresh token (valid 60 days until first used):');
      out(`  XERO_REFRESH_TOKEN=${result.refreshToken}`);
    }
    return result;
  } finally {
    clearTimeout(timer);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function listen(redirect: URL, handler: http.RequestListener): Promise<http.Server> {
  const port = Number(redirect.port || (redirect.protocol === 'https:' ? 443 : 80));
  const host = ['localhost', '127.0.0.1', '[::1]'].includes(redirect.hostname) ? '127.0.0.1' : redirect.hostname;
  let server: http.Server;
  if (redirect.protocol === 'https:') {
    const pems = await generate([{ name: 'commonName', value: redirect.hostname }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    server = https.createServer({ key: pems.private, cert: pems.cert }, handler);
  } else {
    server = http.createServer(handler);
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `port ${port} is in use: stop what listens there, or register another redirect URI and set XERO_REDIRECT_URI`
            : `cannot listen on ${redirect.host}: ${err.message}`,
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

