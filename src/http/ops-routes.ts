/**
 * Operator routes: liveness, readiness, Prometheus metrics and the status page (what they show is built in src/ops/).
 * Probes and metrics are unauthenticated (kubelet and Prometheus carry no token) and reveal no personal data;
 * the status page needs a SCIM token (Bearer, or Basic with the token as password so a browser can open it).
 */
import { randomBytes } from 'node:crypto';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type { Directory } from '../directory/model';
import type { ReplicationStatus } from '../directory/replication';
import type { Metrics } from '../ops/metrics';
import { renderStatusPage } from '../ops/status-page';
import type { SyncHistory } from '../ops/sync-history';
import { ScimError } from '../scim/errors';
import { throttleFailedAuth } from './throttle';
import { setDocumentHeaders } from './security-headers';

export interface OpsOptions {
  directory: Directory;
  metrics: Metrics;
  /** True when the request carries a valid SCIM token (Bearer, or Basic with the token as password). */
  isAuthorized: (req: Request) => boolean;
  statusPagePublic?: boolean;
  clock?: { now(): number };
  version: string;
  /** The last day of syncs, drawn as charts on the status page. */
  history?: Pick<SyncHistory, 'recent' | 'windowMs'>;
}

const STATUS_CSP = (nonce: string) =>
  `default-src 'none'; style-src 'nonce-${nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** `/readyz`'s view of the replicas: absent values as null, so a reader sees every field. */
function replicationBody(r: ReplicationStatus) {
  return {
    replicaId: r.replicaId,
    role: r.role,
    leader: r.leader ?? null,
    store: r.store,
    sequence: r.sequence ?? null,
    replicas: r.replicas.map((x) => ({ replicaId: x.replicaId, role: x.role, version: x.version ?? null, seenAt: x.seenAt })),
  };
}

export function createOpsRouter(options: OpsOptions): Router {
  const { directory, metrics } = options;
  const now = () => options.clock?.now() ?? Date.now();
  const router = Router();

  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });

  router.get('/readyz', (_req, res) => {
    const status = directory.status();
    const body = {
      status: status.ready ? 'ready' : 'not ready',
      ...(status.reason ? { reason: status.reason } : {}),
      lastSyncAt: status.lastSyncAt ?? null,
      lastSyncOutcome: status.lastSyncOutcome ?? null,
      ...(status.lastSyncError ? { lastSyncError: status.lastSyncError } : {}),
      ...(status.lastSuccessfulSyncAt ? { lastSuccessfulSyncAt: status.lastSuccessfulSyncAt } : {}),
      // Health beside readiness: a pod holding a snapshot stays in the Service whatever Xero says of its credentials.
      ...(status.credentials ? { credentials: status.credentials } : {}),
      ...(status.persistence ? { persistence: status.persistence } : {}),
      // As one of several replicas: which one leads, and whether the shared store answers (serving goes on without it).
      ...(status.replication ? { replication: replicationBody(status.replication) } : {}),
      tenants: status.tenants.map((t) => ({
        id: t.organisationId,
        name: t.name ?? null,
        state: t.state,
        lastSuccessAt: t.lastSuccessAt ?? null,
        ageSeconds: t.lastSuccessAt ? Math.max(0, Math.round((now() - Date.parse(t.lastSuccessAt)) / 1000)) : null,
        callsLastSync: t.callsLastSync ?? null,
        ...(t.rateBudget ? { rateBudget: t.rateBudget } : {}),
        ...(t.lastError ? { lastError: t.lastError } : {}),
        // Held back by the removal guard: what Xero asked for, since when, and what would let it through.
        ...(t.suspicion ? { suspicion: { ...t.suspicion, ageSeconds: Math.max(0, Math.round((now() - Date.parse(t.suspicion.since)) / 1000)) } } : {}),
      })),
    };
    res.status(status.ready ? 200 : 503).set('Cache-Control', 'no-store').json(body);
  });

  router.get('/metrics', async (_req, res, next) => {
    try {
      res.set('Content-Type', metrics.contentType).set('Cache-Control', 'no-store').send(await metrics.render());
    } catch (err) {
      next(err);
    }
  });

  // The page's login is throttled like SCIM's: a browser prompt must not become a way to guess tokens.
  const requireLogin: RequestHandler = (req, _res, next) =>
    options.isAuthorized(req)
      ? next()
      : next(
          new ScimError(401, 'Authentication required: open with a SCIM bearer token as the password (any user name).', undefined, {
            'WWW-Authenticate': 'Basic realm="xero-scim status (any user name, a SCIM token as password)", charset="UTF-8"',
          }),
        );
  const login: RequestHandler[] = options.statusPagePublic ? [] : [throttleFailedAuth(requireLogin, { clock: options.clock })];

  router.get('/', ...login, (req: Request, res: Response) => {
    const nonce = randomBytes(16).toString('base64');
    const html = renderStatusPage({
      status: directory.status(),
      snapshot: directory.current(),
      now: now(),
      nonce,
      refreshSeconds: 30,
      version: options.version,
      ...(options.history ? { history: { points: options.history.recent(now()), windowMs: options.history.windowMs } } : {}),
    });
    setDocumentHeaders(res);
    res.set('Content-Security-Policy', STATUS_CSP(nonce)).set('Cache-Control', 'no-store').type('html').send(html);
  });

  return router;
}
